/*
 * manifest.h -- the native-plugin manifest (relay-plugin.toml / .json,
 * manifest_version 1) and the loader checks that run before dlopen.
 *
 * Steps are those of reference/native-abi-v1.md §2.3:
 *   1-3  nr_manifest_resolve      directory -> file, existence, realpath
 *   4    nr_manifest_read_file    read the (bounded, regular) file
 *   5-6  nr_manifest_parse_json   structural decode + manifest validation
 *   7-15 nr_manifest_check        id, kind, compat.relay, native_api, library
 *                                 path, existence, sha256, permissions, symbol
 * TOML is parsed by Python (tomllib) and handed over as JSON text, so the C
 * side only ever sees JSON.  `plugin.kind = "native"` behaves exactly like
 * "rust_dynamic".
 *
 * Every failure sets err->reason to the check name ("manifest", "id",
 * "kind", "compat.relay", "native_api", "library", "sha256", "permissions",
 * "symbol") and, where known, err->plugin_id and err->manifest.
 */
#ifndef NR_MANIFEST_H
#define NR_MANIFEST_H

#include "loader_util.h" /* nr_loader_error_annotate */
#include "manifest_keys.h"
#include "nr_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NR_MANIFEST_TOML_NAME "relay-plugin.toml"
#define NR_MANIFEST_JSON_NAME "relay-plugin.json"

/* Largest manifest file nr_manifest_read_file accepts. */
#define NR_MANIFEST_MAX_BYTES (1024 * 1024)

typedef enum nr_plugin_kind {
    NR_PLUGIN_KIND_UNSET = 0,
    NR_PLUGIN_KIND_RUST_DYNAMIC,
    NR_PLUGIN_KIND_WORKER,
    NR_PLUGIN_KIND_NATIVE
} nr_plugin_kind;

/* "rust_dynamic", "worker", "native" (static storage; "unset" otherwise). */
const char *nr_plugin_kind_name(nr_plugin_kind kind);

/* A decoded manifest.  Every char* is owned by the struct (NULL = absent);
 * release with nr_manifest_clear.  Zero-initialise before first use. */
typedef struct nr_manifest {
    uint32_t manifest_version;
    char *description;
    struct {
        char *id;              /* as written (untrimmed) */
        nr_plugin_kind kind;
        char *name;
        char *version;
    } plugin;
    struct {
        char *relay;
        char *native_api;
        char *worker_protocol;
    } compat;
    struct {
        bool enabled;          /* defaults to false when the key is absent */
    } defaults;
    struct {
        char **items;          /* owned array of owned strings */
        size_t count;
    } capabilities;
    struct {
        char *library;
        char *symbol;
        char *runtime;         /* worker only: "python", "rust" or "command" */
        char *entrypoint;      /* worker only */
    } load;
    struct {
        char *manifest_root;
        char *artifact;
    } source;
    struct {
        char *sha256;
        char *signature;
    } integrity;
    nr_mf_warnings warnings;   /* unknown tables and keys, ignored (manifest_keys.h) */
} nr_manifest;

/* Releases everything m owns and zeroes it (NULL-safe). */
void nr_manifest_clear(nr_manifest *m);

/* Steps 5-6: decodes the manifest JSON text (len bytes, need not be
 * NUL-terminated) into *out and validates it.  display_path (borrowed, may
 * be NULL) names the file in err->manifest; when it ends in ".json" decode
 * errors read "invalid relay-plugin.json: ...", otherwise
 * "invalid relay-plugin.toml: ...".  *out must be empty on entry; on success
 * the caller owns its contents (nr_manifest_clear), on failure it stays
 * empty. */
NemoRelayStatus nr_manifest_parse_json(const char *json, size_t len, const char *display_path,
                                       nr_manifest *out, nr_error *err);

/* Steps 1-3: a directory means <dir>/relay-plugin.toml, or
 * <dir>/relay-plugin.json when the .toml does not exist.  Missing ->
 * NR_E_NOT_FOUND "dynamic plugin manifest '<p>' does not exist".  On success
 * *out_canonical_path is the realpath (caller frees with free()). */
NemoRelayStatus nr_manifest_resolve(const char *manifest_ref, char **out_canonical_path,
                                    nr_error *err);

/* Step 4: reads a regular file of at most NR_MANIFEST_MAX_BYTES.  On success
 * *out_text is NUL-terminated, *out_len excludes the NUL, and the caller
 * frees *out_text with free(). */
NemoRelayStatus nr_manifest_read_file(const char *path, char **out_text, size_t *out_len,
                                      nr_error *err);

typedef struct nr_manifest_check_opts {
    const char *expected_id;  /* spec plugin id; NULL skips the id check (validate-only) */
    const char *host_version; /* the host's relay version, e.g. "0.5.0" (required) */
    bool trust_writable;      /* allow a group/other-writable library or directory */
    bool probe_library;       /* check existence, sha256 and permissions of the library */
} nr_manifest_check_opts;

/* Steps 7-15 against a parsed manifest (borrowed) whose canonical path is
 * canonical_manifest_path (borrowed).  On success *out_library_path (if
 * out_library_path is non-NULL) is the resolved library path, owned by the
 * caller (free()); on failure it is NULL. */
NemoRelayStatus nr_manifest_check(const nr_manifest *m, const char *canonical_manifest_path,
                                  const nr_manifest_check_opts *opts, char **out_library_path,
                                  nr_error *err);

#endif /* NR_MANIFEST_H */
