/* nr_scope_ops.c -- push, pop, marks and scope-local registration. */
#include "nr_scope_ops.h"

#include "nr_emit.h"
#include "nr_json.h"

NemoRelayStatus nr_check_timestamp(const int64_t *ts_us, nr_error *err)
{
    if (ts_us != NULL && !nr_time_in_range(*ts_us))
        return nr_error_set(err, NR_E_INVALID_ARG,
                            "timestamp unix microseconds are outside supported range");
    return NEMO_RELAY_STATUS_OK;
}

/* Converts the payloads now, so a bad one fails before anything changes. */
static NemoRelayStatus check_payloads(nr_value *a, nr_value *b, nr_value *c, nr_error *err)
{
    nr_value *vs[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (vs[i] != NULL && nr_value_json(vs[i], err) == NULL)
            return err != NULL ? err->status : NEMO_RELAY_STATUS_INVALID_JSON;
    return NEMO_RELAY_STATUS_OK;
}

int64_t nr_end_timestamp(const nr_scope *node, const int64_t *ts_us)
{
    if (ts_us != NULL)
        return *ts_us;
    int64_t now = nr_now_us();
    if (now > node->start_us)
        return now;
    /* bumped past the start, but never beyond the last representable time */
    return node->start_us < NR_TIME_MAX_US ? node->start_us + 1 : NR_TIME_MAX_US;
}

NemoRelayStatus nr_scope_push(const nr_push_args *a, nr_scope **out, nr_error *err)
{
    *out = NULL;
    NemoRelayStatus st;
    if (nr_scope_type_name(a->type) == NULL)
        return nr_error_set(err, NR_E_INVALID_ARG, "invalid scope type %d", (int)a->type);
    if ((st = nr_check_timestamp(a->ts_us, err)) != NEMO_RELAY_STATUS_OK)
        return st;
    if ((st = check_payloads(a->data, a->metadata, a->input, err)) != NEMO_RELAY_STATUS_OK)
        return st;
    nr_scope_init init = {
        .name = a->name,
        .type = a->type,
        .family = NR_FAMILY_SCOPE,
        .attributes = a->attributes,
        .parent = a->parent,
        .start_us = a->ts_us,
        .data = a->data,
        .metadata = a->metadata,
    };
    nr_scope *node = nr_visible_push(&init, err);
    if (node == NULL)
        return nr_error_status(err);
    if (nr_emit_wanted()) {
        nr_emit_and_release(nr_event_new_scope(NR_PHASE_START, node, node->start_us, a->input,
                                               node->metadata, NULL, NULL),
                            node);
    }
    *out = node;
    return NEMO_RELAY_STATUS_OK;
}

NemoRelayStatus nr_scope_pop(const nr_uuid *u, nr_value *output, nr_value *metadata,
                             const int64_t *ts_us, nr_error *err)
{
    NemoRelayStatus st;
    if ((st = nr_check_timestamp(ts_us, err)) != NEMO_RELAY_STATUS_OK)
        return st;
    if ((st = check_payloads(output, metadata, NULL, err)) != NEMO_RELAY_STATUS_OK)
        return st;
    nr_scope *node = NULL;
    if ((st = nr_visible_pop(u, &node, err)) != NEMO_RELAY_STATUS_OK) {
        nr_scope_release(node); /* an ended scope unlinked from this chain */
        return st;
    }
    if (nr_emit_wanted()) {
        nr_value *merged = nr_value_merge_shallow(node->metadata, metadata);
        /* The popped scope's own subscribers see its end event. */
        nr_emit_and_release(nr_event_new_scope(NR_PHASE_END, node, nr_end_timestamp(node, ts_us),
                                               output, merged, NULL, NULL),
                            node);
        nr_value_release(merged);
    }
    nr_registry_drop_locals(node);
    nr_scope_release(node);
    return NEMO_RELAY_STATUS_OK;
}

NemoRelayStatus nr_scope_mark(const char *name, const nr_uuid *parent, nr_value *data,
                              nr_value *metadata, const int64_t *ts_us, nr_error *err)
{
    NemoRelayStatus st;
    if ((st = nr_check_timestamp(ts_us, err)) != NEMO_RELAY_STATUS_OK)
        return st;
    if ((st = check_payloads(data, metadata, NULL, err)) != NEMO_RELAY_STATUS_OK)
        return st;
    if (!nr_emit_wanted())
        return NEMO_RELAY_STATUS_OK;
    nr_scope *top = nr_visible_top(err);
    if (top == NULL)
        return nr_error_status(err);
    nr_event *ev = nr_event_new_mark(name, parent != NULL ? parent : &top->uuid,
                                     ts_us != NULL ? *ts_us : nr_now_us(), data, metadata, err);
    st = ev != NULL ? NEMO_RELAY_STATUS_OK : nr_error_status(err);
    nr_emit_and_release(ev, top);
    nr_scope_release(top);
    return st;
}

NemoRelayStatus nr_scope_local_register(const nr_uuid *u, const nr_callback_spec *spec,
                                        nr_error *err)
{
    nr_scope *top = nr_visible_top(err);
    if (top == NULL)
        return nr_error_status(err);
    nr_scope *node = nr_chain_find(top, u);
    NemoRelayStatus st;
    if (node == NULL) {
        char id[NR_UUID_STR_LEN];
        nr_uuid_format(u, id);
        st = nr_error_set(err, NR_E_SCOPE_NOT_FOUND, "scope %s not found", id);
    } else {
        st = nr_register(spec, node, err);
    }
    nr_scope_release(top);
    return st;
}

bool nr_scope_local_deregister(const nr_uuid *u, nr_mw_kind kind, const char *name)
{
    nr_scope *top = nr_visible_top(NULL);
    if (top == NULL)
        return false;
    nr_scope *node = nr_chain_find(top, u);
    bool found = node != NULL && nr_deregister(kind, name, node);
    nr_scope_release(top);
    return found;
}
