/*
 * nr_call.h -- managed tool and LLM calls: the middleware pipeline.
 *
 * A managed call runs, in order (SPEC §3, upstream §4.4):
 *   1. conditional-execution guardrails, each wrapped in a "guardrail" scope
 *      start/end pair; the first rejection stops the call (a mark named after
 *      the tool/LLM records it, no start/end events are emitted);
 *   2. request intercepts, rewriting the input (stop after a break_chain one);
 *   3. the start event, whose data is the input passed through the
 *      sanitize-request guardrails (recorded payload only);
 *   4. the execution-intercept onion around the function (lowest priority is
 *      the outermost wrapper; each layer may call `next` 0..n times);
 *   5. the end event, whose data is the result passed through the
 *      sanitize-response guardrails, with otel.status_code OK or ERROR.
 * The caller gets the raw result.  Sanitizers fail closed (SPEC D6): if one
 * fails the recorded payload is null and a warning names it; sanitizers run
 * only when an event will be recorded.
 *
 * The phases are separate functions so a binding can run step 4 itself
 * (e.g. awaiting an async function on its event loop without a thread hop).
 *
 * Ownership: nr_call objects are reference counted; values passed in are
 * borrowed (the call takes its own references); values returned through
 * `out` parameters are new references.  The one exception is spec->env: see
 * nr_call_begin.
 */
#ifndef NR_CALL_H
#define NR_CALL_H

#include "nr_registry.h"
#include "nr_stack.h"

typedef enum nr_call_kind { NR_CALL_TOOL = 0, NR_CALL_LLM = 1 } nr_call_kind;

typedef enum nr_end_status {
    NR_END_OK = 0,    /* otel.status_code "OK" */
    NR_END_ERROR = 1, /* "ERROR" + otel.status_description */
    NR_END_UNSET = 2  /* "UNSET": cancelled or interrupted */
} nr_end_status;

/* An LLM request codec (nr_call_spec.codec): decode turns the request value
 * {"headers", "content"} into the annotated request the request intercepts
 * see; after them, encode turns the annotated request back into the request
 * the function receives: the edits relative to `original` (the request as
 * the call got it) applied to `current` (as the intercepts left it).  Both
 * return new references.  `name` names the codec in errors.  Borrowed by
 * the call: it must outlive it (bindings keep it in their env). */
typedef struct nr_llm_codec {
    const char *name;
    void *ud;
    NemoRelayStatus (*decode)(void *ud, nr_value *request, nr_value **out, nr_error *err);
    NemoRelayStatus (*encode)(void *ud, nr_value *annotated, nr_value *original,
                              nr_value *current, nr_value **out, nr_error *err);
} nr_llm_codec;

/* An LLM response codec (nr_call_spec.response_codec): decodes the recorded
 * (sanitized) response into the annotated response of the end event, to
 * which a cost estimate is added when pricing is configured.  `builtin` is
 * a built-in codec's nr_codec_id + 1 (its streaming chunks are aggregated
 * in C), or 0.  Borrowed like nr_llm_codec. */
typedef struct nr_llm_response_codec {
    const char *name;
    void *ud;
    NemoRelayStatus (*decode_response)(void *ud, nr_value *response, nr_value **out,
                                       nr_error *err);
    int builtin;
} nr_llm_response_codec;

typedef struct nr_call_spec {
    nr_call_kind kind;
    const char *name;          /* tool or LLM name (copied) */
    nr_value *input;           /* tool args, or the LLM request {"headers", "content"} */
    const nr_uuid *parent;     /* explicit parent, or NULL for the visible top */
    uint32_t attributes;       /* ToolAttributes / LLMAttributes bits */
    nr_value *data;            /* kept on the handle; end data when the result is null/failed */
    nr_value *metadata;        /* call metadata: guardrail scopes, marks, start and end events */
    const char *tool_call_id;  /* tools: category_profile.tool_call_id */
    const char *model_name;    /* LLMs: category_profile.model_name */
    const nr_llm_codec *codec;                   /* LLMs: request codec or NULL */
    const nr_llm_response_codec *response_codec; /* LLMs: response codec or NULL */
    void *env;                 /* the binding's environment, handed to every callback */
    void (*env_release)(void *env); /* see nr_call_begin; may be NULL */
} nr_call_spec;

typedef struct nr_call nr_call;

/* Whether a call of this kind would be seen or changed by anything: a
 * middleware registration of its kinds or an event subscriber.  When false a
 * binding may run the function directly (zero cost when nothing listens). */
bool nr_call_is_observed(nr_call_kind kind);

/* Steps 1-3.  On success *out is the call (new reference) ready to execute.
 * A rejection returns NEMO_RELAY_STATUS_GUARDRAIL_REJECTED with err->kind
 * NR_E_REJECTED and err->reason set.  With a request codec, the request is
 * decoded before the request intercepts and encoded after them; a codec
 * failure fails the call after recording its start and an ERROR end.  Consumes spec->env on every path:
 * env_release(env) runs exactly once, when the call is freed, or before
 * returning if the call fails. */
NemoRelayStatus nr_call_begin(const nr_call_spec *spec, nr_call **out, nr_error *err);

nr_call *nr_call_ref(nr_call *c);
void nr_call_release(nr_call *c);

/* Whether nr_call_end ran. */
bool nr_call_ended(const nr_call *c);

/* Keeps the call's middleware snapshot alive (false if it is already gone:
 * the call ended and nothing else holds it); pair with nr_call_drop_snapshot. */
bool nr_call_hold_snapshot(nr_call *c);
void nr_call_drop_snapshot(nr_call *c);

/* The (possibly intercepted) input that execution receives (borrowed). */
nr_value *nr_call_input(const nr_call *c);
/* The call's info for callbacks (borrowed; lives as long as the call). */
const nr_call_info *nr_call_info_of(const nr_call *c);
/* The execution intercepts of the call's snapshot (tool or LLM, matching its
 * kind; the stream kind for stream calls). */
const nr_mw_list *nr_call_execution_list(const nr_call *c, bool stream);

/* The innermost function of an execution chain. */
typedef NemoRelayStatus (*nr_exec_fn)(void *ud, const nr_call_info *ci, nr_value *in,
                                      nr_value **out, nr_error *err);

/* Step 4: runs the execution intercepts from index `from` onwards around fn,
 * synchronously, on the calling thread.  `in` is borrowed. */
NemoRelayStatus nr_call_execute(nr_call *c, size_t from, nr_value *in, nr_exec_fn fn,
                                void *fn_ud, nr_value **out, nr_error *err);

/* Step 5: emits the end event (once; later calls are ignored).  `result` is
 * the raw result on NR_END_OK (it may also be given with NR_END_UNSET, e.g. a
 * stream's partial result); `description` is the error text for NR_END_ERROR.
 * Without a result the end data is the call's `data`. */
void nr_call_end(nr_call *c, nr_end_status status, nr_value *result, const char *description);

/* nr_call_end that reports a response codec failure: the end event is then
 * recorded with ERROR and the codec's message, and its status is returned
 * with err set (err may be NULL to ignore it). */
NemoRelayStatus nr_call_end_checked(nr_call *c, nr_end_status status, nr_value *result,
                                    const char *description, nr_error *err);

/* Step 5 for the outcome of step 4: OK with its result, else ERROR with the
 * error's message (UNSET when the error is an interruption).  Returns st,
 * or a response codec's failure (err set) when st was OK. */
NemoRelayStatus nr_call_end_with(nr_call *c, NemoRelayStatus st, nr_value *result, nr_error *err);

/* Steps 1-5 on the calling thread; consumes spec->env like nr_call_begin.
 * *out is the raw result (new reference) on OK. */
NemoRelayStatus nr_call_run(const nr_call_spec *spec, nr_exec_fn fn, void *fn_ud,
                            nr_value **out, nr_error *err);

/* ---- standalone chains ---------------------------------------------------- */

/* Runs only the conditional guardrails (no events): OK to allow, or
 * NR_E_REJECTED ("guardrail rejected: ...") with err->reason. */
NemoRelayStatus nr_run_conditionals(nr_call_kind kind, const char *name, nr_value *input,
                                    void *env, nr_error *err);

/* Runs only the request intercepts; *out is the rewritten input (and, for
 * LLMs, *out_annotated the annotation or NULL). */
NemoRelayStatus nr_run_request_intercepts(nr_call_kind kind, const char *name, nr_value *input,
                                          void *env, nr_value **out, nr_value **out_annotated,
                                          nr_error *err);

/* ---- manual calls (tools.call / tools.call_end) --------------------------- */

/* Creates the handle and emits the start event (sanitized input).
 * *out_handle is the handle node (new reference).  spec->env is borrowed for
 * the call; env_release is not used. */
NemoRelayStatus nr_call_start_manual(const nr_call_spec *spec, const int64_t *ts_us,
                                     nr_scope **out_handle, nr_error *err);

/* Emits the end event of a manual call: data = sanitized result (or, when
 * that is null, `data`, else the handle's data), metadata = start metadata merged with `metadata`;
 * `annotated_response` (LLM) goes to category_profile unchanged; without
 * one, a response codec (may be NULL) decodes the recorded data -- if it
 * fails, the event is recorded without an annotation and its error
 * returned.  A call ends once: a second end records nothing and fails with
 * NR_E_SCOPE_NOT_FOUND "... has already ended". */
NemoRelayStatus nr_call_end_manual(nr_scope *handle, nr_value *result, nr_value *data,
                                   nr_value *metadata, nr_value *annotated_response,
                                   const nr_llm_response_codec *response_codec,
                                   const int64_t *ts_us, void *env, nr_error *err);

/* ---- streams ---------------------------------------------------------------- */

/* Emits the "llm.chunk" mark for one chunk of a streaming call: parented to
 * the call's handle, data {"chunk_index": i, "chunk": <sanitized chunk>}. */
void nr_call_stream_chunk(nr_call *c, nr_value *chunk);

#endif /* NR_CALL_H */
