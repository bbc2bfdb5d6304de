/*
 * plugin_support.h -- helpers the bundled native plugins share: host strings,
 * error reporting, length-bounded JSON, and validation diagnostics.
 *
 * Header-only (static functions) so that each bundled plugin still builds as
 * one self-contained shared library from one .c file.  Depends only on the
 * ABI header, cJSON and libc.
 */
#ifndef NEMO_RELAY_PLUGIN_SUPPORT_H
#define NEMO_RELAY_PLUGIN_SUPPORT_H

#include "nemo_relay_plugin.h"

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
 * never are); NULL if invalid, trailing garbage included, or out of memory. */
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

/* Serializes value into a new host string (*out transfers to the caller). */
static PS_MAYBE_UNUSED NemoRelayStatus ps_print(const HostApi *host, const char *kind,
                                                const cJSON *value, HostString **out)
{
    *out = NULL;
    char *text = cJSON_PrintUnformatted(value);
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

#endif /* NEMO_RELAY_PLUGIN_SUPPORT_H */
