/*
 * native.h -- the host side of the native plugin ABI v1 (internal).
 *
 * host_api.c      the host table: strings, the thread's last error, scopes,
 *                 stacks, and the plugin_context_register_* functions
 * native_call.c   adapters that run plugin callbacks as runtime callbacks
 *                 (JSON in and out, ownership of every returned string)
 * native_loader.c manifests to loaded instances, activations and teardown
 *
 * Ownership rules (SPEC D8): every registration holds a reference to its
 * plugin instance; the library is closed only when the last reference is
 * gone, after the registrations' free_fns and the descriptor's drop.
 */
#ifndef NR_NATIVE_H
#define NR_NATIVE_H

#include "nemo_relay_plugin.h"
#include "nr_error.h"
#include "nr_plugin.h"
#include "nr_registry.h"
#include "nr_value.h"

/* Host strings: immutable bytes with a length.  An owned string (made by
 * string_new) keeps its bytes inline, NUL-terminated privately; a view (the
 * host's borrowed inputs to a plugin call) points at bytes the host keeps
 * alive for the call, so JSON the host already has is never copied. */
struct NemoRelayNativeString {
    size_t len;
    uint32_t magic;
    const char *data; /* bytes (owned strings: points at `bytes`) */
    char bytes[];
};

/* A new host string copying len bytes of s (no UTF-8 check: the host only
 * makes strings from UTF-8 it produced).  NULL on allocation failure. */
NemoRelayNativeString *nr_native_string(const char *s, size_t len);

/* Fills *view to borrow len bytes at s (valid while s is).  A plugin must
 * not free it; string_free ignores views. */
const NemoRelayNativeString *nr_native_view(NemoRelayNativeString *view, const char *s, size_t len);

/* The table handed to every plugin; lives for the process. */
const NemoRelayNativeHostApiV1 *nr_native_host_api(void);

/* The calling thread's last error (set by plugins through the table). */
void nr_native_last_error_clear(void);
void nr_native_last_error_set(const char *message);
/* The message, or NULL when none is set or it is empty (R23). */
const char *nr_native_last_error(void);

/* A plugin call (callback or entry) returned the failure st: sets err to
 * `kind` -- NR_E_NONE for the kind st maps to (GuardrailRejected stays a
 * rejection, with the message as its reason) -- with the thread's last
 * error text, or the printf-style fallback when there is none; then clears
 * the last error.  Returns the status to propagate. */
NemoRelayStatus nr_native_failure(NemoRelayStatus st, nr_errkind kind, nr_error *err,
                                  const char *fallback, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A host function failed with err: record its text as the thread's last
 * error and return its status. */
NemoRelayStatus nr_native_report(nr_error *err);

/* A loaded plugin instance. */
typedef struct nr_native_instance {
    nr_owner owner; /* first: registrations hold the instance through this */
    nr_refcount refs;
    void *library;                 /* dlopen handle */
    NemoRelayNativePluginV1 desc;  /* as the entry filled it */
    NemoRelayNativeSubscriberFlushFn subscriber_flush; /* optional export, may be NULL */
    char *kind;
    char *library_path;
} nr_native_instance;

void nr_native_instance_retain(nr_native_instance *inst);
void nr_native_instance_release(nr_native_instance *inst);

/* The context a descriptor's register callback receives. */
struct NemoRelayNativePluginContext {
    nr_plugin_ctx *ctx;
    nr_native_instance *instance;
};

/* Registration plumbing (native_call.c): wraps a plugin callback into a
 * runtime callback spec for `kind`; on failure nothing is taken. */
NemoRelayStatus nr_native_register(NemoRelayNativePluginContext *pctx, nr_mw_kind kind,
                                   const NemoRelayNativeString *name, int32_t priority,
                                   bool break_chain, void (*cb)(void), void *user_data,
                                   NemoRelayNativeFreeFn free_fn);

/* Plugin-kind operations for a loaded instance (native_call.c). */
extern const nr_plugin_ops nr_native_plugin_ops;

/* Whether s is a live owned string made by this host's string_new: the only
 * kind a plugin may hand over (a hardening check on plugin-supplied
 * pointers; NULL and borrowed views are not). */
bool nr_native_string_owned(const NemoRelayNativeString *s);

/* Frees an owned host string; the caller gives s up.  NULL and views (the
 * host's borrowed inputs, which a plugin may pass back) are left alone.  It
 * is also the table's string_free. */
void nr_native_string_free(NemoRelayNativeString *s);

/* Reads a NUL-terminated copy of a plugin string ("" for NULL); caller frees. */
char *nr_native_string_dup(const NemoRelayNativeString *s);

/* Whether a plugin string holds a NUL byte (a C copy of it would be cut). */
bool nr_native_string_has_nul(const NemoRelayNativeString *s);

/* A copy of a plugin string that becomes a C string (a name): NULL with err
 * set (NR_E_INVALID_ARG "<what> contains a NUL byte", or no memory) when it
 * cannot be one.  Caller frees. */
char *nr_native_name_dup(const NemoRelayNativeString *s, const char *what, nr_error *err);

#endif /* NR_NATIVE_H */
