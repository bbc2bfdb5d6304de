/*
 * semver.h -- semantic versions and version requirements with the rules of
 * the Rust `semver` crate (1.x), which upstream uses for `compat.relay`.
 *
 * Versions are strict `X.Y.Z[-pre][+build]` (no leading zeros, no
 * surrounding whitespace); build metadata is checked and then ignored.
 * Requirements are comma-separated comparators that must all match
 * (`>=1.2, <2`), each with an optional operator (=, >, >=, <, <=, ~, ^; none
 * means ^), partial versions (`1`, `1.2`) and wildcards (`1.*`, `1.2.x`, a
 * lone `*`).  A pre-release version only matches when some comparator names
 * the same major.minor.patch with a pre-release of its own.
 *
 * Parse failures set err (kind NR_E_INVALID_CONFIG) to the crate's message,
 * e.g. "unexpected end of input while parsing major version number".
 */
#ifndef NR_SEMVER_H
#define NR_SEMVER_H

#include "nr_error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct nr_semver {
    uint64_t major, minor, patch;
    char *pre; /* owned: pre-release text without the '-', NULL if none */
} nr_semver;

#define NR_SEMVER_INIT {0, 0, 0, NULL}

/* Parses text into *out (caller owns *out and releases it with
 * nr_semver_clear; on failure *out is left empty). */
NemoRelayStatus nr_semver_parse(const char *text, nr_semver *out, nr_error *err);

/* Releases what v owns and resets it to 0.0.0 (NULL-safe). */
void nr_semver_clear(nr_semver *v);

/* Semver precedence: <0, 0 or >0.  A version without a pre-release ranks
 * above the same version with one; build metadata never counts. */
int nr_semver_cmp(const nr_semver *a, const nr_semver *b);

typedef struct nr_semver_req nr_semver_req;

/* Parses a requirement; on success the caller owns *out (free it with
 * nr_semver_req_free); on failure *out is NULL. */
NemoRelayStatus nr_semver_req_parse(const char *text, nr_semver_req **out, nr_error *err);

/* True when v satisfies every comparator of req (and the pre-release rule). */
bool nr_semver_req_matches(const nr_semver_req *req, const nr_semver *v);

/* Frees req and everything it owns (NULL-safe). */
void nr_semver_req_free(nr_semver_req *req);

#endif /* NR_SEMVER_H */
