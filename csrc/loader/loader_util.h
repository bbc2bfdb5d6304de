/*
 * loader_util.h -- small helpers shared by the loader's files (manifest
 * checks, semver, the host table, the loader itself).
 */
#ifndef NR_LOADER_UTIL_H
#define NR_LOADER_UTIL_H

#include "nr_error.h"

#include <stddef.h>

/* Adds loader context to a set error: each non-NULL argument is copied into
 * err->reason / err->plugin_id / err->manifest, replacing what was there.
 * No-op on an empty error.  Arguments are borrowed. */
void nr_loader_error_annotate(nr_error *err, const char *reason, const char *plugin_id,
                              const char *manifest);

/* Sets err (kind + formatted message) and annotates it in one go (arguments
 * borrowed, as above).  Returns the status to propagate. */
NemoRelayStatus nr_loader_fail(nr_error *err, nr_errkind kind, const char *reason,
                               const char *plugin_id, const char *manifest, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Turns a failed loader step into the PluginLoadError the user sees
 * (kind NR_E_PLUGIN_LOAD, status kept).  A manifest failure reads
 * "invalid relay-plugin.toml: <what> (in <path>)" (or .json), naming the
 * file; other invalid-config failures need no category word (they name the
 * manifest field); the rest keep upstream's ("not found: ...",
 * "internal error: ...").  No-op on an empty or already-load error. */
void nr_loader_error_as_load_error(nr_error *err);

/* A NUL-terminated copy of the n bytes at s (which need not be terminated);
 * caller frees.  NULL on allocation failure. */
char *nr_loader_strndup(const char *s, size_t n);

/* Offset of the first invalid UTF-8 sequence in the len bytes at s, or len
 * when they are all valid.  Strict UTF-8: no overlongs, no surrogates,
 * nothing above U+10FFFF. */
size_t nr_loader_utf8_invalid_at(const unsigned char *s, size_t len);

#endif /* NR_LOADER_UTIL_H */
