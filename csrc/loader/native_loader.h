/*
 * native_loader.h -- loading native plugins (manifests, dlopen, entry) into
 * an activation that registers their kinds.
 *
 * Ownership: an activation owns one reference to each instance; closing it
 * deregisters the kinds (newest first) and drops those references.  Clear the
 * plugin configuration first: its registrations keep the libraries loaded
 * until then anyway (each holds an instance reference).
 */
#ifndef NR_NATIVE_LOADER_H
#define NR_NATIVE_LOADER_H

#include "nr_error.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct nr_native_spec {
    const char *plugin_id;       /* expected id (= the kind the plugin reports) */
    const char *manifest_path;   /* canonical manifest path (see nr_manifest_resolve) */
    const char *manifest_json;   /* the manifest as JSON text (TOML parsed by the
                                  * binding), or NULL to read manifest_path as JSON */
    size_t manifest_json_len;
    bool trust_writable;         /* allow a group/other-writable library or directory */
} nr_native_spec;

typedef struct nr_native_activation nr_native_activation;

/* Loads every spec in order; on the first failure everything loaded so far is
 * undone and err names the plugin, the manifest and the failed check. */
NemoRelayStatus nr_native_load(const nr_native_spec *specs, size_t n, nr_native_activation **out,
                               nr_error *err);

size_t nr_native_activation_count(const nr_native_activation *a);
const char *nr_native_activation_kind(const nr_native_activation *a, size_t i);
const char *nr_native_activation_library(const nr_native_activation *a, size_t i);
bool nr_native_activation_allows_multiple(const nr_native_activation *a, size_t i);

/* Deregisters the kinds and releases the instances; frees a.  NULL-safe. */
void nr_native_activation_close(nr_native_activation *a);

#endif /* NR_NATIVE_LOADER_H */
