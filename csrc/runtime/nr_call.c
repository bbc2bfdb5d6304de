/* nr_call.c -- the managed tool/LLM pipeline: guardrails, intercepts, events. */
#include "nr_call.h"

#include "nr_codec.h"
#include "nr_pricing.h"
#include "nr_emit.h"
#include "nr_event.h"
#include "nr_json.h"
#include "nr_runtime.h"
#include "nr_scope_ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nr_call {
    nr_refcount refs;
    nr_call_kind kind;
    char *name;
    nr_call_info info;        /* name + env, handed to every callback */
    void (*env_release)(void *env);
    nr_scope *chain;          /* strong: the visible chain when the call began */
    nr_uuid parent;           /* parent of the call's events */
    nr_snapshot snap;
    nr_scope *handle;         /* strong: uuid, start time, data, metadata */
    nr_value *input;          /* strong: what execution receives */
    nr_value *annotated;      /* strong or NULL: LLM annotated request */
    nr_value *metadata;       /* strong or NULL */
    nr_value *data;           /* strong or NULL */
    const nr_llm_codec *codec;                 /* borrowed (lives in env) or NULL */
    const nr_llm_response_codec *rcodec;       /* borrowed (lives in env) or NULL */
    nr_stream_agg *agg;       /* built-in response codec: the stream's chunks, folded */
    pthread_mutex_t agg_lock;
    atomic_bool ended;
    atomic_uint chunks;
    /* Holders of the snapshot: the unfinished call itself plus every chain
     * running or stream open from it.  Whoever drops it to zero releases the
     * snapshot, so a finished call keeps no registration (and no plugin
     * library) alive however long its handle lingers. */
    atomic_int snap_users;
};

static bool snap_acquire(nr_call *c)
{
    int n = atomic_load(&c->snap_users);
    while (n > 0)
        if (atomic_compare_exchange_weak(&c->snap_users, &n, n + 1))
            return true;
    return false;
}

static void snap_drop(nr_call *c)
{
    if (atomic_fetch_sub(&c->snap_users, 1) == 1)
        nr_snapshot_release(&c->snap);
}

bool nr_call_ended(const nr_call *c)
{
    return atomic_load(&((nr_call *)c)->ended);
}

bool nr_call_hold_snapshot(nr_call *c)
{
    return snap_acquire(c);
}

void nr_call_drop_snapshot(nr_call *c)
{
    snap_drop(c);
}

typedef struct kinds {
    nr_mw_kind sanitize_request, sanitize_response, conditional, request, execution;
} kinds;

static const kinds KINDS[2] = {
    [NR_CALL_TOOL] = {NR_MW_TOOL_SANITIZE_REQUEST, NR_MW_TOOL_SANITIZE_RESPONSE,
                      NR_MW_TOOL_CONDITIONAL, NR_MW_TOOL_REQUEST_INTERCEPT, NR_MW_TOOL_EXECUTION},
    [NR_CALL_LLM] = {NR_MW_LLM_SANITIZE_REQUEST, NR_MW_LLM_SANITIZE_RESPONSE,
                     NR_MW_LLM_CONDITIONAL, NR_MW_LLM_REQUEST_INTERCEPT, NR_MW_LLM_EXECUTION},
};

static unsigned kind_mask(nr_call_kind kind)
{
    const kinds *k = &KINDS[kind];
    unsigned m = NR_MW_BIT(k->sanitize_request) | NR_MW_BIT(k->sanitize_response) |
                 NR_MW_BIT(k->conditional) | NR_MW_BIT(k->request) | NR_MW_BIT(k->execution);
    if (kind == NR_CALL_LLM)
        m |= NR_MW_BIT(NR_MW_LLM_STREAM_EXECUTION);
    return m;
}

bool nr_call_is_observed(nr_call_kind kind)
{
    const kinds *k = &KINDS[kind];
    /* sanitizers only matter when events are recorded */
    unsigned unrecorded = kind_mask(kind) & ~(NR_MW_BIT(k->sanitize_request) |
                                              NR_MW_BIT(k->sanitize_response));
    return nr_emit_wanted() || nr_registry_count_mask(unrecorded) > 0;
}

/* ---- small helpers --------------------------------------------------------- */

static nr_value *json_value_or_null(cJSON *j)
{
    return j != NULL ? nr_value_from_json(j) : NULL;
}

/* A status for a callback that reported OK without the output it owes. */
static NemoRelayStatus missing_output(nr_error *err, const nr_callback *cb)
{
    return nr_error_set(err, NR_E_CALLBACK, "%s '%s' returned no value", nr_mw_kind_name(cb->kind),
                        cb->name);
}

/* Runs a sanitizer chain over `in` for a recorded payload.  Fails closed:
 * any failure yields JSON null and a warning naming the guardrail.  Returns
 * a new reference (NULL only when `in` is NULL and there is nothing to run). */
static nr_value *sanitize(const nr_snapshot *snap, nr_mw_kind kind, const nr_call_info *info,
                          nr_value *in)
{
    const nr_mw_list *list = nr_snapshot_list(snap, kind);
    nr_value *cur = nr_value_ref(in);
    for (size_t i = 0; i < list->n; i++) {
        nr_callback *cb = list->items[i];
        nr_value *out = NULL;
        nr_error err = NR_ERROR_INIT;
        NemoRelayStatus st = cb->fn.transform(cb->user_data, info, cur, &out, &err);
        if (st == NEMO_RELAY_STATUS_OK && out == NULL)
            missing_output(&err, cb);
        else if (st == NEMO_RELAY_STATUS_OK && nr_value_json(out, &err) == NULL)
            st = err.status;
        nr_value_release(cur);
        cur = out;
        if (st != NEMO_RELAY_STATUS_OK || out == NULL) {
            nr_warn("%s '%s' failed (%s); the recorded payload is null", nr_mw_kind_name(kind),
                    cb->name, err.message != NULL ? err.message : nr_status_name(st));
            nr_error_clear(&err);
            nr_value_release(cur);
            return nr_value_new_null();
        }
    }
    return cur;
}

/* What an event records for payload v of call `name`: v itself, or JSON null
 * and a warning saying why when v cannot be converted to JSON (a string with
 * NUL, a lone surrogate, an int too long to print).  The caller still gets v.
 * Takes over the caller's reference to v; returns a new reference (or NULL
 * for a NULL v). */
static nr_value *recordable(nr_value *v, const char *what, const char *name)
{
    nr_error err = NR_ERROR_INIT;
    if (v == NULL || nr_value_json(v, &err) != NULL)
        return v;
    nr_warn("the %s of '%s' cannot be recorded (%s); the recorded payload is null", what, name,
            err.message != NULL ? err.message : nr_status_name(err.status));
    nr_error_clear(&err);
    nr_value_release(v);
    return nr_value_new_null();
}

static cJSON *profile_for(nr_call_kind kind, const nr_scope *handle, nr_value *annotation,
                          const char *annotation_key)
{
    cJSON *p = cJSON_CreateObject();
    if (p == NULL)
        return NULL;
    if (kind == NR_CALL_TOOL && handle->tool_call_id != NULL)
        nr_json_add(p, "tool_call_id", cJSON_CreateString(handle->tool_call_id));
    if (kind == NR_CALL_LLM && handle->model_name != NULL)
        nr_json_add(p, "model_name", cJSON_CreateString(handle->model_name));
    if (annotation != NULL) {
        const cJSON *a = nr_value_json(annotation, NULL);
        if (a != NULL && !cJSON_IsNull(a))
            nr_json_add(p, annotation_key, nr_json_dup(a));
    }
    return p;
}

/* metadata merged with {"otel.status_code": ..., "otel.status_description"?} */
static nr_value *status_metadata(nr_value *metadata, nr_end_status status, const char *description)
{
    static const char *const codes[] = {"OK", "ERROR", "UNSET"};
    cJSON *overlay = cJSON_CreateObject();
    if (overlay == NULL)
        return nr_value_ref(metadata);
    nr_json_add(overlay, "otel.status_code", cJSON_CreateString(codes[status]));
    if (status == NR_END_ERROR)
        nr_json_add(overlay, "otel.status_description",
                    cJSON_CreateString(description != NULL ? description : ""));
    const cJSON *base = metadata != NULL ? nr_value_json(metadata, NULL) : NULL;
    cJSON *merged = nr_json_merge_shallow(base, overlay);
    cJSON_Delete(overlay);
    return json_value_or_null(merged);
}

/* ---- guardrails ------------------------------------------------------------- */

typedef struct guard_ctx {
    nr_call_kind kind;
    const char *name;         /* target name */
    const nr_uuid *parent;
    nr_value *metadata;
    nr_scope *chain;
    bool record;              /* emit guardrail scopes and the rejection mark */
} guard_ctx;

static nr_scope *guardrail_node(const guard_ctx *g, const nr_callback *cb)
{
    nr_scope_init init = {.name = cb->name, .type = NEMO_RELAY_SCOPE_TYPE_GUARDRAIL,
                          .family = NR_FAMILY_SCOPE, .parent = g->parent,
                          .metadata = g->metadata};
    return nr_scope_new(&init, NULL);
}

static void guardrail_start(const guard_ctx *g, nr_scope *node)
{
    cJSON *d = cJSON_CreateObject();
    if (d == NULL)
        return;
    if (g->kind == NR_CALL_TOOL) {
        nr_json_add(d, "kind", cJSON_CreateString("tool_conditional_execution"));
        nr_json_add(d, "target_name", cJSON_CreateString(g->name));
    } else {
        nr_json_add(d, "kind", cJSON_CreateString("llm_conditional_execution"));
    }
    nr_value *data = json_value_or_null(d);
    nr_emit_and_release(nr_event_new_scope(NR_PHASE_START, node, node->start_us, data,
                                           node->metadata, NULL, NULL),
                        g->chain);
    nr_value_release(data);
}

static void guardrail_end(const guard_ctx *g, nr_scope *node, const char *reason,
                          const char *error)
{
    cJSON *d = cJSON_CreateObject();
    if (d == NULL)
        return;
    nr_json_add(d, "allowed", cJSON_CreateBool(reason == NULL && error == NULL));
    if (error != NULL) {
        nr_json_add(d, "error", cJSON_CreateString(error));
    } else {
        nr_json_add(d, "rejected", cJSON_CreateBool(reason != NULL));
        if (reason != NULL)
            nr_json_add(d, "rejection_reason", cJSON_CreateString(reason));
    }
    nr_value *data = json_value_or_null(d);
    nr_emit_and_release(nr_event_new_scope(NR_PHASE_END, node, nr_end_timestamp(node, NULL),
                                           data, node->metadata, NULL, NULL),
                        g->chain);
    nr_value_release(data);
}

static void rejection_mark(const guard_ctx *g, const char *reason)
{
    cJSON *d = cJSON_CreateObject();
    if (d == NULL)
        return;
    nr_json_add(d, "rejected", cJSON_CreateTrue());
    nr_json_add(d, "rejection_reason", cJSON_CreateString(reason));
    nr_value *data = json_value_or_null(d);
    nr_emit_and_release(nr_event_new_mark(g->name, g->parent, nr_now_us(), data, g->metadata, NULL),
                        g->chain);
    nr_value_release(data);
}

/* Evaluates the conditional guardrails in order; the first rejection or
 * failure stops (fail closed). */
static NemoRelayStatus run_guardrails(const guard_ctx *g, const nr_mw_list *list,
                                      const nr_call_info *info, nr_value *input, nr_error *err)
{
    for (size_t i = 0; i < list->n; i++) {
        nr_callback *cb = list->items[i];
        bool record = g->record && nr_emit_wanted();
        nr_scope *node = record ? guardrail_node(g, cb) : NULL;
        if (node != NULL)
            guardrail_start(g, node);
        char *reason = NULL;
        nr_error cerr = NR_ERROR_INIT;
        NemoRelayStatus st = cb->fn.conditional(cb->user_data, info, input, &reason, &cerr);
        if (st != NEMO_RELAY_STATUS_OK) {
            if (cerr.kind == NR_E_NONE)
                nr_error_set(&cerr, NR_E_CALLBACK, "%s '%s' failed: %s",
                             nr_mw_kind_name(cb->kind), cb->name, nr_status_name(st));
            if (node != NULL)
                guardrail_end(g, node, NULL, nr_error_message(&cerr));
            nr_scope_release(node);
            free(reason);
            nr_error_move(err, &cerr);
            return err != NULL ? err->status : st;
        }
        if (node != NULL)
            guardrail_end(g, node, reason, NULL);
        nr_scope_release(node);
        if (reason != NULL) {
            if (g->record && nr_emit_wanted())
                rejection_mark(g, reason);
            nr_error_set(err, NR_E_REJECTED, "%s", reason);
            if (err != NULL)
                err->reason = reason;
            else
                free(reason);
            return NEMO_RELAY_STATUS_GUARDRAIL_REJECTED;
        }
    }
    return NEMO_RELAY_STATUS_OK;
}

/* ---- request intercepts -------------------------------------------------------- */

static NemoRelayStatus run_request_chain(nr_call_kind kind, const nr_mw_list *list,
                                         const nr_call_info *info, nr_value *input,
                                         nr_value *annotated, nr_value **out,
                                         nr_value **out_annotated, nr_error *err)
{
    nr_value *cur = nr_value_ref(input);
    nr_value *ann = nr_value_ref(annotated);
    for (size_t i = 0; i < list->n; i++) {
        nr_callback *cb = list->items[i];
        nr_value *next = NULL, *next_ann = NULL;
        NemoRelayStatus st;
        if (kind == NR_CALL_TOOL)
            st = cb->fn.transform(cb->user_data, info, cur, &next, err);
        else
            st = cb->fn.llm_intercept(cb->user_data, info, cur, ann, &next, &next_ann, err);
        if (st == NEMO_RELAY_STATUS_OK && next == NULL)
            st = missing_output(err, cb);
        if (st != NEMO_RELAY_STATUS_OK) {
            nr_value_release(next);
            nr_value_release(next_ann);
            nr_value_release(cur);
            nr_value_release(ann);
            return st;
        }
        nr_value_release(cur);
        cur = next;
        if (kind == NR_CALL_LLM) {
            nr_value_release(ann);
            ann = next_ann;
        }
        if (cb->break_chain)
            break;
    }
    *out = cur;
    if (out_annotated != NULL)
        *out_annotated = ann;
    else
        nr_value_release(ann);
    return NEMO_RELAY_STATUS_OK;
}

/* ---- the call object ------------------------------------------------------------ */

nr_call *nr_call_ref(nr_call *c)
{
    if (c != NULL)
        nr_ref_inc(&c->refs);
    return c;
}

void nr_call_release(nr_call *c)
{
    if (c == NULL || !nr_ref_dec(&c->refs))
        return;
    nr_snapshot_release(&c->snap);
    nr_scope_release(c->chain);
    nr_scope_release(c->handle);
    nr_value_release(c->input);
    nr_value_release(c->annotated);
    nr_value_release(c->metadata);
    nr_value_release(c->data);
    nr_stream_agg_free(c->agg);
    pthread_mutex_destroy(&c->agg_lock);
    if (c->env_release != NULL)
        c->env_release(c->info.env);
    free(c->name);
    free(c);
}

nr_value *nr_call_input(const nr_call *c) { return c->input; }
const nr_call_info *nr_call_info_of(const nr_call *c) { return &c->info; }

const nr_mw_list *nr_call_execution_list(const nr_call *c, bool stream)
{
    return nr_snapshot_list(&c->snap, stream ? NR_MW_LLM_STREAM_EXECUTION : KINDS[c->kind].execution);
}

static nr_call *call_new(const nr_call_spec *spec, nr_error *err)
{
    nr_call *c = calloc(1, sizeof *c);
    if (c == NULL || (c->name = nr_strdup(spec->name != NULL ? spec->name : "")) == NULL) {
        free(c);
        if (spec->env_release != NULL)
            spec->env_release(spec->env);
        nr_error_nomem(err);
        return NULL;
    }
    nr_ref_init(&c->refs);
    atomic_init(&c->ended, false);
    atomic_init(&c->chunks, 0);
    atomic_init(&c->snap_users, 1);
    c->kind = spec->kind;
    c->info.name = c->name;
    c->info.env = spec->env;
    c->info.call = c;
    c->env_release = spec->env_release;
    c->metadata = nr_value_ref(spec->metadata);
    c->data = nr_value_ref(spec->data);
    pthread_mutex_init(&c->agg_lock, NULL);
    if (spec->kind == NR_CALL_LLM) {
        c->codec = spec->codec;
        c->rcodec = spec->response_codec;
    }
    c->chain = nr_visible_top(err);
    if (c->chain == NULL) {
        nr_call_release(c);
        return NULL;
    }
    c->parent = spec->parent != NULL ? *spec->parent : c->chain->uuid;
    return c;
}

static nr_scope *handle_new(const nr_call_spec *spec, const nr_uuid *parent,
                            const int64_t *ts_us, nr_error *err)
{
    nr_scope_init init = {
        .name = spec->name,
        .type = spec->kind == NR_CALL_TOOL ? NEMO_RELAY_SCOPE_TYPE_TOOL : NEMO_RELAY_SCOPE_TYPE_LLM,
        .family = spec->kind == NR_CALL_TOOL ? NR_FAMILY_TOOL : NR_FAMILY_LLM,
        .attributes = spec->attributes,
        .parent = parent,
        .start_us = ts_us,
        .data = spec->data,
        .metadata = spec->metadata,
        .tool_call_id = spec->kind == NR_CALL_TOOL ? spec->tool_call_id : NULL,
        .model_name = spec->kind == NR_CALL_LLM ? spec->model_name : NULL,
    };
    return nr_scope_new(&init, err);
}

/* Whether two values hold equal JSON (same object, or equal trees). */
static bool same_json(nr_value *a, nr_value *b)
{
    if (a == b)
        return true;
    const cJSON *x = a != NULL ? nr_value_json(a, NULL) : NULL;
    const cJSON *y = b != NULL ? nr_value_json(b, NULL) : NULL;
    return x != NULL && y != NULL && cJSON_Compare(x, y, true);
}

/* The start event with the sanitized input; an event that cannot be built
 * (a payload that is not JSON) fails the call before anything runs.  When a
 * sanitizer changed the request, the annotation is the codec's decoding of
 * the sanitized request (none if that fails), so it never shows what the
 * sanitizers hid. */
static NemoRelayStatus emit_start(const nr_snapshot *snap, nr_call_kind kind,
                                  const nr_call_info *info, nr_scope *handle, nr_value *input,
                                  nr_value *annotated, const nr_llm_codec *codec, nr_scope *chain,
                                  nr_error *err)
{
    if (!nr_emit_wanted())
        return NEMO_RELAY_STATUS_OK;
    nr_value *recorded = recordable(sanitize(snap, KINDS[kind].sanitize_request, info, input),
                                    kind == NR_CALL_TOOL ? "arguments" : "request", info->name);
    nr_value *shown = nr_value_ref(annotated);
    if (annotated != NULL && codec != NULL && !same_json(recorded, input)) {
        nr_value_release(shown);
        shown = NULL;
        nr_error derr = NR_ERROR_INIT;
        if (codec->decode(codec->ud, recorded, &shown, &derr) != NEMO_RELAY_STATUS_OK) {
            nr_error_clear(&derr);
            nr_value_release(shown);
            shown = NULL;
        }
    }
    cJSON *profile = profile_for(kind, handle, shown, "annotated_request");
    nr_value_release(shown);
    nr_event *ev = nr_event_new_scope(NR_PHASE_START, handle, handle->start_us, recorded,
                                      handle->metadata, profile, err);
    nr_value_release(recorded);
    if (ev == NULL)
        return nr_error_status(err);
    nr_emit_and_release(ev, chain);
    return NEMO_RELAY_STATUS_OK;
}

/* A codec's failure named after the codec (a foreign error keeps its own
 * text: the binding already named the codec). */
static NemoRelayStatus codec_failed(nr_error *err, const char *codec, const char *step,
                                    NemoRelayStatus st)
{
    if (err != NULL && err->foreign == NULL && err->message != NULL &&
        strncmp(err->message, codec, strlen(codec)) != 0) {
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%s.%s()", codec, step);
        nr_error_prefix(err, prefix);
    } else if (err != NULL && err->kind == NR_E_NONE) {
        nr_error_set(err, NR_E_CALLBACK, "%s.%s() failed: %s", codec, step, nr_status_name(st));
    }
    return err != NULL && err->status != NEMO_RELAY_STATUS_OK ? err->status : st;
}

/* Step 2 with a request codec: decode, the chain, encode. */
static NemoRelayStatus run_codec_chain(nr_call *c, const nr_call_spec *spec, bool *codec_error,
                                       nr_error *err)
{
    const nr_llm_codec *codec = c->codec;
    nr_value *decoded = NULL;
    NemoRelayStatus st = codec->decode(codec->ud, spec->input, &decoded, err);
    if (st == NEMO_RELAY_STATUS_OK && decoded == NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "returned no annotated request");
    if (st != NEMO_RELAY_STATUS_OK) {
        *codec_error = true;
        return codec_failed(err, codec->name, "decode", st);
    }
    st = run_request_chain(NR_CALL_LLM, nr_snapshot_list(&c->snap, KINDS[NR_CALL_LLM].request),
                           &c->info, spec->input, decoded, &c->input, &c->annotated, err);
    /* an annotation nobody changed encodes to the request as it stands */
    bool unchanged = st == NEMO_RELAY_STATUS_OK && same_json(c->annotated, decoded);
    nr_value_release(decoded);
    if (st != NEMO_RELAY_STATUS_OK || c->annotated == NULL || unchanged)
        return st;
    nr_value *encoded = NULL;
    st = codec->encode(codec->ud, c->annotated, spec->input, c->input, &encoded, err);
    if (st == NEMO_RELAY_STATUS_OK && encoded == NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "returned no request");
    if (st != NEMO_RELAY_STATUS_OK) {
        *codec_error = true;
        return codec_failed(err, codec->name, "encode", st);
    }
    nr_value_release(c->input);
    c->input = encoded;
    return NEMO_RELAY_STATUS_OK;
}

NemoRelayStatus nr_call_begin(const nr_call_spec *spec, nr_call **out, nr_error *err)
{
    *out = NULL;
    nr_call *c = call_new(spec, err);
    if (c == NULL)
        return nr_error_status(err);
    const kinds *k = &KINDS[spec->kind];
    unsigned mask = kind_mask(spec->kind);
    if (nr_registry_count_mask(mask) > 0)
        nr_snapshot_take(&c->snap, c->chain, mask);

    guard_ctx g = {spec->kind, c->name, &c->parent, c->metadata, c->chain, true};
    bool codec_error = false;
    NemoRelayStatus st = run_guardrails(&g, nr_snapshot_list(&c->snap, k->conditional), &c->info,
                                        spec->input, err);
    if (st == NEMO_RELAY_STATUS_OK && c->codec != NULL)
        st = run_codec_chain(c, spec, &codec_error, err);
    else if (st == NEMO_RELAY_STATUS_OK)
        st = run_request_chain(spec->kind, nr_snapshot_list(&c->snap, k->request), &c->info,
                               spec->input, NULL, &c->input, &c->annotated, err);
    if (codec_error) {
        /* the call was attempted: record it, failed by its codec */
        nr_value_release(c->input);
        c->input = nr_value_ref(spec->input);
        nr_value_release(c->annotated);
        c->annotated = NULL;
        if ((c->handle = handle_new(spec, &c->parent, NULL, NULL)) != NULL &&
            emit_start(&c->snap, spec->kind, &c->info, c->handle, c->input, NULL, NULL, c->chain,
                       NULL) == NEMO_RELAY_STATUS_OK)
            nr_call_end_with(c, st, NULL, err);
        atomic_store(&c->ended, true);
        nr_call_release(c);
        return st;
    }
    if (st == NEMO_RELAY_STATUS_OK && (c->handle = handle_new(spec, &c->parent, NULL, err)) == NULL)
        st = nr_error_status(err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = emit_start(&c->snap, spec->kind, &c->info, c->handle, c->input, c->annotated,
                        c->codec, c->chain, err);
    if (st != NEMO_RELAY_STATUS_OK) {
        atomic_store(&c->ended, true); /* no end event for a call that never started */
        nr_call_release(c);
        return st;
    }
    if (c->rcodec != NULL && c->rcodec->builtin > 0)
        c->agg = nr_stream_agg_new((nr_codec_id)(c->rcodec->builtin - 1));
    *out = c;
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus emit_end(nr_call *c, nr_end_status status, nr_value *result,
                                const char *description, nr_error *err);

NemoRelayStatus nr_call_end_with(nr_call *c, NemoRelayStatus st, nr_value *result, nr_error *err)
{
    if (st == NEMO_RELAY_STATUS_OK)
        return nr_call_end_checked(c, NR_END_OK, result, NULL, err);
    /* the description reads as the exception the caller sees */
    char text[1024];
    if (err == NULL)
        snprintf(text, sizeof text, "%s", nr_status_name(st));
    else if (err->foreign != NULL)
        snprintf(text, sizeof text, "%s", nr_error_message(err));
    else
        snprintf(text, sizeof text, "%s%s", nr_errkind_prefix(err->kind), nr_error_message(err));
    nr_call_end(c, err != NULL && err->interrupted ? NR_END_UNSET : NR_END_ERROR, NULL, text);
    return st;
}

NemoRelayStatus nr_call_end_checked(nr_call *c, nr_end_status status, nr_value *result,
                                    const char *description, nr_error *err)
{
    if (atomic_exchange(&c->ended, true))
        return NEMO_RELAY_STATUS_OK;
    if (c->handle != NULL)
        atomic_store(&c->handle->popped, true); /* tools.call_end on it is a second end */
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    if (nr_emit_wanted())
        st = emit_end(c, status, result, description, err);
    snap_drop(c); /* the call's own hold */
    return st;
}

void nr_call_end(nr_call *c, nr_end_status status, nr_value *result, const char *description)
{
    nr_call_end_checked(c, status, result, description, NULL);
}

/* The annotated response of recorded data (NULL when there is no data).
 * On failure err names the codec. */
static NemoRelayStatus annotate_response(const nr_llm_response_codec *rc, nr_value *data,
                                         const char *call_name, nr_value **out, nr_error *err)
{
    *out = NULL;
    const cJSON *j = data != NULL ? nr_value_json(data, NULL) : NULL;
    if (j == NULL || cJSON_IsNull(j))
        return NEMO_RELAY_STATUS_OK;
    NemoRelayStatus st = rc->decode_response(rc->ud, data, out, err);
    if (st == NEMO_RELAY_STATUS_OK && *out == NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "returned no annotated response");
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_value_release(*out);
        *out = NULL;
        return codec_failed(err, rc->name, "decode_response", st);
    }
    /* a user codec's response is priced here (built-ins price their own),
     * the call's name standing for the provider, as upstream */
    const cJSON *ann = rc->builtin == 0 && nr_pricing_active() ? nr_value_json(*out, NULL) : NULL;
    if (ann != NULL && cJSON_IsObject(ann)) {
        cJSON *priced = nr_json_dup(ann);
        if (priced != NULL && nr_pricing_attach(priced, call_name)) {
            nr_value *v = nr_value_from_json(priced); /* takes priced */
            if (v != NULL) {
                nr_value_release(*out);
                *out = v;
            }
        } else {
            cJSON_Delete(priced);
        }
    }
    return NEMO_RELAY_STATUS_OK;
}

/* "<prefix><message>" of an error, as the caller will see it (malloc'd). */
static char *error_text(const nr_error *e)
{
    const char *msg = nr_error_message(e);
    const char *prefix = e->foreign != NULL ? "" : nr_errkind_prefix(e->kind);
    size_t n = strlen(prefix) + strlen(msg) + 1;
    char *t = malloc(n);
    if (t != NULL)
        snprintf(t, n, "%s%s", prefix, msg);
    return t;
}

static NemoRelayStatus emit_end(nr_call *c, nr_end_status status, nr_value *result,
                                const char *description, nr_error *err)
{
    nr_value *data = NULL;
    if (status == NR_END_OK || result != NULL) {
        data = recordable(sanitize(&c->snap, KINDS[c->kind].sanitize_response, &c->info, result),
                          c->kind == NR_CALL_TOOL ? "result" : "response", c->name);
        const cJSON *j = data != NULL ? nr_value_json(data, NULL) : NULL;
        if ((j == NULL || cJSON_IsNull(j)) && c->data != NULL) {
            nr_value_release(data);
            data = nr_value_ref(c->data);
        }
    } else {
        data = nr_value_ref(c->data);
    }
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_value *annotation = NULL;
    char *codec_text = NULL;
    if (status == NR_END_OK && c->rcodec != NULL) {
        /* a stream's chunks, folded, describe the response better than
         * whatever the finalizer made of them */
        nr_value *folded = NULL;
        if (c->agg != NULL) {
            pthread_mutex_lock(&c->agg_lock);
            if (nr_stream_agg_seen(c->agg))
                folded = json_value_or_null(nr_stream_agg_result(c->agg));
            pthread_mutex_unlock(&c->agg_lock);
        }
        nr_error derr = NR_ERROR_INIT;
        st = annotate_response(c->rcodec, folded != NULL ? folded : data, c->name, &annotation,
                               &derr);
        nr_value_release(folded);
        if (st != NEMO_RELAY_STATUS_OK) {
            status = NR_END_ERROR;
            description = codec_text = error_text(&derr);
            if (err != NULL)
                nr_error_move(err, &derr);
            else
                nr_error_clear(&derr);
        }
    }
    nr_value *metadata = status_metadata(c->metadata, status, description);
    cJSON *profile = profile_for(c->kind, c->handle, annotation, "annotated_response");
    nr_event *ev = nr_event_new_scope(NR_PHASE_END, c->handle, nr_end_timestamp(c->handle, NULL),
                                      data, metadata, profile, NULL);
    if (ev == NULL) {
        /* the result could not be recorded (not JSON): record null instead */
        ev = nr_event_new_scope(NR_PHASE_END, c->handle, nr_end_timestamp(c->handle, NULL), NULL,
                                metadata, profile_for(c->kind, c->handle, NULL, NULL), NULL);
    }
    nr_emit_and_release(ev, c->chain);
    nr_value_release(data);
    nr_value_release(metadata);
    nr_value_release(annotation);
    free(codec_text);
    return st;
}

/* ---- the execution onion -------------------------------------------------------- */

typedef struct exec_frame {
    nr_call *call;
    const nr_mw_list *list;
    nr_exec_fn fn;
    void *fn_ud;
} exec_frame;

/* The continuation handed to the intercept at index-1: runs the chain from
 * `index`.  It lives on the stack of the layer that made it, which is exactly
 * as long as the intercept may call it. */
typedef struct exec_next {
    exec_frame *frame;
    size_t index;
    pthread_t owner;   /* thread the intercept was called on */
    nr_scope *visible; /* strong: the chain visible when it was called */
} exec_next;

static NemoRelayStatus exec_from(exec_frame *f, size_t i, nr_value *in, nr_value **out,
                                 nr_error *err);

static NemoRelayStatus next_thunk(void *ctx, nr_value *in, nr_value **out, nr_error *err)
{
    exec_next *nx = ctx;
    if (out == NULL || in == NULL)
        return nr_error_set(err, NR_E_INVALID_ARG, "next received a null pointer");
    /* Called from a thread of the plugin's own, which chose no scope stack:
     * run the rest of the chain under the intercepted call's stack. */
    if (!pthread_equal(pthread_self(), nx->owner) && !nr_visible_active()) {
        nr_frame frame = {nr_scope_ref(nx->visible)};
        nr_frame *prev = nr_frame_install(&frame);
        NemoRelayStatus st = exec_from(nx->frame, nx->index, in, out, err);
        nr_frame_restore(prev);
        nr_scope_release(frame.top);
        return st;
    }
    return exec_from(nx->frame, nx->index, in, out, err);
}

static NemoRelayStatus exec_from(exec_frame *f, size_t i, nr_value *in, nr_value **out,
                                 nr_error *err)
{
    *out = NULL;
    const nr_call_info *info = &f->call->info;
    NemoRelayStatus st;
    if (i >= f->list->n) {
        st = f->fn(f->fn_ud, info, in, out, err);
        if (st == NEMO_RELAY_STATUS_OK && *out == NULL)
            st = nr_error_set(err, NR_E_CALLBACK, "the function returned no value");
        return st;
    }
    nr_callback *cb = f->list->items[i];
    exec_next nx = {f, i + 1, pthread_self(), cb->native ? nr_visible_top(NULL) : NULL};
    nr_next next = {next_thunk, &nx};
    nr_call_info here = *info;
    here.position = i;
    here.callback = cb;
    st = cb->fn.execution(cb->user_data, &here, in, &next, out, err);
    nr_scope_release(nx.visible);
    if (st == NEMO_RELAY_STATUS_OK && *out == NULL)
        st = missing_output(err, cb);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_value_release(*out);
        *out = NULL;
    }
    return st;
}

NemoRelayStatus nr_call_execute(nr_call *c, size_t from, nr_value *in, nr_exec_fn fn,
                                void *fn_ud, nr_value **out, nr_error *err)
{
    *out = NULL;
    if (!snap_acquire(c))
        return nr_error_set(err, NR_E_INVALID_ARG,
                            "the call has already ended: next() only works while its intercept runs");
    exec_frame f = {c, nr_call_execution_list(c, false), fn, fn_ud};
    NemoRelayStatus st = exec_from(&f, from, in, out, err);
    snap_drop(c);
    return st;
}

NemoRelayStatus nr_call_run(const nr_call_spec *spec, nr_exec_fn fn, void *fn_ud,
                            nr_value **out, nr_error *err)
{
    *out = NULL;
    nr_call *c = NULL;
    NemoRelayStatus st = nr_call_begin(spec, &c, err);
    if (st != NEMO_RELAY_STATUS_OK)
        return st;
    st = nr_call_execute(c, 0, c->input, fn, fn_ud, out, err);
    nr_call_end_with(c, st, *out, err);
    nr_call_release(c);
    return st;
}

/* ---- standalone chains ------------------------------------------------------------ */

NemoRelayStatus nr_run_conditionals(nr_call_kind kind, const char *name, nr_value *input,
                                    void *env, nr_error *err)
{
    if (nr_registry_count(KINDS[kind].conditional) == 0)
        return NEMO_RELAY_STATUS_OK;
    nr_scope *chain = nr_visible_top(err);
    if (chain == NULL)
        return nr_error_status(err);
    nr_snapshot snap;
    nr_snapshot_take(&snap, chain, NR_MW_BIT(KINDS[kind].conditional));
    nr_call_info info = {name, env, NULL, 0, NULL};
    guard_ctx g = {kind, name, &chain->uuid, NULL, chain, false};
    NemoRelayStatus st = run_guardrails(&g, nr_snapshot_list(&snap, KINDS[kind].conditional),
                                        &info, input, err);
    nr_snapshot_release(&snap);
    nr_scope_release(chain);
    return st;
}

NemoRelayStatus nr_run_request_intercepts(nr_call_kind kind, const char *name, nr_value *input,
                                          void *env, nr_value **out, nr_value **out_annotated,
                                          nr_error *err)
{
    *out = NULL;
    if (out_annotated != NULL)
        *out_annotated = NULL;
    if (nr_registry_count(KINDS[kind].request) == 0) {
        *out = nr_value_ref(input);
        return NEMO_RELAY_STATUS_OK;
    }
    nr_scope *chain = nr_visible_top(err);
    if (chain == NULL)
        return nr_error_status(err);
    nr_snapshot snap;
    nr_snapshot_take(&snap, chain, NR_MW_BIT(KINDS[kind].request));
    nr_call_info info = {name, env, NULL, 0, NULL};
    NemoRelayStatus st = run_request_chain(kind, nr_snapshot_list(&snap, KINDS[kind].request),
                                           &info, input, NULL, out, out_annotated, err);
    nr_snapshot_release(&snap);
    nr_scope_release(chain);
    return st;
}

/* ---- manual calls ------------------------------------------------------------------- */

NemoRelayStatus nr_call_start_manual(const nr_call_spec *spec, const int64_t *ts_us,
                                     nr_scope **out_handle, nr_error *err)
{
    *out_handle = NULL;
    NemoRelayStatus st = nr_check_timestamp(ts_us, err);
    if (st != NEMO_RELAY_STATUS_OK)
        return st;
    /* llm.call(codec=...): the start event carries the annotated request */
    const nr_llm_codec *codec = spec->kind == NR_CALL_LLM ? spec->codec : NULL;
    nr_value *annotated = NULL;
    if (codec != NULL && nr_emit_wanted()) {
        st = codec->decode(codec->ud, spec->input, &annotated, err);
        if (st == NEMO_RELAY_STATUS_OK && annotated == NULL)
            st = nr_error_set(err, NR_E_CALLBACK, "returned no annotated request");
        if (st != NEMO_RELAY_STATUS_OK)
            return codec_failed(err, codec->name, "decode", st);
    }
    nr_scope *chain = nr_visible_top(err);
    if (chain == NULL) {
        nr_value_release(annotated);
        return nr_error_status(err);
    }
    const nr_uuid *parent = spec->parent != NULL ? spec->parent : &chain->uuid;
    nr_snapshot snap;
    nr_snapshot_take(&snap, chain, NR_MW_BIT(KINDS[spec->kind].sanitize_request));
    nr_call_info info = {spec->name, spec->env, NULL, 0, NULL};
    nr_scope *handle = handle_new(spec, parent, ts_us, err);
    if (handle == NULL)
        st = nr_error_status(err);
    else
        st = emit_start(&snap, spec->kind, &info, handle, spec->input, annotated, codec, chain, err);
    nr_value_release(annotated);
    nr_snapshot_release(&snap);
    nr_scope_release(chain);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_scope_release(handle);
        return st;
    }
    *out_handle = handle;
    return NEMO_RELAY_STATUS_OK;
}

NemoRelayStatus nr_call_end_manual(nr_scope *handle, nr_value *result, nr_value *data,
                                   nr_value *metadata, nr_value *annotated_response,
                                   const nr_llm_response_codec *response_codec,
                                   const int64_t *ts_us, void *env, nr_error *err)
{
    if (handle->family == NR_FAMILY_SCOPE)
        return nr_error_set(err, NR_E_INVALID_ARG, "expected a tool or LLM handle");
    NemoRelayStatus st = nr_check_timestamp(ts_us, err);
    if (st != NEMO_RELAY_STATUS_OK)
        return st;
    /* A call ends once: the first end claims the handle. */
    if (atomic_exchange(&handle->popped, true)) {
        char id[NR_UUID_STR_LEN];
        nr_uuid_format(&handle->uuid, id);
        return nr_error_set(err, NR_E_SCOPE_NOT_FOUND, "%s call %s has already ended",
                            handle->family == NR_FAMILY_TOOL ? "tool" : "LLM", id);
    }
    if (!nr_emit_wanted())
        return NEMO_RELAY_STATUS_OK;
    nr_call_kind kind = handle->family == NR_FAMILY_TOOL ? NR_CALL_TOOL : NR_CALL_LLM;
    nr_scope *chain = nr_visible_top(err);
    if (chain == NULL)
        return nr_error_status(err);
    nr_snapshot snap;
    nr_snapshot_take(&snap, chain, NR_MW_BIT(KINDS[kind].sanitize_response));
    nr_call_info info = {handle->name, env, NULL, 0, NULL};
    nr_value *recorded = recordable(sanitize(&snap, KINDS[kind].sanitize_response, &info, result),
                                    kind == NR_CALL_TOOL ? "result" : "response", handle->name);
    const cJSON *j = recorded != NULL ? nr_value_json(recorded, NULL) : NULL;
    nr_value *fallback = data != NULL ? data : handle->data;
    if ((j == NULL || cJSON_IsNull(j)) && fallback != NULL) {
        nr_value_release(recorded);
        recorded = nr_value_ref(fallback);
    }
    nr_value *merged = nr_value_merge_shallow(handle->metadata, metadata);
    nr_value *annotation = nr_value_ref(annotated_response);
    nr_error derr = NR_ERROR_INIT;
    NemoRelayStatus codec_st = NEMO_RELAY_STATUS_OK;
    if (annotation == NULL && response_codec != NULL && kind == NR_CALL_LLM)
        codec_st = annotate_response(response_codec, recorded, handle->name, &annotation, &derr);
    cJSON *profile = profile_for(kind, handle, annotation, "annotated_response");
    nr_value_release(annotation);
    nr_event *ev = nr_event_new_scope(NR_PHASE_END, handle, nr_end_timestamp(handle, ts_us),
                                      recorded, merged, profile, err);
    st = ev != NULL ? NEMO_RELAY_STATUS_OK : nr_error_status(err);
    nr_emit_and_release(ev, chain);
    /* the event is recorded (without an annotation); then the codec's error */
    if (st == NEMO_RELAY_STATUS_OK && codec_st != NEMO_RELAY_STATUS_OK) {
        st = codec_st;
        nr_error_move(err, &derr);
    }
    nr_error_clear(&derr);
    nr_value_release(recorded);
    nr_value_release(merged);
    nr_snapshot_release(&snap);
    nr_scope_release(chain);
    return st;
}

/* ---- stream chunks ------------------------------------------------------------------ */

void nr_call_stream_chunk(nr_call *c, nr_value *chunk)
{
    unsigned index = atomic_fetch_add(&c->chunks, 1);
    if (!nr_emit_wanted() || !snap_acquire(c))
        return;
    nr_value *recorded = recordable(sanitize(&c->snap, KINDS[c->kind].sanitize_response, &c->info,
                                             chunk),
                                    "stream chunk", c->name);
    snap_drop(c);
    cJSON *d = cJSON_CreateObject();
    if (d == NULL) {
        nr_value_release(recorded);
        return;
    }
    nr_json_add(d, "chunk_index", cJSON_CreateNumber(index));
    const cJSON *rj = recorded != NULL ? nr_value_json(recorded, NULL) : NULL;
    if (c->agg != NULL && rj != NULL) {
        pthread_mutex_lock(&c->agg_lock);
        nr_stream_agg_observe(c->agg, rj);
        pthread_mutex_unlock(&c->agg_lock);
    }
    nr_json_add(d, "chunk", rj != NULL ? nr_json_dup(rj) : cJSON_CreateNull());
    nr_value_release(recorded);
    nr_value *data = json_value_or_null(d);
    nr_emit_and_release(nr_event_new_mark("llm.chunk", &c->handle->uuid, nr_now_us(), data, NULL,
                                          NULL),
                        c->chain);
    nr_value_release(data);
}
