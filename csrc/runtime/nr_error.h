/*
 * nr_error.h -- how the runtime reports failure.
 *
 * Every fallible runtime function returns an NemoRelayStatus and, on failure,
 * fills a caller-provided nr_error.  The error owns its strings and, for errors
 * raised by a foreign callback (a Python exception, say), a reference to the
 * foreign error object so the binding can re-raise it unchanged.
 *
 * Ownership: the caller owns the nr_error it passes in and must call
 * nr_error_clear() on it once done (clearing an empty error is a no-op).
 */
#ifndef NR_ERROR_H
#define NR_ERROR_H

#include "nemo_relay_plugin.h"

#include <stdarg.h>
#include <stdbool.h>

/* What went wrong, finer than the ABI status (the binding maps it to an
 * exception class). */
typedef enum nr_errkind {
    NR_E_NONE = 0,
    NR_E_INTERNAL,           /* bug, allocation failure, OS failure */
    NR_E_INVALID_ARG,        /* bad argument value */
    NR_E_INVALID_JSON,       /* a payload did not parse or had the wrong shape */
    NR_E_NOT_ON_TOP,         /* scope handle is not at the top of the stack */
    NR_E_SCOPE_NOT_FOUND,    /* scope handle not found on the visible stack */
    NR_E_SCOPE_ROOT,         /* the hidden root scope cannot be removed */
    NR_E_ALREADY_EXISTS,     /* duplicate registration name */
    NR_E_NOT_FOUND,          /* other lookups */
    NR_E_REJECTED,           /* a conditional guardrail rejected the call */
    NR_E_CALLBACK,           /* a callback failed; see foreign / message */
    NR_E_INVALID_CONFIG,     /* plugin configuration or manifest is invalid */
    NR_E_REGISTRATION_FAILED,/* a plugin's register step failed */
    NR_E_PLUGIN_LOAD,        /* loading a native plugin failed (see check) */
    NR_E_CONFLICT            /* state conflict (e.g. a second plugin host) */
} nr_errkind;

/* Releases a foreign error object (e.g. Py_DECREF under the GIL). */
typedef void (*nr_foreign_release_fn)(void *obj);

typedef struct nr_error {
    NemoRelayStatus status;  /* NEMO_RELAY_STATUS_OK when empty */
    nr_errkind kind;
    char *message;           /* owned, NUL-terminated; NULL when empty */
    char *reason;            /* owned: rejection reason, or the loader check name */
    char *plugin_id;         /* owned: loader errors only */
    char *manifest;          /* owned: loader errors only */
    void *foreign;           /* owned foreign error object, released by foreign_release */
    nr_foreign_release_fn foreign_release;
    bool interrupted;        /* the foreign error is an interruption (e.g. cancellation),
                              * not a failure: calls record it as UNSET, not ERROR */
} nr_error;

#define NR_ERROR_INIT {NEMO_RELAY_STATUS_OK, NR_E_NONE, NULL, NULL, NULL, NULL, NULL, NULL, false}

/* The word upstream puts before an error's message when displaying it
 * ("invalid argument: ", "not found: ", ...; "" for none). */
const char *nr_errkind_prefix(nr_errkind kind);

/* Status that the ABI reports for an error kind. */
NemoRelayStatus nr_errkind_status(nr_errkind kind);

/* Sets err (if non-NULL) to kind + formatted message, replacing what it held.
 * Returns the matching status so callers can `return nr_error_set(...)`. */
NemoRelayStatus nr_error_set(nr_error *err, nr_errkind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
NemoRelayStatus nr_error_setv(nr_error *err, nr_errkind kind, const char *fmt, va_list ap);

/* Out of memory: sets a static-text message without allocating more than
 * strdup of a short string. */
NemoRelayStatus nr_error_nomem(nr_error *err);

/* Prefixes the message with "prefix: " (no-op on an empty error). */
void nr_error_prefix(nr_error *err, const char *prefix);

/* The status err holds; INTERNAL when the caller passed no err (it asked not
 * to be told why, so only the failure itself is reported). */
static inline NemoRelayStatus nr_error_status(const nr_error *err)
{
    return err != NULL ? err->status : NEMO_RELAY_STATUS_INTERNAL;
}

/* Moves src into dst (dst is cleared first; src becomes empty, also when dst
 * is NULL). */
void nr_error_move(nr_error *dst, nr_error *src);

/* Releases everything err owns and resets it to empty. */
void nr_error_clear(nr_error *err);

/* Message or "" (never NULL). */
const char *nr_error_message(const nr_error *err);

/* Stable display name of a status, e.g. "Internal". */
const char *nr_status_name(NemoRelayStatus status);

/* strdup that returns NULL for NULL. */
char *nr_strdup(const char *s);

#endif /* NR_ERROR_H */
