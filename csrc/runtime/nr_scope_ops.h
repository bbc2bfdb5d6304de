/*
 * nr_scope_ops.h -- scope operations on the visible chain: push, pop, marks,
 * and scope-local registration (the runtime side of `nemo_relay.scope` and of
 * the host API's scope_* functions).
 *
 * Every operation checks its inputs before changing anything, so a failed
 * call leaves the stack as it was.
 */
#ifndef NR_SCOPE_OPS_H
#define NR_SCOPE_OPS_H

#include "nr_registry.h"
#include "nr_stack.h"

typedef struct nr_push_args {
    const char *name;       /* NULL reads as "" */
    int32_t type;           /* NEMO_RELAY_SCOPE_TYPE_*; out of range -> NR_E_INVALID_ARG */
    uint32_t attributes;    /* unknown bits are dropped */
    const nr_uuid *parent;  /* explicit parent uuid, or NULL for the visible top */
    nr_value *data;         /* borrowed, optional: kept on the handle, never emitted */
    nr_value *metadata;     /* borrowed, optional: on the handle and the start event */
    nr_value *input;        /* borrowed, optional: the start event's data */
    const int64_t *ts_us;   /* NULL = now */
} nr_push_args;

/* Pushes a scope on the visible chain and emits its start event.  *out is the
 * new node (new reference). */
NemoRelayStatus nr_scope_push(const nr_push_args *a, nr_scope **out, nr_error *err);

/* Pops the scope with uuid u (must be the visible top), emits its end event
 * (data = output, metadata = start metadata merged with metadata, timestamp =
 * ts_us as given, else now bumped past the start) and drops the scope's
 * scope-local registrations.  Values are borrowed. */
NemoRelayStatus nr_scope_pop(const nr_uuid *u, nr_value *output, nr_value *metadata,
                             const int64_t *ts_us, nr_error *err);

/* Emits a mark parented to parent, or to the visible top. */
NemoRelayStatus nr_scope_mark(const char *name, const nr_uuid *parent, nr_value *data,
                              nr_value *metadata, const int64_t *ts_us, nr_error *err);

/* OK when ts_us is NULL or within the supported range, else INVALID_ARG
 * "timestamp unix microseconds are outside supported range". */
NemoRelayStatus nr_check_timestamp(const int64_t *ts_us, nr_error *err);

/* The end timestamp for a node: explicit, else now bumped to start + 1 us. */
int64_t nr_end_timestamp(const nr_scope *node, const int64_t *ts_us);

/* Registers a scope-local callback on the node with uuid u, which must be on
 * the visible chain ("scope <uuid> not found" otherwise). */
NemoRelayStatus nr_scope_local_register(const nr_uuid *u, const nr_callback_spec *spec,
                                        nr_error *err);
/* Deregisters a scope-local callback; false if the scope is not on the
 * visible chain or the name is unknown. */
bool nr_scope_local_deregister(const nr_uuid *u, nr_mw_kind kind, const char *name);

#endif /* NR_SCOPE_OPS_H */
