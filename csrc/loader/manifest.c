/* manifest.c -- relay-plugin manifest: resolve, read, decode, validate, and
 * the pre-dlopen loader checks (reference/native-abi-v1.md §2.2-§2.4). */
#define _XOPEN_SOURCE 700 /* realpath, O_CLOEXEC */

#include "manifest.h"

#include "json_nul.h"

#include "semver.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* ---- small helpers ------------------------------------------------------ */

const char *nr_plugin_kind_name(nr_plugin_kind kind)
{
    switch (kind) {
    case NR_PLUGIN_KIND_RUST_DYNAMIC: return "rust_dynamic";
    case NR_PLUGIN_KIND_WORKER: return "worker";
    case NR_PLUGIN_KIND_NATIVE: return "native";
    case NR_PLUGIN_KIND_UNSET: break;
    }
    return "unset";
}

static bool nr_mf_is_native_kind(nr_plugin_kind kind)
{
    return kind == NR_PLUGIN_KIND_RUST_DYNAMIC || kind == NR_PLUGIN_KIND_NATIVE;
}

/* Byte length of the Unicode White_Space character at s, or 0.  (Rust's
 * str::trim uses White_Space; all of them are ASCII or lead with 0xC2, 0xE1,
 * 0xE2 or 0xE3, never with a continuation byte, so byte-wise scanning of
 * valid UTF-8 is safe.) */
static size_t nr_mf_ws_len(const unsigned char *s)
{
    if (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0d))
        return 1;
    if (s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
        return 2;
    if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
        return 3;
    if (s[0] == 0xe2 && s[1] == 0x80
        && ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3;
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
        return 3;
    if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
        return 3;
    return 0;
}

/* The trimmed span of s (borrowed) as start + length. */
static void nr_mf_trim(const char *s, const char **out_start, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    while ((n = nr_mf_ws_len(p)) > 0)
        p += n;
    const unsigned char *start = p, *end = p;
    while (*p != '\0') {
        n = nr_mf_ws_len(p);
        if (n > 0) {
            p += n;
        } else {
            p++;
            end = p;
        }
    }
    *out_start = (const char *)start;
    *out_len = (size_t)(end - start);
}

static bool nr_mf_is_blank(const char *s)
{
    const char *start;
    size_t len;
    nr_mf_trim(s, &start, &len);
    return len == 0;
}

/* Trimmed copy of s (NULL reads as ""); caller frees; NULL on OOM. */
static char *nr_mf_trim_dup(const char *s)
{
    const char *start;
    size_t len;
    nr_mf_trim(s != NULL ? s : "", &start, &len);
    return nr_loader_strndup(start, len);
}

static char nr_mf_ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool nr_mf_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- clear -------------------------------------------------------------- */

void nr_manifest_clear(nr_manifest *m)
{
    if (m == NULL)
        return;
    free(m->description);
    free(m->plugin.id);
    free(m->plugin.name);
    free(m->plugin.version);
    free(m->compat.relay);
    free(m->compat.native_api);
    free(m->compat.worker_protocol);
    for (size_t i = 0; i < m->capabilities.count; i++)
        free(m->capabilities.items[i]);
    free(m->capabilities.items);
    free(m->load.library);
    free(m->load.symbol);
    free(m->load.runtime);
    free(m->load.entrypoint);
    free(m->source.manifest_root);
    free(m->source.artifact);
    free(m->integrity.sha256);
    free(m->integrity.signature);
    nr_mf_warnings_clear(&m->warnings);
    memset(m, 0, sizeof *m);
}

/* ---- step 5: structural decode ------------------------------------------ */

typedef struct nr_mf_decoder {
    const char *label; /* "relay-plugin.toml" or "relay-plugin.json" */
    nr_error *err;
} nr_mf_decoder;

static NemoRelayStatus nr_mf_decode_fail(const nr_mf_decoder *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "invalid <label>: <detail>" (InvalidConfig). */
static NemoRelayStatus nr_mf_decode_fail(const nr_mf_decoder *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    NemoRelayStatus st = nr_error_setv(d->err, NR_E_INVALID_CONFIG, fmt, ap);
    va_end(ap);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "invalid %s", d->label);
    nr_error_prefix(d->err, prefix);
    return st;
}

/* Looks up the table `key` of root.  Absent (or null) -> *out = NULL, an
 * error only when required. */
static NemoRelayStatus nr_mf_table(const nr_mf_decoder *d, const cJSON *root, const char *key,
                                   bool required, const cJSON **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (item == NULL || (cJSON_IsNull(item) && !required)) {
        if (required)
            return nr_mf_decode_fail(d, "missing table [%s]", key);
        return NEMO_RELAY_STATUS_OK;
    }
    if (!cJSON_IsObject(item))
        return nr_mf_decode_fail(d, "[%s] must be a table", key);
    *out = item;
    return NEMO_RELAY_STATUS_OK;
}

/* Copies the string `section.key` of table (which may be NULL) into *out
 * (owned by the manifest).  Absent or null -> left NULL unless required. */
static NemoRelayStatus nr_mf_string(const nr_mf_decoder *d, const cJSON *table, const char *section,
                                    const char *key, bool required, char **out)
{
    const cJSON *item = table != NULL ? cJSON_GetObjectItemCaseSensitive(table, key) : NULL;
    const char *dot = section != NULL ? "." : "";
    if (section == NULL)
        section = "";
    if (item == NULL || cJSON_IsNull(item)) {
        if (required)
            return nr_mf_decode_fail(d, "missing key %s%s%s", section, dot, key);
        return NEMO_RELAY_STATUS_OK;
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return nr_mf_decode_fail(d, "%s%s%s must be a string", section, dot, key);
    *out = nr_strdup(item->valuestring);
    if (*out == NULL)
        return nr_error_nomem(d->err);
    return NEMO_RELAY_STATUS_OK;
}

/* Index of value in the NULL-terminated list names, or -1. */
static int nr_mf_enum_index(const char *value, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(value, names[i]) == 0)
            return i;
    }
    return -1;
}

static const char *const nr_mf_kind_names[] = {"rust_dynamic", "worker", "native", NULL};
static const char *const nr_mf_capability_names[] = {"plugin_native", "plugin_worker",
                                                     "config_schema", NULL};
static const char *const nr_mf_runtime_names[] = {"python", "rust", "command", NULL};

static NemoRelayStatus nr_mf_decode(const nr_mf_decoder *d, const cJSON *root, nr_manifest *m)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    const cJSON *plugin = NULL, *compat = NULL, *defaults = NULL, *caps = NULL, *load = NULL;
    const cJSON *source = NULL, *integrity = NULL;

    if (!cJSON_IsObject(root))
        return nr_mf_decode_fail(d, "expected a JSON object (TOML table) at the top level");
    /* a misspelt name is an error before anything it hides is reported missing */
    if ((st = nr_mf_check_names(root, &m->warnings, d->err)) != NEMO_RELAY_STATUS_OK) {
        if (d->err != NULL && d->err->kind == NR_E_INVALID_CONFIG) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "invalid %s", d->label);
            nr_error_prefix(d->err, prefix);
        }
        return st;
    }

    /* manifest_version: an unsigned 32-bit integer */
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "manifest_version");
    if (ver == NULL || cJSON_IsNull(ver))
        return nr_mf_decode_fail(d, "missing key manifest_version");
    if (!cJSON_IsNumber(ver) || !(ver->valuedouble >= 0.0 && ver->valuedouble <= 4294967295.0)
        || (double)(uint32_t)ver->valuedouble != ver->valuedouble)
        return nr_mf_decode_fail(d, "manifest_version must be a non-negative integer");
    m->manifest_version = (uint32_t)ver->valuedouble;

    /* [plugin] */
    if ((st = nr_mf_table(d, root, "plugin", true, &plugin)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, plugin, "plugin", "id", true, &m->plugin.id)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, plugin, "plugin", "name", false, &m->plugin.name)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, plugin, "plugin", "version", false, &m->plugin.version)) != NEMO_RELAY_STATUS_OK)
        return st;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(plugin, "kind");
    if (kind == NULL || cJSON_IsNull(kind))
        return nr_mf_decode_fail(d, "missing key plugin.kind");
    int kind_index = cJSON_IsString(kind) && kind->valuestring != NULL
                         ? nr_mf_enum_index(kind->valuestring, nr_mf_kind_names) : -1;
    if (kind_index < 0)
        return nr_mf_decode_fail(d, "plugin.kind must be \"rust_dynamic\", \"worker\" or \"native\"%s%s%s",
                                 cJSON_IsString(kind) ? " (got \"" : "",
                                 cJSON_IsString(kind) ? kind->valuestring : "",
                                 cJSON_IsString(kind) ? "\")" : "");
    m->plugin.kind = kind_index == 0 ? NR_PLUGIN_KIND_RUST_DYNAMIC
                   : kind_index == 1 ? NR_PLUGIN_KIND_WORKER : NR_PLUGIN_KIND_NATIVE;

    /* [compat] */
    if ((st = nr_mf_table(d, root, "compat", true, &compat)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, compat, "compat", "relay", false, &m->compat.relay)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, compat, "compat", "native_api", false, &m->compat.native_api)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, compat, "compat", "worker_protocol", false, &m->compat.worker_protocol)) != NEMO_RELAY_STATUS_OK)
        return st;

    /* [defaults] */
    if ((st = nr_mf_table(d, root, "defaults", true, &defaults)) != NEMO_RELAY_STATUS_OK)
        return st;
    const cJSON *enabled = cJSON_GetObjectItemCaseSensitive(defaults, "enabled");
    if (enabled != NULL && !cJSON_IsNull(enabled)) {
        if (!cJSON_IsBool(enabled))
            return nr_mf_decode_fail(d, "defaults.enabled must be a boolean");
        m->defaults.enabled = cJSON_IsTrue(enabled) ? true : false;
    }

    /* [capabilities] items = [...] */
    if ((st = nr_mf_table(d, root, "capabilities", true, &caps)) != NEMO_RELAY_STATUS_OK)
        return st;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(caps, "items");
    if (items == NULL || cJSON_IsNull(items))
        return nr_mf_decode_fail(d, "missing key capabilities.items");
    if (!cJSON_IsArray(items))
        return nr_mf_decode_fail(d, "capabilities.items must be an array");
    int n_items = cJSON_GetArraySize(items);
    if (n_items > 0) {
        m->capabilities.items = calloc((size_t)n_items, sizeof *m->capabilities.items);
        if (m->capabilities.items == NULL)
            return nr_error_nomem(d->err);
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, items) {
        size_t i = m->capabilities.count;
        if (!cJSON_IsString(it) || it->valuestring == NULL
            || nr_mf_enum_index(it->valuestring, nr_mf_capability_names) < 0)
            return nr_mf_decode_fail(d, "capabilities.items[%zu] must be \"plugin_native\", "
                                        "\"plugin_worker\" or \"config_schema\"", i);
        m->capabilities.items[i] = nr_strdup(it->valuestring);
        if (m->capabilities.items[i] == NULL)
            return nr_error_nomem(d->err);
        m->capabilities.count++;
    }

    /* [load]: the worker pair or the native pair, never both, never neither */
    if ((st = nr_mf_table(d, root, "load", true, &load)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, load, "load", "runtime", false, &m->load.runtime)) != NEMO_RELAY_STATUS_OK)
        return st;
    if (m->load.runtime != NULL && nr_mf_enum_index(m->load.runtime, nr_mf_runtime_names) < 0)
        return nr_mf_decode_fail(d, "load.runtime must be \"python\", \"rust\" or \"command\" (got \"%s\")",
                                 m->load.runtime);
    if ((st = nr_mf_string(d, load, "load", "entrypoint", false, &m->load.entrypoint)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, load, "load", "library", false, &m->load.library)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, load, "load", "symbol", false, &m->load.symbol)) != NEMO_RELAY_STATUS_OK)
        return st;
    bool has_worker = m->load.runtime != NULL || m->load.entrypoint != NULL;
    bool has_native = m->load.library != NULL || m->load.symbol != NULL;
    if (has_worker && has_native)
        return nr_mf_decode_fail(d, "load must declare either worker fields (runtime, entrypoint) "
                                    "or rust_dynamic fields (library, symbol), not both");
    if (!has_worker && !has_native)
        return nr_mf_decode_fail(d, "load must declare either worker fields (runtime, entrypoint) "
                                    "or rust_dynamic fields (library, symbol)");

    /* optional [source], [integrity], description */
    if ((st = nr_mf_table(d, root, "source", false, &source)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, source, "source", "manifest_root", false, &m->source.manifest_root)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, source, "source", "artifact", false, &m->source.artifact)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_table(d, root, "integrity", false, &integrity)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, integrity, "integrity", "sha256", false, &m->integrity.sha256)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, integrity, "integrity", "signature", false, &m->integrity.signature)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_string(d, root, NULL, "description", false, &m->description)) != NEMO_RELAY_STATUS_OK)
        return st;
    return NEMO_RELAY_STATUS_OK;
}

/* ---- step 6: manifest validation (upstream order and wording) ----------- */

static NemoRelayStatus nr_mf_invalid(nr_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static NemoRelayStatus nr_mf_invalid(nr_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    NemoRelayStatus st = nr_error_setv(err, NR_E_INVALID_CONFIG, fmt, ap);
    va_end(ap);
    return st;
}

/* "<field> is required" / "<field> must not be empty". */
static NemoRelayStatus nr_mf_required_nonblank(const char *value, const char *field, nr_error *err)
{
    if (value == NULL)
        return nr_mf_invalid(err, "%s is required", field);
    if (nr_mf_is_blank(value))
        return nr_mf_invalid(err, "%s must not be empty", field);
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus nr_mf_optional_nonblank(const char *value, const char *field, nr_error *err)
{
    if (value != NULL && nr_mf_is_blank(value))
        return nr_mf_invalid(err, "%s must not be empty when provided", field);
    return NEMO_RELAY_STATUS_OK;
}

static bool nr_mf_has_capability(const nr_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->capabilities.count; i++) {
        if (strcmp(m->capabilities.items[i], name) == 0)
            return true;
    }
    return false;
}

static NemoRelayStatus nr_mf_validate(const nr_manifest *m, nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    bool native = nr_mf_is_native_kind(m->plugin.kind);
    const char *kind = nr_plugin_kind_name(m->plugin.kind);

    if (m->manifest_version != 1)
        return nr_mf_invalid(err, "unsupported relay-plugin.toml manifest_version %u; expected 1",
                             (unsigned)m->manifest_version);
    if (nr_mf_is_blank(m->plugin.id))
        return nr_mf_invalid(err, "plugin.id must not be empty");
    if ((st = nr_mf_optional_nonblank(m->plugin.name, "plugin.name", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_optional_nonblank(m->plugin.version, "plugin.version", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_optional_nonblank(m->description, "description", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_optional_nonblank(m->source.manifest_root, "source.manifest_root", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_optional_nonblank(m->source.artifact, "source.artifact", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_optional_nonblank(m->integrity.sha256, "integrity.sha256", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_optional_nonblank(m->integrity.signature, "integrity.signature", err)) != NEMO_RELAY_STATUS_OK
        || (st = nr_mf_required_nonblank(m->compat.relay, "compat.relay", err)) != NEMO_RELAY_STATUS_OK)
        return st;
    if (m->capabilities.count == 0)
        return nr_mf_invalid(err, "capabilities.items must declare at least one capability");
    for (size_t i = 0; i < m->capabilities.count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->capabilities.items[i], m->capabilities.items[j]) == 0)
                return nr_mf_invalid(err, "capabilities.items contains duplicate capability '%s'",
                                     m->capabilities.items[i]);
        }
    }
    if (m->defaults.enabled)
        return nr_mf_invalid(err, "defaults.enabled=true is not supported for dynamic plugins; "
                                  "plugins are added disabled and require explicit enablement");

    /* capability / kind shape */
    bool has_native_cap = nr_mf_has_capability(m, "plugin_native");
    bool has_worker_cap = nr_mf_has_capability(m, "plugin_worker");
    if (native) {
        if (!has_native_cap)
            return nr_mf_invalid(err, "%s plugins must declare capabilities.items containing plugin_native", kind);
        if (has_worker_cap)
            return nr_mf_invalid(err, "%s plugins must not declare plugin_worker", kind);
    } else {
        if (!has_worker_cap)
            return nr_mf_invalid(err, "worker plugins must declare capabilities.items containing plugin_worker");
        if (has_native_cap)
            return nr_mf_invalid(err, "worker plugins must not declare plugin_native");
    }

    /* load / kind shape (decode guaranteed exactly one of the two pairs) */
    bool worker_load = m->load.runtime != NULL || m->load.entrypoint != NULL;
    if (native) {
        if (worker_load)
            return nr_mf_invalid(err, "%s plugins must not declare load.runtime or load.entrypoint", kind);
        if ((st = nr_mf_required_nonblank(m->load.library, "load.library", err)) != NEMO_RELAY_STATUS_OK
            || (st = nr_mf_required_nonblank(m->load.symbol, "load.symbol", err)) != NEMO_RELAY_STATUS_OK)
            return st;
    } else {
        if (!worker_load)
            return nr_mf_invalid(err, "worker plugins must not declare load.library or load.symbol");
        if ((st = nr_mf_required_nonblank(m->load.entrypoint, "load.entrypoint", err)) != NEMO_RELAY_STATUS_OK)
            return st;
        if (m->load.runtime == NULL)
            return nr_mf_invalid(err, "worker plugins must declare load.runtime");
    }

    /* compat / kind shape */
    if (native) {
        if ((st = nr_mf_required_nonblank(m->compat.native_api, "compat.native_api", err)) != NEMO_RELAY_STATUS_OK)
            return st;
        if (m->compat.worker_protocol != NULL)
            return nr_mf_invalid(err, "%s plugins must not declare compat.worker_protocol", kind);
    } else {
        if ((st = nr_mf_required_nonblank(m->compat.worker_protocol, "compat.worker_protocol", err)) != NEMO_RELAY_STATUS_OK)
            return st;
        const char *start;
        size_t len;
        nr_mf_trim(m->compat.worker_protocol, &start, &len);
        if (len != strlen("grpc-v1") || memcmp(start, "grpc-v1", len) != 0)
            return nr_mf_invalid(err, "worker plugins must declare compat.worker_protocol = \"grpc-v1\"");
        if (m->compat.native_api != NULL)
            return nr_mf_invalid(err, "worker plugins must not declare compat.native_api");
    }
    return NEMO_RELAY_STATUS_OK;
}

/* ---- steps 5-6 entry point ---------------------------------------------- */

NemoRelayStatus nr_manifest_parse_json(const char *json, size_t len, const char *display_path,
                                       nr_manifest *out, nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    cJSON *root = NULL;
    char *trimmed_id = NULL;
    nr_manifest m;
    memset(&m, 0, sizeof m);
    nr_mf_decoder d = {NR_MANIFEST_TOML_NAME, err};
    if (display_path != NULL && nr_mf_ends_with(display_path, ".json"))
        d.label = NR_MANIFEST_JSON_NAME;

    if (out == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG, "nr_manifest_parse_json: out is NULL");
        goto done;
    }
    memset(out, 0, sizeof *out);
    if (json == NULL) {
        st = nr_mf_decode_fail(&d, "no manifest text");
        goto done;
    }
    const void *nul = memchr(json, '\0', len);
    if (nul != NULL) {
        st = nr_mf_decode_fail(&d, "manifest contains a NUL byte at offset %zu",
                               (size_t)((const char *)nul - json));
        goto done;
    }
    size_t bad = nr_loader_utf8_invalid_at((const unsigned char *)json, len);
    if (bad != len) {
        st = nr_mf_decode_fail(&d, "manifest is not valid UTF-8 (byte offset %zu)", bad);
        goto done;
    }

    const char *end = json;
    root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    size_t offset = (end >= json && end <= json + len) ? (size_t)(end - json) : 0;
    if (root != NULL) {
        while (offset < len && (json[offset] == ' ' || json[offset] == '\t'
                                || json[offset] == '\n' || json[offset] == '\r'))
            offset++;
    }
    if (root == NULL || offset < len) {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < offset && i < len; i++) {
            if (json[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        st = nr_mf_decode_fail(&d, "JSON syntax error at line %zu, column %zu%s", line, column,
                               root != NULL ? " (unexpected text after the document)" : "");
        goto done;
    }

    char nul_field[128];
    if (nr_json_find_nul(json, len, nul_field, sizeof nul_field)) {
        /* cJSON would cut the string at the NUL: refuse it, naming the field */
        st = nr_mf_decode_fail(&d, "%s contains a NUL character (\\u0000)", nul_field);
        goto done;
    }
    if ((st = nr_mf_decode(&d, root, &m)) != NEMO_RELAY_STATUS_OK)
        goto done;
    if ((st = nr_mf_validate(&m, err)) != NEMO_RELAY_STATUS_OK)
        goto done;
    *out = m;
    memset(&m, 0, sizeof m);
done:
    if (st != NEMO_RELAY_STATUS_OK) {
        if (m.plugin.id != NULL)
            trimmed_id = nr_mf_trim_dup(m.plugin.id);
        nr_loader_error_annotate(err, "manifest",
                                 trimmed_id != NULL && trimmed_id[0] != '\0' ? trimmed_id : NULL,
                                 display_path);
    }
    free(trimmed_id);
    nr_manifest_clear(&m);
    cJSON_Delete(root);
    return st;
}

/* ---- steps 1-4: resolve and read ---------------------------------------- */

/* dir + "/" + name without doubling a trailing slash; caller frees. */
static char *nr_mf_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (slash ? 1 : 0) + nl + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl++] = '/';
    memcpy(p + dl, name, nl + 1);
    return p;
}

NemoRelayStatus nr_manifest_resolve(const char *manifest_ref, char **out_canonical_path,
                                    nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    char *path = NULL, *json_path = NULL;
    struct stat sb;

    if (out_canonical_path == NULL || manifest_ref == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG, "nr_manifest_resolve: manifest_ref and out are required");
        goto done;
    }
    *out_canonical_path = NULL;

    /* 1. a directory means the manifest inside it (.toml, else .json) */
    if (stat(manifest_ref, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        path = nr_mf_join(manifest_ref, NR_MANIFEST_TOML_NAME);
        json_path = nr_mf_join(manifest_ref, NR_MANIFEST_JSON_NAME);
        if (path == NULL || json_path == NULL) {
            st = nr_error_nomem(err);
            goto done;
        }
        if (stat(path, &sb) != 0 && errno == ENOENT && stat(json_path, &sb) == 0) {
            char *tmp = path;
            path = json_path;
            json_path = tmp;
        }
    } else {
        path = nr_strdup(manifest_ref);
        if (path == NULL) {
            st = nr_error_nomem(err);
            goto done;
        }
    }

    /* 2. existence */
    if (stat(path, &sb) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            st = nr_loader_fail(err, NR_E_NOT_FOUND, "manifest", NULL, path,
                                "dynamic plugin manifest '%s' does not exist", path);
        else
            st = nr_loader_fail(err, NR_E_INTERNAL, "manifest", NULL, path,
                                "failed to inspect '%s': %s", path, strerror(e));
        goto done;
    }

    /* 3. canonicalise */
    *out_canonical_path = realpath(path, NULL);
    if (*out_canonical_path == NULL) {
        st = nr_loader_fail(err, NR_E_INTERNAL, "manifest", NULL, path,
                            "failed to normalize dynamic plugin manifest '%s': %s", path, strerror(errno));
        goto done;
    }
done:
    free(path);
    free(json_path);
    return st;
}

/* What a file that is not a regular file is, for messages. */
static const char *nr_mf_file_type(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket"
         : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device" : "not a file";
}

NemoRelayStatus nr_manifest_read_file(const char *path, char **out_text, size_t *out_len,
                                      nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    int fd = -1;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    struct stat sb;

    if (path == NULL || out_text == NULL || out_len == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG, "nr_manifest_read_file: path and outputs are required");
        goto done;
    }
    *out_text = NULL;
    *out_len = 0;
    /* The type first, and a non-blocking open: opening a FIFO for reading
     * would wait for a writer forever.  fstat again after the open, in case
     * the path was swapped in between. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (pass == 0 ? stat(path, &sb) != 0 : (fd < 0 || fstat(fd, &sb) != 0)) {
            st = nr_loader_fail(err, NR_E_INTERNAL, "manifest", NULL, path,
                                "failed to read dynamic plugin manifest '%s': %s", path,
                                strerror(errno));
            goto done;
        }
        if (!S_ISREG(sb.st_mode))
            break;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "manifest", NULL, path,
                            "dynamic plugin manifest '%s' is not a regular file (%s)", path,
                            nr_mf_file_type(sb.st_mode));
        goto done;
    }
    if (sb.st_size > NR_MANIFEST_MAX_BYTES) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "manifest", NULL, path,
                            "dynamic plugin manifest '%s' is larger than %d bytes", path,
                            NR_MANIFEST_MAX_BYTES);
        goto done;
    }
    cap = sb.st_size > 0 && sb.st_size <= NR_MANIFEST_MAX_BYTES ? (size_t)sb.st_size + 1 : 4096;
    buf = malloc(cap + 1);
    if (buf == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }
    for (;;) {
        if (len == cap) {
            if (cap > NR_MANIFEST_MAX_BYTES)
                break; /* reported below */
            size_t next = cap * 2 > (size_t)NR_MANIFEST_MAX_BYTES + 1 ? (size_t)NR_MANIFEST_MAX_BYTES + 1 : cap * 2;
            char *grown = realloc(buf, next + 1);
            if (grown == NULL) {
                st = nr_error_nomem(err);
                goto done;
            }
            buf = grown;
            cap = next;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = nr_loader_fail(err, NR_E_INTERNAL, "manifest", NULL, path,
                                "failed to read dynamic plugin manifest '%s': %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > NR_MANIFEST_MAX_BYTES) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "manifest", NULL, path,
                            "dynamic plugin manifest '%s' is larger than %d bytes", path,
                            NR_MANIFEST_MAX_BYTES);
        goto done;
    }
    buf[len] = '\0';
    *out_text = buf;
    *out_len = len;
    buf = NULL;
done:
    free(buf);
    if (fd >= 0)
        close(fd);
    return st;
}

/* ---- steps 7-15: loader checks ------------------------------------------ */

/* load.library (untrimmed) resolved against the directory of the canonical
 * manifest path; absolute paths are kept.  Caller frees; NULL on OOM. */
static char *nr_mf_resolve_library(const char *manifest_path, const char *library)
{
    if (library[0] == '/')
        return nr_strdup(library);
    const char *slash = strrchr(manifest_path, '/');
    if (slash == NULL)
        return nr_strdup(library); /* no parent: relative to nothing, as Path::join("") */
    size_t dir_len = (size_t)(slash - manifest_path);
    size_t lib_len = strlen(library);
    char *p = malloc(dir_len + 1 + lib_len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, manifest_path, dir_len);
    p[dir_len] = '/';
    memcpy(p + dir_len + 1, library, lib_len + 1);
    return p;
}

/* integrity.sha256: trim, strip a leading "sha256:" (any case), then compare
 * to the lowercase hex digest case-insensitively. */
static bool nr_mf_sha256_matches(const char *expected, const char *actual_hex)
{
    const char *s;
    size_t len;
    nr_mf_trim(expected, &s, &len);
    static const char prefix[] = "sha256:";
    size_t plen = sizeof prefix - 1;
    if (len >= plen) {
        bool has_prefix = true;
        for (size_t i = 0; i < plen; i++)
            has_prefix = has_prefix && nr_mf_ascii_lower(s[i]) == prefix[i];
        if (has_prefix) {
            s += plen;
            len -= plen;
        }
    }
    if (len != strlen(actual_hex))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (nr_mf_ascii_lower(s[i]) != actual_hex[i])
            return false;
    }
    return true;
}

/* Whether a group-writable file is still only writable by its owner: its
 * group is the owner's private group (the owner's primary group, with no
 * other members), as Debian sets up users with umask 002.  OpenSSH's
 * StrictModes accepts that case on Debian for the same reason. */
static bool nr_mf_private_group(const struct stat *sb)
{
    char buf[8192];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    if (getpwuid_r(sb->st_uid, &pw, buf, sizeof buf / 2, &pwp) != 0 || pwp == NULL ||
        pw.pw_gid != sb->st_gid)
        return false;
    if (getgrgid_r(sb->st_gid, &gr, buf + sizeof buf / 2, sizeof buf / 2, &grp) != 0 || grp == NULL)
        return false;
    for (char **m = gr.gr_mem; m != NULL && *m != NULL; m++)
        if (strcmp(*m, pw.pw_name) != 0)
            return false;
    return true;
}

/* Writable by someone other than the owner? */
static bool nr_mf_writable_by_others(const struct stat *sb)
{
    if (sb->st_mode & S_IWOTH)
        return true;
    return (sb->st_mode & S_IWGRP) != 0 && !nr_mf_private_group(sb);
}

/* SPEC D9: refuse a library file or its directory that group/others may
 * write, unless trusted. */
static NemoRelayStatus nr_mf_check_permissions(const char *library_path, const char *plugin_id,
                                               const char *manifest, nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    char *real = NULL;
    struct stat sb;

    real = realpath(library_path, NULL);
    if (real == NULL || stat(real, &sb) != 0) {
        st = nr_loader_fail(err, NR_E_INTERNAL, "permissions", plugin_id, manifest,
                            "failed to inspect native plugin library '%s': %s", library_path,
                            strerror(errno));
        goto done;
    }
    bool via_link = strcmp(real, library_path) != 0;
    if (nr_mf_writable_by_others(&sb)) {
        st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "permissions", plugin_id, manifest,
                            "native plugin library '%s'%s%s%s is writable by group or others "
                            "(mode %04o); refusing to load it (pass trust_writable=True to allow)",
                            library_path, via_link ? " (resolves to '" : "", via_link ? real : "",
                            via_link ? "')" : "", (unsigned)(sb.st_mode & 07777));
        goto done;
    }
    char *slash = strrchr(real, '/');
    if (slash != NULL) {
        if (slash == real)
            slash[1] = '\0'; /* the root directory */
        else
            slash[0] = '\0';
    }
    if (stat(real, &sb) != 0) {
        st = nr_loader_fail(err, NR_E_INTERNAL, "permissions", plugin_id, manifest,
                            "failed to inspect native plugin library directory '%s': %s", real,
                            strerror(errno));
        goto done;
    }
    if (nr_mf_writable_by_others(&sb)) {
        st = nr_loader_fail(err, NR_E_PLUGIN_LOAD, "permissions", plugin_id, manifest,
                            "native plugin library directory '%s' is writable by group or others "
                            "(mode %04o); refusing to load it (pass trust_writable=True to allow)",
                            real, (unsigned)(sb.st_mode & 07777));
        goto done;
    }
done:
    free(real);
    return st;
}

NemoRelayStatus nr_manifest_check(const nr_manifest *m, const char *canonical_manifest_path,
                                  const nr_manifest_check_opts *opts, char **out_library_path,
                                  nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    const char *manifest = canonical_manifest_path;
    char *trimmed_id = NULL, *relay = NULL, *native_api = NULL, *library_path = NULL;
    nr_semver_req *req = NULL;
    nr_semver host = NR_SEMVER_INIT;
    nr_error sub = NR_ERROR_INIT;
    char actual_hex[65];

    if (out_library_path != NULL)
        *out_library_path = NULL;
    if (m == NULL || opts == NULL || canonical_manifest_path == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG,
                          "nr_manifest_check: manifest, canonical path and options are required");
        goto done;
    }
    trimmed_id = nr_mf_trim_dup(m->plugin.id);
    if (trimmed_id == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }
    const char *pid = opts->expected_id != NULL ? opts->expected_id : trimmed_id;

    /* 7. id */
    if (opts->expected_id != NULL && strcmp(trimmed_id, opts->expected_id) != 0) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "id", pid, manifest,
                            "dynamic plugin manifest id '%s' does not match expected id '%s'",
                            m->plugin.id != NULL ? m->plugin.id : "", opts->expected_id);
        goto done;
    }

    /* 8. kind */
    if (!nr_mf_is_native_kind(m->plugin.kind)) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "kind", pid, manifest,
                            "dynamic plugin '%s' is kind %s; native loader only supports rust_dynamic or native",
                            pid, nr_plugin_kind_name(m->plugin.kind));
        goto done;
    }

    /* 9. compat.relay against the host version */
    relay = nr_mf_trim_dup(m->compat.relay);
    if (relay == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }
    if (relay[0] == '\0') {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "compat.relay", pid, manifest, "compat.relay is required");
        goto done;
    }
    if (nr_semver_req_parse(relay, &req, &sub) != NEMO_RELAY_STATUS_OK) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "compat.relay", pid, manifest,
                            "invalid compat.relay version requirement: %s", nr_error_message(&sub));
        goto done;
    }
    if (opts->host_version == NULL) {
        st = nr_loader_fail(err, NR_E_INTERNAL, "compat.relay", pid, manifest, "host version is not set");
        goto done;
    }
    if (nr_semver_parse(opts->host_version, &host, &sub) != NEMO_RELAY_STATUS_OK) {
        st = nr_loader_fail(err, NR_E_INTERNAL, "compat.relay", pid, manifest,
                            "failed to parse host version: %s", nr_error_message(&sub));
        goto done;
    }
    if (!nr_semver_req_matches(req, &host)) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "compat.relay", pid, manifest,
                            "native plugin requires relay '%s' but host version is %s", relay,
                            opts->host_version);
        goto done;
    }

    /* 10. compat.native_api */
    native_api = nr_mf_trim_dup(m->compat.native_api);
    if (native_api == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }
    if (strcmp(native_api, "1") != 0) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "native_api", pid, manifest,
                            "dynamic plugin '%s' declares unsupported compat.native_api '%s'; expected 1",
                            pid, m->compat.native_api != NULL ? m->compat.native_api : "");
        goto done;
    }

    /* 11. (defensive) the load section is the native pair */
    if (m->load.runtime != NULL || m->load.entrypoint != NULL
        || (m->load.library == NULL && m->load.symbol == NULL)) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "manifest", pid, manifest,
                            "dynamic plugin '%s' has invalid rust_dynamic load contract", pid);
        goto done;
    }

    /* 12. library path */
    if (m->load.library == NULL) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "library", pid, manifest, "load.library is required");
        goto done;
    }
    library_path = nr_mf_resolve_library(canonical_manifest_path, m->load.library);
    if (library_path == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }

    if (opts->probe_library) {
        /* 13. existence (any stat failure reads as missing, like Path::exists) */
        struct stat sb;
        if (stat(library_path, &sb) != 0) {
            st = nr_loader_fail(err, NR_E_NOT_FOUND, "library", pid, manifest,
                                "native plugin library '%s' does not exist", library_path);
            goto done;
        }
        if (!S_ISREG(sb.st_mode)) {
            st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "library", pid, manifest,
                                "native plugin library '%s' %s", library_path,
                                S_ISDIR(sb.st_mode) ? "is a directory" : "is not a regular file");
            goto done;
        }
        /* 14. integrity */
        if (m->integrity.sha256 != NULL) {
            if (nr_sha256_file_hex(library_path, actual_hex, &sub) != NEMO_RELAY_STATUS_OK) {
                st = sub.status;
                nr_error_move(err, &sub);
                nr_loader_error_annotate(err, "sha256", pid, manifest);
                goto done;
            }
            if (!nr_mf_sha256_matches(m->integrity.sha256, actual_hex)) {
                const char *want;
                size_t want_len;
                nr_mf_trim(m->integrity.sha256, &want, &want_len);
                st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "sha256", pid, manifest,
                                    "native plugin library '%s' sha256 mismatch: integrity.sha256 is "
                                    "'%.*s' but the library's digest is 'sha256:%s' (print it with "
                                    "`python -m nemo_relay plugin digest`)",
                                    library_path, (int)want_len, want, actual_hex);
                goto done;
            }
        }
        /* D9 hardening: permissions */
        if (!opts->trust_writable) {
            st = nr_mf_check_permissions(library_path, pid, manifest, err);
            if (st != NEMO_RELAY_STATUS_OK)
                goto done;
        }
    }

    /* 15. (defensive) symbol */
    if (m->load.symbol == NULL || nr_mf_is_blank(m->load.symbol)) {
        st = nr_loader_fail(err, NR_E_INVALID_CONFIG, "symbol", pid, manifest, "load.symbol is required");
        goto done;
    }

    if (out_library_path != NULL) {
        *out_library_path = library_path;
        library_path = NULL;
    }
done:
    nr_error_clear(&sub);
    nr_semver_clear(&host);
    nr_semver_req_free(req);
    free(library_path);
    free(native_api);
    free(relay);
    free(trimmed_id);
    return st;
}
