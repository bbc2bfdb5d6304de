/*
 * manifest_keys.h -- every table and key name of a manifest checked against
 * the schema NeMo Relay's manifest accepts (manifest_version 1).
 *
 * NeMo Relay ignores names it does not know.  Ignoring them silently is how a
 * typo switches a check off ([integrty] leaves the library's digest
 * unchecked), so here:
 *   - a name close to a known one (edit distance, or a different case) is an
 *     error that says "did you mean ...";
 *   - an integrity key (sha256, signature) outside [integrity] is an error;
 *   - any other unknown name is kept as a warning ("unknown table [x] is
 *     ignored"), so a manifest written for NeMo Relay keeps loading.
 */
#ifndef NR_MANIFEST_KEYS_H
#define NR_MANIFEST_KEYS_H

#include "nr_error.h"

#include <stddef.h>

#include <cjson/cJSON.h>

/* A growable list of owned strings. */
typedef struct nr_mf_warnings {
    char **items;
    size_t count;
} nr_mf_warnings;

/* Frees every string and the array; leaves w empty (NULL-safe). */
void nr_mf_warnings_clear(nr_mf_warnings *w);

/* Checks the names of root (borrowed, a JSON object) and of its known tables.
 * On a near miss: sets err (NR_E_INVALID_CONFIG, message without the
 * "invalid relay-plugin.toml: " prefix, which the caller adds) and returns
 * its status.  Unknown names are appended to *warnings (owned by the
 * caller). */
NemoRelayStatus nr_mf_check_names(const cJSON *root, nr_mf_warnings *warnings, nr_error *err);

/* Optimal-string-alignment distance between a and b, comparing ASCII letters
 * case-insensitively (exposed for the tests). */
size_t nr_mf_name_distance(const char *a, const char *b);

#endif /* NR_MANIFEST_KEYS_H */
