/*
 * nr_registry.h -- middleware and subscriber registrations.
 *
 * There are twelve kinds (a subscriber and eleven middleware kinds).  Each
 * kind has a global registry keyed by unique name, and every scope node can
 * carry scope-local registrations that vanish when the scope is popped.
 *
 * Registries are immutable sets replaced copy-on-write, so a call takes a
 * snapshot (a few reference counts under one lock) and then calls out with no
 * lock held; deregistration affects later calls only.  Within a registry,
 * middleware is ordered by ascending priority, ties by name; subscribers by
 * registration order.  The effective list of a call is the global list, then
 * the scope-local lists of every node on the visible chain from root to top,
 * stable-sorted by priority.
 *
 * Ownership: a registration owns its user_data from the moment nr_register
 * succeeds; free_fn(user_data) runs exactly once, when the last registry set
 * or snapshot holding the record releases it, and then the owner (a loaded
 * plugin) is released.  A failed nr_register took nothing.
 */
#ifndef NR_REGISTRY_H
#define NR_REGISTRY_H

#include "nr_error.h"
#include "nr_scope.h"
#include "nr_sync.h"
#include "nr_value.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum nr_mw_kind {
    NR_MW_SUBSCRIBER = 0,
    NR_MW_TOOL_SANITIZE_REQUEST,
    NR_MW_TOOL_SANITIZE_RESPONSE,
    NR_MW_TOOL_CONDITIONAL,
    NR_MW_TOOL_REQUEST_INTERCEPT,
    NR_MW_TOOL_EXECUTION,
    NR_MW_LLM_SANITIZE_REQUEST,
    NR_MW_LLM_SANITIZE_RESPONSE,
    NR_MW_LLM_CONDITIONAL,
    NR_MW_LLM_REQUEST_INTERCEPT,
    NR_MW_LLM_EXECUTION,
    NR_MW_LLM_STREAM_EXECUTION,
    NR_MW_KIND_COUNT
} nr_mw_kind;

#define NR_MW_BIT(kind) (1u << (kind))

/* Human-readable kind, e.g. "tool sanitize-request guardrail". */
const char *nr_mw_kind_name(nr_mw_kind kind);

struct nr_event;
struct nr_stream;

struct nr_call;

/* What a middleware callback is told about the call it is part of. */
typedef struct nr_call_info {
    const char *name;     /* tool or LLM name */
    void *env;            /* the caller's environment (binding-defined), or NULL */
    struct nr_call *call; /* the managed call, or NULL outside one */
    size_t position;      /* execution intercepts: this callback's index in the chain */
    struct nr_callback *callback; /* execution intercepts: the record being called */
} nr_call_info;

/* A continuation: the rest of an execution chain.  May be called any number
 * of times, from any thread, while the callback that received it runs. */
typedef struct nr_next {
    NemoRelayStatus (*fn)(void *ctx, nr_value *in, nr_value **out, nr_error *err);
    void *ctx;
} nr_next;

typedef struct nr_stream_next {
    NemoRelayStatus (*fn)(void *ctx, nr_value *request, struct nr_stream **out, nr_error *err);
    void *ctx;
} nr_stream_next;

/* Callback signatures.  Inputs are borrowed; *out values are new references
 * (or malloc'd strings) that transfer to the runtime, on OK and on failure
 * alike: after a failure the runtime releases whatever *out still holds, so a
 * callback that frees or keeps its output must leave *out NULL. */
typedef void (*nr_subscriber_fn)(void *ud, struct nr_event *ev);
typedef NemoRelayStatus (*nr_transform_fn)(void *ud, const nr_call_info *ci, nr_value *in,
                                           nr_value **out, nr_error *err);
/* *out_reason NULL allows; a malloc'd reason rejects. */
typedef NemoRelayStatus (*nr_conditional_fn)(void *ud, const nr_call_info *ci, nr_value *in,
                                             char **out_reason, nr_error *err);
/* annotated may be NULL; *out_annotated NULL means none. */
typedef NemoRelayStatus (*nr_llm_intercept_fn)(void *ud, const nr_call_info *ci,
                                               nr_value *request, nr_value *annotated,
                                               nr_value **out_request, nr_value **out_annotated,
                                               nr_error *err);
typedef NemoRelayStatus (*nr_execution_fn)(void *ud, const nr_call_info *ci, nr_value *in,
                                           const nr_next *next, nr_value **out, nr_error *err);
typedef NemoRelayStatus (*nr_stream_execution_fn)(void *ud, const nr_call_info *ci,
                                                  nr_value *request, const nr_stream_next *next,
                                                  struct nr_stream **out, nr_error *err);

typedef union nr_callback_fn {
    nr_subscriber_fn subscriber;
    nr_transform_fn transform;         /* sanitizers and the tool request intercept */
    nr_conditional_fn conditional;
    nr_llm_intercept_fn llm_intercept;
    nr_execution_fn execution;
    nr_stream_execution_fn stream_execution;
    void (*any)(void);
} nr_callback_fn;

/* Something a registration keeps alive (a loaded plugin library). */
typedef struct nr_owner {
    void (*retain)(struct nr_owner *self);
    void (*release)(struct nr_owner *self);
} nr_owner;

typedef struct nr_callback {
    nr_refcount refs;
    nr_mw_kind kind;
    char *name;         /* owned */
    int32_t priority;
    bool break_chain;   /* request intercepts: stop after this entry */
    bool native;        /* plain C code: the binding may run it without its lock */
    uint64_t seq;       /* registration order */
    nr_callback_fn fn;
    void *user_data;
    void (*free_fn)(void *user_data);
    void (*flush)(void *user_data); /* subscribers: see nr_emit_flush; may be NULL */
    nr_owner *owner;    /* retained while the record lives */
} nr_callback;

typedef struct nr_callback_spec {
    nr_mw_kind kind;
    const char *name; /* copied; NULL reads as "" */
    int32_t priority;
    bool break_chain;
    bool native;
    nr_callback_fn fn;
    void *user_data;
    void (*free_fn)(void *user_data);
    void (*flush)(void *user_data); /* subscribers only; may be NULL */
    nr_owner *owner;  /* retained on success */
} nr_callback_spec;

/* Registers spec globally (scope NULL) or on scope.  Duplicate name within the
 * kind (and scope) -> NR_E_ALREADY_EXISTS; a popped scope -> NR_E_SCOPE_NOT_FOUND.
 * On failure nothing was taken. */
NemoRelayStatus nr_register(const nr_callback_spec *spec, nr_scope *scope, nr_error *err);

/* Removes a registration; returns whether it existed.  Calls in flight keep
 * their snapshot. */
bool nr_deregister(nr_mw_kind kind, const char *name, nr_scope *scope);

/* Drops every scope-local registration of s (on pop, and when a node dies). */
void nr_registry_drop_locals(nr_scope *s);

/* The global registrations, for tools that show them: a JSON array of
 * {"kind", "name", "priority", "break_chain", "native"} in registry order
 * (caller deletes; NULL on allocation failure). */
struct cJSON *nr_registry_describe(void);

/* Removes every global registration (used at interpreter shutdown). */
void nr_registry_clear_all(void);

nr_callback *nr_callback_ref(nr_callback *cb);
void nr_callback_release(nr_callback *cb);

/* Cheap checks, no lock: how many registrations exist for a kind (global and
 * scope-local), and how many native ones exist in all. */
long nr_registry_count(nr_mw_kind kind);
/* The same summed over the kinds in kind_mask (NR_MW_BIT bits). */
long nr_registry_count_mask(unsigned kind_mask);
long nr_registry_native_count(void);

typedef struct nr_mw_list {
    size_t n;
    nr_callback **items; /* borrowed from the snapshot's sets */
} nr_mw_list;

struct nr_mw_set;

/* A call's view of the registries. */
typedef struct nr_snapshot {
    struct nr_mw_set *global;      /* strong */
    struct nr_mw_set **locals;     /* strong, root to top */
    size_t n_locals;
    struct nr_mw_set *locals_small[4];
    nr_mw_list lists[NR_MW_KIND_COUNT];
    unsigned merged;               /* kinds whose items array the snapshot owns */
} nr_snapshot;

/* Takes a snapshot of the kinds in kind_mask for the chain topped by
 * chain_top (may be NULL: global only).  Cannot fail: if merging runs out of
 * memory the scope-local entries are left out of that kind. */
void nr_snapshot_take(nr_snapshot *snap, nr_scope *chain_top, unsigned kind_mask);
void nr_snapshot_release(nr_snapshot *snap);

static inline const nr_mw_list *nr_snapshot_list(const nr_snapshot *snap, nr_mw_kind kind)
{
    return &snap->lists[kind];
}

/* Fork support: hold the registry lock across fork(). */
void nr_registry_fork_prepare(void);
void nr_registry_fork_parent(void);
void nr_registry_fork_child(void);

#endif /* NR_REGISTRY_H */
