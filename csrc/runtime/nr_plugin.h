/*
 * nr_plugin.h -- plugin kinds and the active plugin configuration.
 *
 * A plugin kind is something that can install middleware from a piece of
 * configuration: a Python object, or a native plugin loaded by the loader.
 * A configuration document
 *
 *   {"version": 1,
 *    "components": [{"kind": "...", "enabled": true, "config": {...}}, ...],
 *    "policy": {"unknown_component": "warn", "unknown_field": "warn",
 *               "unsupported_value": "error"}}
 *
 * is validated (pure: a report of diagnostics) and initialized as one
 * transaction: the previous configuration's registrations are rolled back,
 * each enabled component registers under its own namespace
 * ("__nemo_relay_plugin__<kind>__", plus "<n>__" when the kind appears more
 * than once), and on failure everything is rolled back and the previous
 * configuration restored (upstream semantics, reference §3).
 *
 * Plugins are called with no runtime lock held.  Configuration changes and
 * validations are serialised: while one runs, another thread waits for it
 * (a binding must not hold a lock the running one needs) and the thread
 * running it (a plugin calling back in) gets NR_E_CONFLICT.
 *
 * Ownership: documents passed in are borrowed; reports returned are new
 * cJSON trees the caller deletes.
 */
#ifndef NR_PLUGIN_H
#define NR_PLUGIN_H

#include "nr_registry.h"

#include <cjson/cJSON.h>

/* A registration context: valid only during a plugin's register call. */
typedef struct nr_plugin_ctx nr_plugin_ctx;

typedef struct nr_plugin_ops {
    /* Optional.  Appends diagnostics for `config` to the `diagnostics` array.
     * A non-OK status becomes one error diagnostic (code `failure_code`)
     * carrying err's message. */
    NemoRelayStatus (*validate)(void *ud, const char *kind, const cJSON *config,
                                cJSON *diagnostics, nr_error *err);
    /* Required.  Registers middleware through ctx. */
    NemoRelayStatus (*register_)(void *ud, const char *kind, const cJSON *config,
                                 nr_plugin_ctx *ctx, nr_error *err);
    /* Optional.  Called once when the kind is gone and nothing uses it. */
    void (*release)(void *ud);
    /* Diagnostic code for a failing validate, e.g. "plugin.validate_failed". */
    const char *failure_code;
} nr_plugin_ops;

/* Registers a kind.  A duplicate -> NR_E_ALREADY_EXISTS "plugin 'K' is already
 * registered" (nothing taken: release is not called). */
NemoRelayStatus nr_plugin_register_kind(const char *kind, bool allows_multiple_components,
                                        const nr_plugin_ops *ops, void *ud, nr_error *err);

/* Removes a kind from future validation/initialization; returns whether it
 * existed.  Active registrations made by it stay until the configuration is
 * cleared. */
bool nr_plugin_deregister_kind(const char *kind);

/* The same, but only while the kind is still the one registered with ud (a
 * closing activation must not remove a kind someone registered anew). */
bool nr_plugin_deregister_kind_of(const char *kind, const void *ud);

/* The registered kinds, sorted: a JSON array of strings (caller deletes). */
cJSON *nr_plugin_list_kinds(void);

/* Validates a configuration document.  A malformed document (wrong types,
 * missing kind, ...) -> NR_E_INVALID_ARG.  *report = {"diagnostics": [...]}. */
NemoRelayStatus nr_plugin_validate(const cJSON *config, cJSON **report, nr_error *err);

/* Opaque owner of the configuration while a dynamic host is active: while a
 * lease is held, initialize and clear without that lease fail with
 * NR_E_CONFLICT. */
typedef unsigned long nr_plugin_lease;
#define NR_PLUGIN_NO_LEASE 0ul

/* Takes the lease (NR_E_CONFLICT if held, or if a configuration without a
 * lease is active).  *out is the token for initialize/clear/release. */
NemoRelayStatus nr_plugin_lease_acquire(nr_plugin_lease *out, nr_error *err);
void nr_plugin_lease_release(nr_plugin_lease lease);

/* Replaces the active configuration (see above).  *report as validate's. */
NemoRelayStatus nr_plugin_initialize(const cJSON *config, nr_plugin_lease lease, cJSON **report,
                                     nr_error *err);

/* Rolls back the active configuration's registrations.  Kinds stay. */
NemoRelayStatus nr_plugin_clear(nr_plugin_lease lease, nr_error *err);

/* Interpreter or process shutdown: clears whatever is active, lease or not,
 * and drops the lease. */
void nr_plugin_shutdown(void);

/* A copy of the active configuration's report, or NULL if none is active. */
cJSON *nr_plugin_report(void);

/* Registers a callback through a plugin context: the name is qualified with
 * the component's namespace and the registration is rolled back with the
 * configuration.  Fails with NR_E_INVALID_ARG once register has returned. */
NemoRelayStatus nr_plugin_ctx_register(nr_plugin_ctx *ctx, const nr_callback_spec *spec,
                                       nr_error *err);

/* Runs fn(ud) when the context's registrations are rolled back (clear, a
 * replacing configuration, a failed initialize), after its callbacks are
 * deregistered: for state a component keeps outside the middleware
 * registries.  One per context (NR_E_ALREADY_EXISTS for a second). */
NemoRelayStatus nr_plugin_ctx_on_rollback(nr_plugin_ctx *ctx, void (*fn)(void *ud), void *ud,
                                          nr_error *err);

/* The namespace prefix of a context ("__nemo_relay_plugin__<kind>__..."). */
const char *nr_plugin_ctx_namespace(const nr_plugin_ctx *ctx);

/* Fork support. */
void nr_plugin_fork_prepare(void);
void nr_plugin_fork_parent(void);
void nr_plugin_fork_child(void);

#endif /* NR_PLUGIN_H */
