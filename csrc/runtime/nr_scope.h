/*
 * nr_scope.h -- scope nodes: the immutable records that scope chains are made
 * of, and the handles of tool and LLM calls.
 *
 * A node's identity (uuid, name, type, attributes, parent uuid, start time,
 * data, metadata) never changes after creation.  A chain is a top node and the
 * nodes below it (`below` links, strong references); chains share their lower
 * nodes, so pushing onto one chain never disturbs another.  The only mutable
 * part of a node is its scope-local middleware, which the registry guards.
 *
 * Ownership: nr_scope_new returns a node with one reference; nr_scope_ref /
 * nr_scope_release manage it.  Releasing a node releases the chain below it.
 */
#ifndef NR_SCOPE_H
#define NR_SCOPE_H

#include "nr_clock.h"
#include "nr_error.h"
#include "nr_sync.h"
#include "nr_value.h"

#include <stdbool.h>
#include <stdint.h>

/* Which attribute vocabulary a node's bits use, and how it is recorded. */
typedef enum nr_family {
    NR_FAMILY_SCOPE = 0, /* PARALLEL=1 "parallel", RELOCATABLE=2 "relocatable" */
    NR_FAMILY_TOOL = 1,  /* REMOTE=1 "remote" */
    NR_FAMILY_LLM = 2    /* STATEFUL=1 "stateful", STREAMING=2 "streaming" */
} nr_family;

struct nr_mw_set;

typedef struct nr_scope {
    nr_refcount refs;
    nr_uuid uuid;
    nr_uuid parent_uuid;
    bool has_parent;
    bool is_root;        /* the hidden root of a stack: never emitted or popped */
    nr_family family;
    int32_t type;        /* NEMO_RELAY_SCOPE_TYPE_* */
    uint32_t attributes; /* bits of the family's vocabulary */
    int64_t start_us;
    char *name;          /* owned */
    nr_value *data;      /* owned reference or NULL: kept on the handle, not emitted */
    nr_value *metadata;  /* owned reference or NULL: start metadata */
    char *tool_call_id;  /* owned or NULL (tool calls) */
    char *model_name;    /* owned or NULL (LLM calls) */
    struct nr_scope *below;    /* strong reference: the chain link (NULL for roots and calls) */
    struct nr_mw_set *locals;  /* scope-local middleware; guarded by the registry lock */
    atomic_bool popped;
    void *host_cache;    /* the binding's wrapper object, guarded by the binding's
                          * own lock (the GIL); the runtime never touches it */
} nr_scope;

typedef struct nr_scope_init {
    const char *name;          /* copied; NULL reads as "" */
    int32_t type;
    nr_family family;
    uint32_t attributes;       /* masked to the family's known bits */
    const nr_uuid *parent;     /* copied; NULL = no parent */
    const int64_t *start_us;   /* NULL = now */
    nr_value *data;            /* borrowed; the node takes its own reference */
    nr_value *metadata;        /* borrowed */
    const char *tool_call_id;  /* copied */
    const char *model_name;    /* copied */
    nr_scope *below;           /* borrowed; the node takes its own reference */
    bool is_root;
} nr_scope_init;

/* A new node (one reference) or NULL with err set. */
nr_scope *nr_scope_new(const nr_scope_init *init, nr_error *err);

/* A fresh stack root: name "root", type agent, no parent. */
nr_scope *nr_scope_new_root(nr_error *err);

nr_scope *nr_scope_ref(nr_scope *s);
void nr_scope_release(nr_scope *s); /* NULL-safe; releases the chain iteratively */

/* The node with uuid u on the chain starting at top (borrowed), or NULL. */
nr_scope *nr_chain_find(nr_scope *top, const nr_uuid *u);

/* Known attribute bits of a family. */
uint32_t nr_family_mask(nr_family family);

/* Lowercase category name of a scope type ("agent" ... "unknown"), or NULL if
 * the value is out of range. */
const char *nr_scope_type_name(int32_t type);

#endif /* NR_SCOPE_H */
