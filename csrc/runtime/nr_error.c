/* nr_error.c -- error values: set, move, clear, map to ABI status. */
#include "nr_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

NemoRelayStatus nr_errkind_status(nr_errkind kind)
{
    switch (kind) {
    case NR_E_NONE: return NEMO_RELAY_STATUS_OK;
    case NR_E_INVALID_ARG: return NEMO_RELAY_STATUS_INVALID_ARG;
    case NR_E_INVALID_JSON: return NEMO_RELAY_STATUS_INVALID_JSON;
    case NR_E_NOT_ON_TOP: return NEMO_RELAY_STATUS_INVALID_ARG;
    case NR_E_SCOPE_NOT_FOUND: return NEMO_RELAY_STATUS_NOT_FOUND;
    case NR_E_SCOPE_ROOT: return NEMO_RELAY_STATUS_INVALID_ARG;
    case NR_E_ALREADY_EXISTS: return NEMO_RELAY_STATUS_ALREADY_EXISTS;
    case NR_E_NOT_FOUND: return NEMO_RELAY_STATUS_NOT_FOUND;
    case NR_E_REJECTED: return NEMO_RELAY_STATUS_GUARDRAIL_REJECTED;
    case NR_E_INVALID_CONFIG: return NEMO_RELAY_STATUS_INVALID_ARG;
    case NR_E_CONFLICT: return NEMO_RELAY_STATUS_ALREADY_EXISTS;
    case NR_E_CALLBACK:
    case NR_E_REGISTRATION_FAILED:
    case NR_E_PLUGIN_LOAD:
    case NR_E_INTERNAL:
    default: return NEMO_RELAY_STATUS_INTERNAL;
    }
}

const char *nr_errkind_prefix(nr_errkind kind)
{
    switch (kind) {
    case NR_E_NOT_ON_TOP:
    case NR_E_SCOPE_ROOT:
    case NR_E_INVALID_ARG: return "invalid argument: ";
    case NR_E_SCOPE_NOT_FOUND:
    case NR_E_NOT_FOUND: return "not found: ";
    case NR_E_ALREADY_EXISTS: return "already exists: ";
    case NR_E_REJECTED: return "guardrail rejected: ";
    case NR_E_INVALID_CONFIG: return "invalid config: ";
    case NR_E_REGISTRATION_FAILED: return "registration failed: ";
    case NR_E_CONFLICT: return "conflict: ";
    case NR_E_INTERNAL: return "internal error: ";
    default: return "";
    }
}

char *nr_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void nr_error_clear(nr_error *err)
{
    if (err == NULL)
        return;
    free(err->message);
    free(err->reason);
    free(err->plugin_id);
    free(err->manifest);
    if (err->foreign != NULL && err->foreign_release != NULL)
        err->foreign_release(err->foreign);
    nr_error empty = NR_ERROR_INIT;
    *err = empty;
}

NemoRelayStatus nr_error_setv(nr_error *err, nr_errkind kind, const char *fmt, va_list ap)
{
    NemoRelayStatus status = nr_errkind_status(kind);
    if (err == NULL)
        return status;
    nr_error_clear(err);
    err->kind = kind;
    err->status = status;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n >= 0) {
        err->message = malloc((size_t)n + 1);
        if (err->message != NULL)
            vsnprintf(err->message, (size_t)n + 1, fmt, ap);
    }
    return status;
}

NemoRelayStatus nr_error_set(nr_error *err, nr_errkind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    NemoRelayStatus st = nr_error_setv(err, kind, fmt, ap);
    va_end(ap);
    return st;
}

NemoRelayStatus nr_error_nomem(nr_error *err)
{
    return nr_error_set(err, NR_E_INTERNAL, "out of memory");
}

void nr_error_prefix(nr_error *err, const char *prefix)
{
    if (err == NULL || err->kind == NR_E_NONE || prefix == NULL)
        return;
    const char *old = err->message != NULL ? err->message : "";
    size_t n = strlen(prefix) + 2 + strlen(old) + 1;
    char *m = malloc(n);
    if (m == NULL)
        return;
    snprintf(m, n, "%s: %s", prefix, old);
    free(err->message);
    err->message = m;
}

void nr_error_move(nr_error *dst, nr_error *src)
{
    if (dst == src)
        return;
    if (dst == NULL) {
        nr_error_clear(src); /* nobody wants it: still release what it holds */
        return;
    }
    nr_error_clear(dst);
    if (src == NULL)
        return;
    *dst = *src;
    nr_error empty = NR_ERROR_INIT;
    *src = empty;
}

const char *nr_error_message(const nr_error *err)
{
    return (err != NULL && err->message != NULL) ? err->message : "";
}

const char *nr_status_name(NemoRelayStatus status)
{
    switch (status) {
    case NEMO_RELAY_STATUS_OK: return "Ok";
    case NEMO_RELAY_STATUS_ALREADY_EXISTS: return "AlreadyExists";
    case NEMO_RELAY_STATUS_NOT_FOUND: return "NotFound";
    case NEMO_RELAY_STATUS_SCOPE_STACK_EMPTY: return "ScopeStackEmpty";
    case NEMO_RELAY_STATUS_GUARDRAIL_REJECTED: return "GuardrailRejected";
    case NEMO_RELAY_STATUS_INTERNAL: return "Internal";
    case NEMO_RELAY_STATUS_NULL_POINTER: return "NullPointer";
    case NEMO_RELAY_STATUS_INVALID_JSON: return "InvalidJson";
    case NEMO_RELAY_STATUS_INVALID_UTF8: return "InvalidUtf8";
    case NEMO_RELAY_STATUS_INVALID_ARG: return "InvalidArg";
    case NEMO_RELAY_STATUS_STREAM_END: return "StreamEnd";
    default: return "Unknown";
    }
}
