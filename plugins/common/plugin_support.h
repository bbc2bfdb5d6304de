/*
 * plugin_support.h -- helpers the bundled native plugins share: host strings,
 * error reporting, length-bounded JSON, validation diagnostics and config
 * field checks, and the descriptor (entry, validate, drop).
 *
 * Header-only (static functions) so that each bundled plugin still builds as
 * one self-contained shared library from one .c file.  Depends only on the
 * ABI header, cJSON and libc.
 */
#ifndef NEMO_RELAY_PLUGIN_SUPPORT_H
#define NEMO_RELAY_PLUGIN_SUPPORT_H

#include "nemo_relay_plugin.h"

#include "exact_json.h"

#include <cjson/cJSON.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PS_PRINTF(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
#define PS_MAYBE_UNUSED __attribute__((unused))
#else
#define PS_PRINTF(fmt_index, args_index)
#define PS_MAYBE_UNUSED
#endif

typedef NemoRelayNativeHostApiV1 HostApi;
typedef NemoRelayNativeString HostString;
typedef NemoRelayNativePluginContext PluginContext;

#define PS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- text ------------------------------------------------------------------------ */

/* A malloc'd copy of s (the caller frees it), or NULL when out of memory. */
static PS_MAYBE_UNUSED char *ps_strdup(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    if (out != NULL) {
        memcpy(out, s, len + 1);
    }
    return out;
}

/* A malloc'd formatted string, or NULL when out of memory. */
static PS_MAYBE_UNUSED char *ps_vformat(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) {
        return NULL;
    }
    char *out = malloc((size_t)n + 1);
    if (out != NULL) {
        vsnprintf(out, (size_t)n + 1, fmt, ap);
    }
    return out;
}

static PS_MAYBE_UNUSED char *ps_format(const char *fmt, ...) PS_PRINTF(1, 2);

static PS_MAYBE_UNUSED char *ps_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = ps_vformat(fmt, ap);
    va_end(ap);
    return out;
}

/* How a validation message names the type of a config value. */
static PS_MAYBE_UNUSED const char *ps_type_name(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        return "a string";
    }
    if (cJSON_IsNumber(v)) {
        return "a number";
    }
    if (cJSON_IsBool(v)) {
        return "a boolean";
    }
    if (cJSON_IsArray(v)) {
        return "an array";
    }
    if (cJSON_IsObject(v)) {
        return "an object";
    }
    if (cJSON_IsNull(v)) {
        return "null";
    }
    return "an invalid value";
}

/* ---- host strings and errors ------------------------------------------------------ */

/* A new host string holding text (*out transfers to the caller). */
static PS_MAYBE_UNUSED NemoRelayStatus ps_text(const HostApi *host, const char *text,
                                               HostString **out)
{
    *out = NULL;
    return host->string_new((const uint8_t *)text, strlen(text), out);
}

/* Describes a failure for the host (it copies the message); returns status. */
static PS_MAYBE_UNUSED NemoRelayStatus ps_fail(const HostApi *host, NemoRelayStatus status,
                                               const char *message)
{
    HostString *s = NULL;
    if (ps_text(host, message, &s) == NEMO_RELAY_STATUS_OK) {
        host->last_error_set(s);
    }
    host->string_free(s);
    return status;
}

static PS_MAYBE_UNUSED NemoRelayStatus ps_oom(const HostApi *host, const char *kind)
{
    char message[96];
    snprintf(message, sizeof message, "%s: out of memory", kind);
    return ps_fail(host, NEMO_RELAY_STATUS_INTERNAL, message);
}

/* ---- JSON ---------------------------------------------------------------------------- */

/* Length-bounded parse of bytes that are not NUL-terminated (host strings
 * never are); NULL if invalid, trailing garbage included, or out of memory.
 * Numbers keep their text where a double would change it (exact_json.h). */
static PS_MAYBE_UNUSED cJSON *ps_parse_bytes(const char *data, size_t len)
{
    if (data == NULL || len == 0) {
        return NULL;
    }
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    for (const char *p = end; value != NULL && p < data + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(value);
            value = NULL;
        }
    }
    if (value != NULL && !ej_keep_number_texts(value, data, len)) {
        cJSON_Delete(value);
        value = NULL;
    }
    return value;
}

/* Parses a borrowed host string; on failure reports "<kind>: <what> is not
 * valid JSON".  *out transfers to the caller. */
static PS_MAYBE_UNUSED NemoRelayStatus ps_parse(const HostApi *host, const char *kind,
                                                const HostString *s, const char *what,
                                                cJSON **out)
{
    *out = ps_parse_bytes((const char *)host->string_data(s), host->string_len(s));
    if (*out == NULL) {
        char message[160];
        snprintf(message, sizeof message, "%s: %s is not valid JSON", kind, what);
        return ps_fail(host, NEMO_RELAY_STATUS_INVALID_JSON, message);
    }
    return NEMO_RELAY_STATUS_OK;
}

/* A plugin config must be a JSON object.  *out transfers to the caller. */
static PS_MAYBE_UNUSED NemoRelayStatus ps_parse_config(const HostApi *host, const char *kind,
                                                       const HostString *config, cJSON **out)
{
    NemoRelayStatus status = ps_parse(host, kind, config, "plugin config", out);
    if (status == NEMO_RELAY_STATUS_OK && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        char message[96];
        snprintf(message, sizeof message, "%s: plugin config is not a JSON object", kind);
        status = ps_fail(host, NEMO_RELAY_STATUS_INVALID_JSON, message);
    }
    return status;
}

/* Serializes value into a new host string (*out transfers to the caller),
 * every number exact (exact_json.h). */
static PS_MAYBE_UNUSED NemoRelayStatus ps_print(const HostApi *host, const char *kind,
                                                const cJSON *value, HostString **out)
{
    *out = NULL;
    char *text = ej_print(value);
    if (text == NULL) {
        return ps_oom(host, kind);
    }
    NemoRelayStatus status = host->string_new((const uint8_t *)text, strlen(text), out);
    cJSON_free(text);
    return status;
}

/* ---- validation diagnostics ----------------------------------------------------------- */

/* One pass over a config, shared by validate (which wants the diagnostics)
 * and register (which wants the first error's message). */
typedef struct PsCheck {
    const char *kind;  /* the component named in every diagnostic */
    cJSON *diags;      /* diagnostics array being built, or NULL */
    int errors;        /* error-level problems found */
    bool oom;          /* out of memory while checking */
    char *first_error; /* message of the first error (malloc'd) */
} PsCheck;

/* Records one problem as {level, code, message, component, field?}. */
static PS_MAYBE_UNUSED void ps_diag(PsCheck *check, bool error, const char *code,
                                    const char *field, const char *fmt, ...) PS_PRINTF(5, 6);

static PS_MAYBE_UNUSED void ps_diag(PsCheck *check, bool error, const char *code,
                                    const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = ps_vformat(fmt, ap);
    va_end(ap);
    if (error) {
        check->errors++;
    }
    if (message == NULL) {
        check->oom = true;
        return;
    }
    if (check->diags != NULL) {
        cJSON *d = cJSON_CreateObject();
        bool ok = d != NULL && cJSON_AddStringToObject(d, "level", error ? "error" : "warning") &&
                  cJSON_AddStringToObject(d, "code", code) &&
                  cJSON_AddStringToObject(d, "message", message) &&
                  cJSON_AddStringToObject(d, "component", check->kind) &&
                  (field == NULL || cJSON_AddStringToObject(d, "field", field));
        if (ok && cJSON_AddItemToArray(check->diags, d)) {
            d = NULL;
        } else {
            check->oom = true;
        }
        cJSON_Delete(d);
    }
    if (error && check->first_error == NULL) {
        check->first_error = message;
    } else {
        free(message);
    }
}

/* Warns (code) about every member of config that is not one of the n known
 * names: "<kind>: unknown config field '<name>' is ignored (known fields:
 * <the known names, comma-separated>)". */
static PS_MAYBE_UNUSED void ps_warn_unknown_fields(PsCheck *check, const cJSON *config,
                                                   const char *code, const char *const *known,
                                                   size_t n)
{
    char *list = NULL; /* the known names, made on the first unknown one */
    const cJSON *field;
    cJSON_ArrayForEach(field, config)
    {
        bool is_known = false;
        for (size_t i = 0; i < n; i++) {
            is_known = is_known || (field->string != NULL && strcmp(field->string, known[i]) == 0);
        }
        if (is_known) {
            continue;
        }
        if (list == NULL) {
            size_t len = 1;
            for (size_t i = 0; i < n; i++) {
                len += strlen(known[i]) + (i > 0 ? 2 : 0);
            }
            if ((list = malloc(len)) == NULL) {
                check->oom = true;
                return;
            }
            list[0] = '\0';
            for (size_t i = 0; i < n; i++) {
                if (i > 0) {
                    strcat(list, ", ");
                }
                strcat(list, known[i]);
            }
        }
        ps_diag(check, false, code, field->string,
                "%s: unknown config field '%s' is ignored (known fields: %s)", check->kind,
                field->string != NULL ? field->string : "", list);
    }
    free(list);
}

/* An optional integer field (absent or null: *out keeps its default).
 * Anything but an integer in [min, max] is an error (code): "<kind>: <field>
 * must be an integer between <min> and <max>, not <what it is>". */
static PS_MAYBE_UNUSED void ps_check_int(PsCheck *check, const cJSON *config, const char *field,
                                         const char *code, int32_t min, int32_t max, int32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, field);
    if (v == NULL || cJSON_IsNull(v)) {
        return;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0.0;
    /* range first: converting an out-of-range double to an integer is UB */
    if (!cJSON_IsNumber(v) || !(d >= (double)min && d <= (double)max) ||
        d != (double)(int32_t)d) {
        ps_diag(check, true, code, field, "%s: %s must be an integer between %ld and %ld, not %s",
                check->kind, field, (long)min, (long)max,
                cJSON_IsNumber(v) ? "a fractional or out-of-range number" : ps_type_name(v));
    } else {
        *out = (int32_t)d;
    }
}

/* ---- the descriptor ------------------------------------------------------------------ */

/* Validate's pass over a parsed config object (borrowed): records problems
 * in check. */
typedef void (*PsCheckFn)(PsCheck *check, const cJSON *config);

/* The descriptor's user_data (made by ps_describe, freed by its drop). */
typedef struct PsPlugin {
    const HostApi *host;
    const char *kind;
    PsCheckFn check;
} PsPlugin;

/* The descriptor's validate: parses the config and runs the plugin's check.
 * On OK *out_diagnostics_json is a new diagnostics array that transfers to
 * the host. */
static PS_MAYBE_UNUSED NemoRelayStatus ps_validate(void *user_data,
                                                   const HostString *plugin_config_json,
                                                   HostString **out_diagnostics_json)
{
    if (out_diagnostics_json == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    *out_diagnostics_json = NULL;
    const PsPlugin *plugin = user_data;
    if (plugin == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    const HostApi *host = plugin->host;
    cJSON *config = NULL;
    NemoRelayStatus status = ps_parse_config(host, plugin->kind, plugin_config_json, &config);
    if (status != NEMO_RELAY_STATUS_OK) {
        return status;
    }
    PsCheck check = {plugin->kind, cJSON_CreateArray(), 0, false, NULL};
    if (check.diags == NULL) {
        check.oom = true;
    } else {
        plugin->check(&check, config);
    }
    status = check.oom ? ps_oom(host, plugin->kind)
                       : ps_print(host, plugin->kind, check.diags, out_diagnostics_json);
    if (status != NEMO_RELAY_STATUS_OK) {
        host->string_free(*out_diagnostics_json);
        *out_diagnostics_json = NULL;
    }
    free(check.first_error);
    cJSON_Delete(check.diags);
    cJSON_Delete(config);
    return status;
}

/* The descriptor's drop: frees the PsPlugin. */
static PS_MAYBE_UNUSED void ps_plugin_drop(void *user_data)
{
    free(user_data);
}

/* The entry symbol's work for kind (static storage): checks the host table,
 * then fills *out with ps_validate running check, register_ and
 * ps_plugin_drop.  On OK out->plugin_kind and out->user_data (a PsPlugin)
 * transfer to the host. */
static PS_MAYBE_UNUSED NemoRelayStatus ps_describe(const HostApi *host, NemoRelayNativePluginV1 *out,
                                                   const char *kind, PsCheckFn check,
                                                   NemoRelayNativePluginRegisterFn register_)
{
    if (host == NULL || out == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->allows_multiple_components = true;
    /* a table of another version has another layout: call nothing in it */
    if (host->abi_version != NEMO_RELAY_NATIVE_ABI_VERSION ||
        host->struct_size < sizeof(NemoRelayNativeHostApiV1)) {
        return NEMO_RELAY_STATUS_INVALID_ARG;
    }
    HostString *kind_string = NULL;
    NemoRelayStatus status = ps_text(host, kind, &kind_string);
    if (status != NEMO_RELAY_STATUS_OK) {
        host->string_free(kind_string);
        return status;
    }
    PsPlugin *plugin = malloc(sizeof *plugin);
    if (plugin == NULL) {
        host->string_free(kind_string);
        return ps_oom(host, kind);
    }
    plugin->host = host;
    plugin->kind = kind;
    plugin->check = check;
    out->plugin_kind = kind_string;
    out->user_data = plugin;
    out->validate = ps_validate;
    out->register_ = register_;
    out->drop = ps_plugin_drop;
    return NEMO_RELAY_STATUS_OK;
}

#endif /* NEMO_RELAY_PLUGIN_SUPPORT_H */
