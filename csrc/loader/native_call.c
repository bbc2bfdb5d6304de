/*
 * native_call.c -- plugin callbacks as runtime callbacks.
 *
 * Each adapter turns runtime values into host strings, clears the thread's
 * last error, calls the plugin, and turns what it returned back into values.
 * Every string the plugin hands over is freed on every path before any
 * decoding error is reported (R6, R8); every host string made for the plugin
 * is freed right after the call (R9).  Inputs are lent as views, so a plugin
 * may hand one back: only owned strings (string_new's) are ever freed, and
 * a returned view is reported as an error, never freed.
 */
#include "native.h"

#include "nr_event.h"
#include "nr_json.h"
#include "nr_stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* What a native registration's user_data points to. */
typedef struct native_cb {
    void (*fn)(void);                  /* the plugin's callback */
    void *user_data;                   /* the plugin's */
    NemoRelayNativeFreeFn free_fn;     /* the plugin's, may be NULL */
    nr_native_instance *instance;      /* borrowed: the record's owner keeps it alive */
} native_cb;

/* The record's destructor: the plugin's free_fn, while its code is loaded
 * (the registry releases the owner only afterwards). */
static void native_cb_free(void *ud)
{
    native_cb *n = ud;
    if (n->free_fn != NULL)
        n->free_fn(n->user_data);
    free(n);
}

/* ---- values <-> host strings ------------------------------------------------------ */

/* An owned copy of v's JSON text, for strings the plugin receives and frees. */
static NemoRelayNativeString *value_string(nr_value *v, nr_error *err)
{
    size_t len;
    const char *text = nr_value_text(v, &len, err);
    if (text == NULL)
        return NULL;
    NemoRelayNativeString *s = nr_native_string(text, len);
    if (s == NULL)
        nr_error_nomem(err);
    return s;
}

/* A view of v's cached JSON text, for borrowed inputs: no copy; the value
 * (held by the caller) keeps the bytes alive for the call. */
static const NemoRelayNativeString *value_view(nr_value *v, NemoRelayNativeString *view,
                                               nr_error *err)
{
    size_t len;
    const char *text = nr_value_text(v, &len, err);
    return text != NULL ? nr_native_view(view, text, len) : NULL;
}

static const NemoRelayNativeString *name_view(const char *name, NemoRelayNativeString *view)
{
    return nr_native_view(view, name, name != NULL ? strlen(name) : 0);
}


/* A middleware callback returned the failure st: its last error, else
 * "<context>: <StatusName>", as the kind st maps to. */
static NemoRelayStatus callback_failure(NemoRelayStatus st, const char *context, nr_error *err)
{
    return nr_native_failure(st, NR_E_NONE, err, "%s: %s", context, nr_status_name(st));
}

/* A plugin (`who`, e.g. "tool callback") handed over s, which string_new
 * did not make: most likely a borrowed input passed back.  s is not freed. */
static NemoRelayStatus not_owned(const char *who, nr_error *err)
{
    return nr_error_set(err, NR_E_CALLBACK,
                        "native %s returned a string not made by string_new (a borrowed input "
                        "must be copied)",
                        who);
}

/* Takes s, which the plugin `who` handed over: parses it, then frees it.
 * NULL s is an error (`what`) unless `optional`; a string that is not owned
 * is an error and stays the plugin's. */
static NemoRelayStatus take_json(NemoRelayNativeString *s, const char *who, const char *what,
                                 bool optional, nr_value **out, nr_error *err)
{
    *out = NULL;
    if (s == NULL) {
        if (optional)
            return NEMO_RELAY_STATUS_OK;
        const char *text = nr_native_last_error();
        return nr_error_set(err, NR_E_CALLBACK, "%s", text != NULL ? text : what);
    }
    if (!nr_native_string_owned(s))
        return not_owned(who, err);
    NemoRelayStatus st = nr_value_parse(s->data, s->len, what, out, err);
    nr_native_string_free(s); /* freed before the parse error is reported */
    return st;
}

/* Whether a value is an LLM request {"headers": {...}, "content": ...}. */
static bool is_llm_request(nr_value *v)
{
    const cJSON *j = nr_value_json(v, NULL);
    return cJSON_IsObject(nr_json_get(j, "headers")) && nr_json_get(j, "content") != NULL;
}

#define AS(type, n) ((type)(n)->fn)

/* ---- subscribers -------------------------------------------------------------------- */

static void adapt_subscriber(void *ud, nr_event *ev)
{
    native_cb *n = ud;
    const char *json = nr_event_json(ev); /* cached with the event: lent, not copied */
    if (json == NULL)
        return;
    NemoRelayNativeString view;
    /* the status is ignored; a failure leaves its message as the last error */
    AS(NemoRelayNativeEventSubscriberCb, n)(n->user_data, name_view(json, &view));
}

/* subscribers.flush(): the library's optional flush export, for this
 * registration's user_data. */
static void adapt_subscriber_flush(void *ud)
{
    native_cb *n = ud;
    n->instance->subscriber_flush(n->user_data);
}

/* ---- transforms: sanitizers and the tool request intercept ----------------------------- */

static NemoRelayStatus adapt_tool_json(void *ud, const nr_call_info *ci, nr_value *in,
                                       nr_value **out, nr_error *err)
{
    native_cb *n = ud;
    *out = NULL;
    NemoRelayNativeString name_v, payload_v;
    const NemoRelayNativeString *name = name_view(ci->name, &name_v);
    const NemoRelayNativeString *payload = value_view(in, &payload_v, err);
    if (payload == NULL)
        return nr_error_status(err);
    NemoRelayNativeString *result = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = AS(NemoRelayNativeToolJsonCb, n)(n->user_data, name, payload, &result);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(result);
        return callback_failure(st, "native tool callback failed", err);
    }
    return take_json(result, "tool callback", "native tool callback returned no JSON", false, out,
                     err);
}

static NemoRelayStatus adapt_llm_request(void *ud, const nr_call_info *ci, nr_value *in,
                                         nr_value **out, nr_error *err)
{
    native_cb *n = ud;
    (void)ci;
    *out = NULL;
    NemoRelayNativeString payload_v;
    const NemoRelayNativeString *payload = value_view(in, &payload_v, err);
    if (payload == NULL)
        return nr_error_status(err);
    NemoRelayNativeString *result = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = AS(NemoRelayNativeLlmRequestCb, n)(n->user_data, payload, &result);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(result);
        return callback_failure(st, "native LLM request callback failed", err);
    }
    st = take_json(result, "LLM request callback", "native LLM request callback returned no JSON",
                   false, out, err);
    if (st == NEMO_RELAY_STATUS_OK && !is_llm_request(*out)) {
        nr_value_release(*out);
        *out = NULL;
        st = nr_error_set(err, NR_E_INVALID_JSON, "native LLM callback did not return an LLM request");
    }
    return st;
}

static NemoRelayStatus adapt_json(void *ud, const nr_call_info *ci, nr_value *in, nr_value **out,
                                  nr_error *err)
{
    native_cb *n = ud;
    (void)ci;
    *out = NULL;
    NemoRelayNativeString payload_v;
    const NemoRelayNativeString *payload = value_view(in, &payload_v, err);
    if (payload == NULL)
        return nr_error_status(err);
    NemoRelayNativeString *result = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = AS(NemoRelayNativeJsonCb, n)(n->user_data, payload, &result);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(result);
        return callback_failure(st, "native JSON callback failed", err);
    }
    return take_json(result, "JSON callback", "native JSON callback returned no JSON", false, out,
                     err);
}

/* ---- conditionals ---------------------------------------------------------------------- */

/* Takes the plugin's reason (freed here); *out_reason, if set, is a copy the caller frees. */
static NemoRelayStatus take_reason(NemoRelayStatus st, NemoRelayNativeString *reason,
                                   char **out_reason, nr_error *err)
{
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(reason);
        return callback_failure(st, "native conditional callback failed", err);
    }
    if (reason != NULL) {
        if (!nr_native_string_owned(reason))
            return not_owned("conditional callback", err);
        *out_reason = nr_native_string_dup(reason);
        nr_native_string_free(reason);
        if (*out_reason == NULL)
            return nr_error_nomem(err);
    }
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus adapt_tool_conditional(void *ud, const nr_call_info *ci, nr_value *in,
                                              char **out_reason, nr_error *err)
{
    native_cb *n = ud;
    *out_reason = NULL;
    NemoRelayNativeString name_v, args_v;
    const NemoRelayNativeString *name = name_view(ci->name, &name_v);
    const NemoRelayNativeString *args = value_view(in, &args_v, err);
    if (args == NULL)
        return nr_error_status(err);
    NemoRelayNativeString *reason = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = AS(NemoRelayNativeToolConditionalCb, n)(n->user_data, name, args, &reason);
    return take_reason(st, reason, out_reason, err);
}

static NemoRelayStatus adapt_llm_conditional(void *ud, const nr_call_info *ci, nr_value *in,
                                             char **out_reason, nr_error *err)
{
    native_cb *n = ud;
    (void)ci;
    *out_reason = NULL;
    NemoRelayNativeString request_v;
    const NemoRelayNativeString *request = value_view(in, &request_v, err);
    if (request == NULL)
        return nr_error_status(err);
    NemoRelayNativeString *reason = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = AS(NemoRelayNativeLlmConditionalCb, n)(n->user_data, request, &reason);
    return take_reason(st, reason, out_reason, err);
}

/* ---- the LLM request intercept --------------------------------------------------------- */

static NemoRelayStatus adapt_llm_intercept(void *ud, const nr_call_info *ci, nr_value *request,
                                           nr_value *annotated, nr_value **out_request,
                                           nr_value **out_annotated, nr_error *err)
{
    native_cb *n = ud;
    *out_request = NULL;
    *out_annotated = NULL;
    NemoRelayNativeString name_v, req_v, ann_v;
    const NemoRelayNativeString *name = name_view(ci->name, &name_v);
    const NemoRelayNativeString *req = value_view(request, &req_v, err);
    const NemoRelayNativeString *ann =
        annotated != NULL && req != NULL ? value_view(annotated, &ann_v, err) : NULL;
    NemoRelayStatus st;
    if (req == NULL || (annotated != NULL && ann == NULL))
        return nr_error_status(err);
    NemoRelayNativeString *out_req = NULL, *out_ann = NULL;
    nr_native_last_error_clear();
    st = AS(NemoRelayNativeLlmRequestInterceptCb, n)(n->user_data, name, req, ann, &out_req,
                                                     &out_ann);
    bool same = out_ann != NULL && out_ann == out_req; /* one string, freed once */
    if (same)
        out_ann = NULL;
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(out_req);
        nr_native_string_free(out_ann);
        return callback_failure(st, "native LLM request intercept failed", err);
    }
    if (same) {
        nr_native_string_free(out_req);
        return nr_error_set(err, NR_E_CALLBACK,
                            "native LLM request intercept returned one string as both the request "
                            "and the annotation");
    }
    /* read both, free both, then report (R6) */
    nr_error aerr = NR_ERROR_INIT;
    NemoRelayStatus ast = take_json(out_ann, "LLM request intercept annotation",
                                    "native LLM annotation", true, out_annotated, &aerr);
    st = take_json(out_req, "LLM request intercept",
                   "native LLM request intercept returned no request", false, out_request, err);
    if (st == NEMO_RELAY_STATUS_OK && !is_llm_request(*out_request))
        st = nr_error_set(err, NR_E_INVALID_JSON,
                          "native LLM request intercept did not return an LLM request");
    if (st == NEMO_RELAY_STATUS_OK && ast != NEMO_RELAY_STATUS_OK) {
        nr_error_move(err, &aerr);
        st = ast;
    }
    nr_error_clear(&aerr);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_value_release(*out_request);
        nr_value_release(*out_annotated);
        *out_request = *out_annotated = NULL;
    }
    return st;
}

/* ---- execution intercepts and their continuations -------------------------------------- */

typedef struct native_next {
    const nr_next *next;
    bool llm;
    pthread_t owner; /* the thread the execution intercept was called on */
} native_next;

/* The last failure of a host continuation on this thread, kept so that a
 * plugin passing it straight back (the common case) surfaces the original
 * error (a Python exception, a rejection) rather than its text. */
static _Thread_local nr_error tls_next_error;

/* input stays the plugin's; on OK *out is a new host string the plugin owns and frees. */
static NemoRelayStatus continue_chain(const NemoRelayNativeString *input, void *next_ctx,
                                      NemoRelayNativeString **out, const char *what)
{
    if (next_ctx == NULL || out == NULL) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s received null pointer", what);
        nr_native_last_error_set(msg);
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    *out = NULL;
    native_next *nx = next_ctx;
    nr_error err = NR_ERROR_INIT;
    nr_value *in = NULL, *result = NULL;
    NemoRelayStatus st = input != NULL
                             ? nr_value_parse(input->data, input->len, what, &in, &err)
                             : nr_error_set(&err, NR_E_INVALID_JSON, "%s input is not valid JSON", what);
    if (st == NEMO_RELAY_STATUS_OK && nx->llm && !is_llm_request(in))
        st = nr_error_set(&err, NR_E_INVALID_JSON, "%s input was not an LLM request", what);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nx->next->fn(nx->next->ctx, in, &result, &err);
    if (st == NEMO_RELAY_STATUS_OK && (*out = value_string(result, &err)) == NULL)
        st = err.status;
    nr_value_release(in);
    nr_value_release(result);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_last_error_set(nr_error_message(&err));
        /* Only the intercept's own thread reads the stash back; a plugin
         * thread's failure is reported by its text alone. */
        if (pthread_equal(pthread_self(), nx->owner))
            nr_error_move(&tls_next_error, &err);
        else
            nr_error_clear(&err);
        return st;
    }
    return NEMO_RELAY_STATUS_OK;
}

/* next_ctx is adapt_execution's stack native_next: valid only until the callback returns. */
static NemoRelayStatus host_tool_next(const NemoRelayNativeString *args, void *next_ctx,
                                      NemoRelayNativeString **out)
{
    return continue_chain(args, next_ctx, out, "native tool next");
}

/* next_ctx is adapt_execution's stack native_next: valid only until the callback returns. */
static NemoRelayStatus host_llm_next(const NemoRelayNativeString *request, void *next_ctx,
                                     NemoRelayNativeString **out)
{
    return continue_chain(request, next_ctx, out, "native LLM next");
}

/* A plugin returned st after running the chain: prefer the error its next
 * produced when the plugin passed it back unchanged. */
static NemoRelayStatus execution_failure(NemoRelayStatus st, const char *context, nr_error *err)
{
    const char *text = nr_native_last_error();
    if (tls_next_error.kind != NR_E_NONE && tls_next_error.status == st && text != NULL &&
        strcmp(text, nr_error_message(&tls_next_error)) == 0) {
        nr_native_last_error_clear();
        nr_error_move(err, &tls_next_error);
        return st;
    }
    nr_error_clear(&tls_next_error);
    return callback_failure(st, context, err);
}

static NemoRelayStatus adapt_execution(void *ud, const nr_call_info *ci, nr_value *in,
                                       const nr_next *next, nr_value **out, nr_error *err,
                                       bool llm)
{
    native_cb *n = ud;
    *out = NULL;
    NemoRelayNativeString name_v, payload_v;
    const NemoRelayNativeString *name = name_view(ci->name, &name_v);
    const NemoRelayNativeString *payload = value_view(in, &payload_v, err);
    NemoRelayStatus st;
    if (payload == NULL)
        return nr_error_status(err);
    native_next nx = {next, llm, pthread_self()};
    NemoRelayNativeString *result = NULL;
    nr_error_clear(&tls_next_error);
    nr_native_last_error_clear();
    if (llm)
        st = AS(NemoRelayNativeLlmExecutionCb, n)(n->user_data, name, payload, host_llm_next, &nx,
                                                  &result);
    else
        st = AS(NemoRelayNativeToolExecutionCb, n)(n->user_data, name, payload, host_tool_next,
                                                   &nx, &result);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(result);
        st = execution_failure(st, llm ? "native LLM execution intercept failed"
                                       : "native tool execution intercept failed",
                               err);
    } else {
        nr_error_clear(&tls_next_error);
        st = take_json(result, llm ? "LLM execution intercept" : "tool execution intercept",
                       "native execution intercept returned no JSON", false, out, err);
    }
    return st;
}

static NemoRelayStatus adapt_tool_execution(void *ud, const nr_call_info *ci, nr_value *in,
                                            const nr_next *next, nr_value **out, nr_error *err)
{
    return adapt_execution(ud, ci, in, next, out, err, false);
}

static NemoRelayStatus adapt_llm_execution(void *ud, const nr_call_info *ci, nr_value *in,
                                           const nr_next *next, nr_value **out, nr_error *err)
{
    return adapt_execution(ud, ci, in, next, out, err, true);
}

/* ---- streams ------------------------------------------------------------------------------ */

/* The continuation a stream intercept receives; lives with its stream. */
typedef struct stream_next_ctx {
    nr_stream_next next;
} stream_next_ctx;

/* A plugin-produced stream, consumed by the runtime. */
typedef struct plugin_stream {
    NemoRelayNativeLlmStreamV1 table; /* the plugin's, filled by the intercept */
    stream_next_ctx next;             /* the plugin may call next while polling */
    nr_callback *record;              /* strong: the registration (its user_data, its library) */
} plugin_stream;

/* A runtime stream handed to a plugin through the host's stream next. */
typedef struct host_stream {
    nr_stream *inner;
} host_stream;

/* h stays the plugin's; on OK *out is a new host string holding a chunk, the plugin's to free. */
static NemoRelayStatus host_stream_poll(void *ud, NemoRelayNativeString **out)
{
    host_stream *h = ud;
    if (out == NULL)
        return NEMO_RELAY_STATUS_NULL_POINTER;
    *out = NULL;
    if (h == NULL || h->inner == NULL)
        return NEMO_RELAY_STATUS_STREAM_END;
    nr_value *chunk = NULL;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st = nr_stream_poll(h->inner, &chunk, &err);
    if (st == NEMO_RELAY_STATUS_OK && (*out = value_string(chunk, &err)) == NULL)
        st = err.status;
    nr_value_release(chunk);
    if (st != NEMO_RELAY_STATUS_OK && st != NEMO_RELAY_STATUS_STREAM_END) {
        nr_native_last_error_set(nr_error_message(&err));
        nr_error_clear(&err);
        nr_stream_close(h->inner); /* an errored stream is over */
        h->inner = NULL;
    }
    nr_error_clear(&err);
    return st;
}

/* Closes the inner runtime stream early; h itself stays the plugin's until drop. */
static NemoRelayStatus host_stream_cancel(void *ud)
{
    host_stream *h = ud;
    if (h != NULL) {
        nr_stream_close(h->inner);
        h->inner = NULL;
    }
    return NEMO_RELAY_STATUS_OK;
}

/* The plugin gives h back: the inner runtime stream is closed and h freed. */
static void host_stream_drop(void *ud)
{
    host_stream *h = ud;
    if (h != NULL) {
        nr_stream_close(h->inner);
        free(h);
    }
}

/* request stays the plugin's; on OK *out_stream is a host stream the plugin owns (and drops). */
static NemoRelayStatus host_stream_next(const NemoRelayNativeString *request, void *next_ctx,
                                        NemoRelayNativeLlmStreamV1 *out_stream)
{
    if (next_ctx == NULL || out_stream == NULL) {
        nr_native_last_error_set("native LLM stream next received null pointer");
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    NemoRelayNativeLlmStreamV1 empty = {sizeof(NemoRelayNativeLlmStreamV1), NULL, NULL, NULL, NULL};
    *out_stream = empty;
    stream_next_ctx *nx = next_ctx;
    nr_error err = NR_ERROR_INIT;
    nr_value *in = NULL;
    nr_stream *s = NULL;
    NemoRelayStatus st =
        request != NULL ? nr_value_parse(request->data, request->len, "native LLM stream next", &in, &err)
                        : nr_error_set(&err, NR_E_INVALID_JSON, "native LLM stream next input is not valid JSON");
    if (st == NEMO_RELAY_STATUS_OK && !is_llm_request(in))
        st = nr_error_set(&err, NR_E_INVALID_JSON, "native LLM stream next input was not an LLM request");
    if (st == NEMO_RELAY_STATUS_OK)
        st = nx->next.fn(nx->next.ctx, in, &s, &err);
    nr_value_release(in);
    host_stream *h = NULL;
    if (st == NEMO_RELAY_STATUS_OK && (h = malloc(sizeof *h)) == NULL) {
        nr_stream_close(s);
        st = nr_error_nomem(&err);
    }
    if (st != NEMO_RELAY_STATUS_OK)
        return nr_native_report(&err);
    h->inner = s;
    out_stream->user_data = h;
    out_stream->next = host_stream_poll;
    out_stream->cancel = host_stream_cancel;
    out_stream->drop = host_stream_drop;
    return NEMO_RELAY_STATUS_OK;
}

/* The plugin's chunk string is freed here; on OK *chunk is a new value the runtime owns. */
static NemoRelayStatus plugin_stream_poll(void *ud, nr_value **chunk, nr_error *err)
{
    plugin_stream *p = ud;
    *chunk = NULL;
    NemoRelayNativeString *out = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = p->table.next(p->table.user_data, &out);
    if (st == NEMO_RELAY_STATUS_STREAM_END) {
        nr_native_string_free(out);
        return st;
    }
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(out);
        return callback_failure(st, "native LLM stream failed", err);
    }
    return take_json(out, "LLM stream", "native LLM stream returned null chunk", false, chunk, err);
}

/* The runtime abandons the stream: the plugin's cancel; p stays until plugin_stream_drop. */
static void plugin_stream_cancel(void *ud)
{
    plugin_stream *p = ud;
    if (p->table.cancel != NULL)
        p->table.cancel(p->table.user_data);
}

/* The runtime's last use of p: the plugin's drop, then p's record reference and p itself. */
static void plugin_stream_drop(void *ud)
{
    plugin_stream *p = ud;
    if (p->table.drop != NULL)
        p->table.drop(p->table.user_data);
    nr_callback_release(p->record); /* after drop: its free_fn may run now */
    free(p);
}

static const nr_stream_ops plugin_stream_ops = {plugin_stream_poll, plugin_stream_cancel,
                                                plugin_stream_drop};

/* Inputs lent as views; on OK *out (the runtime's) owns the plugin's table and its next_ctx. */
static NemoRelayStatus adapt_stream_execution(void *ud, const nr_call_info *ci, nr_value *request,
                                              const nr_stream_next *next, nr_stream **out,
                                              nr_error *err)
{
    native_cb *n = ud;
    *out = NULL;
    NemoRelayNativeString name_v, req_v;
    const NemoRelayNativeString *name = name_view(ci->name, &name_v);
    const NemoRelayNativeString *req = value_view(request, &req_v, err);
    if (req == NULL)
        return nr_error_status(err);
    /* The record exists before the call, so whatever the plugin leaves in
     * its table is released on one path: plugin_stream_drop. */
    plugin_stream *p = malloc(sizeof *p);
    if (p == NULL)
        return nr_error_nomem(err);
    NemoRelayNativeLlmStreamV1 empty = {sizeof(NemoRelayNativeLlmStreamV1), NULL, NULL, NULL, NULL};
    p->table = empty;
    p->next.next = *next;
    p->record = nr_callback_ref(ci->callback);
    nr_native_last_error_clear();
    NemoRelayStatus st = AS(NemoRelayNativeLlmStreamExecutionCb, n)(n->user_data, name, req,
                                                                    host_stream_next, &p->next,
                                                                    &p->table);
    if (st != NEMO_RELAY_STATUS_OK)
        st = callback_failure(st, "native LLM stream execution intercept failed", err);
    else if (p->table.next == NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "native LLM stream has no next function");
    else if (p->table.struct_size != sizeof(NemoRelayNativeLlmStreamV1))
        st = nr_error_set(err, NR_E_CALLBACK, "unsupported native LLM stream struct size %zu",
                          p->table.struct_size);
    if (st != NEMO_RELAY_STATUS_OK) {
        plugin_stream_drop(p); /* a rejected table is dropped, never cancelled (R8) */
        return st;
    }
    *out = nr_stream_new(&plugin_stream_ops, p, err); /* takes p: dropped if it fails */
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_status(err);
}

/* ---- registration ---------------------------------------------------------------------------- */

static nr_callback_fn adapter_for(nr_mw_kind kind)
{
    nr_callback_fn fn = {0};
    switch (kind) {
    case NR_MW_SUBSCRIBER: fn.subscriber = adapt_subscriber; break;
    case NR_MW_TOOL_SANITIZE_REQUEST:
    case NR_MW_TOOL_SANITIZE_RESPONSE:
    case NR_MW_TOOL_REQUEST_INTERCEPT: fn.transform = adapt_tool_json; break;
    case NR_MW_TOOL_CONDITIONAL: fn.conditional = adapt_tool_conditional; break;
    case NR_MW_TOOL_EXECUTION: fn.execution = adapt_tool_execution; break;
    case NR_MW_LLM_SANITIZE_REQUEST: fn.transform = adapt_llm_request; break;
    case NR_MW_LLM_SANITIZE_RESPONSE: fn.transform = adapt_json; break;
    case NR_MW_LLM_CONDITIONAL: fn.conditional = adapt_llm_conditional; break;
    case NR_MW_LLM_REQUEST_INTERCEPT: fn.llm_intercept = adapt_llm_intercept; break;
    case NR_MW_LLM_EXECUTION: fn.execution = adapt_llm_execution; break;
    case NR_MW_LLM_STREAM_EXECUTION: fn.stream_execution = adapt_stream_execution; break;
    default: break;
    }
    return fn;
}

NemoRelayStatus nr_native_register(NemoRelayNativePluginContext *pctx, nr_mw_kind kind,
                                   const NemoRelayNativeString *name, int32_t priority,
                                   bool break_chain, void (*cb)(void), void *user_data,
                                   NemoRelayNativeFreeFn free_fn)
{
    nr_native_last_error_clear();
    if (pctx == NULL || pctx->ctx == NULL) {
        nr_native_last_error_set("plugin context is null");
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    if (cb == NULL) {
        nr_native_last_error_set("registration callback is null");
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    nr_error err = NR_ERROR_INIT;
    char *cname = nr_native_name_dup(name, "registration name", &err);
    native_cb *n = cname != NULL ? malloc(sizeof *n) : NULL;
    if (cname == NULL || n == NULL) {
        free(cname);
        if (cname != NULL)
            nr_error_nomem(&err);
        return nr_native_report(&err);
    }
    n->fn = cb;
    n->user_data = user_data;
    n->free_fn = free_fn;
    n->instance = pctx->instance;
    nr_callback_spec spec = {
        .kind = kind,
        .name = cname,
        .priority = priority,
        .break_chain = break_chain,
        .native = true,
        .fn = adapter_for(kind),
        .user_data = n,
        .free_fn = native_cb_free,
        .flush = pctx->instance->subscriber_flush != NULL ? adapt_subscriber_flush : NULL,
        .owner = &pctx->instance->owner,
    };
    NemoRelayStatus st = nr_plugin_ctx_register(pctx->ctx, &spec, &err);
    free(cname);
    if (st != NEMO_RELAY_STATUS_OK) {
        /* Nothing was taken (R4): the plugin keeps user_data and frees it. */
        free(n);
        if (err.kind == NR_E_ALREADY_EXISTS) { /* upstream reports duplicates as Internal */
            err.status = NEMO_RELAY_STATUS_INTERNAL;
        }
        return nr_native_report(&err);
    }
    return NEMO_RELAY_STATUS_OK;
}

/* ---- the plugin kind of a loaded instance -------------------------------------------------- */

/* The component config's JSON text, lent to validate/register as a view;
 * the caller frees it (cJSON_free) after the call.  NULL: out of memory. */
static char *config_text(const cJSON *config, nr_error *err)
{
    char *text = nr_json_print(config);
    if (text == NULL)
        nr_error_nomem(err);
    return text;
}

static NemoRelayStatus native_validate(void *ud, const char *kind, const cJSON *config,
                                       cJSON *diagnostics, nr_error *err)
{
    nr_native_instance *inst = ud;
    (void)kind;
    if (inst->desc.validate == NULL)
        return NEMO_RELAY_STATUS_OK;
    char *text = config_text(config, err);
    if (text == NULL)
        return nr_error_status(err);
    NemoRelayNativeString cfg_v;
    NemoRelayNativeString *out = NULL;
    nr_native_last_error_clear();
    NemoRelayStatus st = inst->desc.validate(inst->desc.user_data,
                                             nr_native_view(&cfg_v, text, strlen(text)), &out);
    cJSON_free(text);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_native_string_free(out); /* R7 */
        return nr_native_failure(st, NR_E_CALLBACK, err, "native validate callback returned %s",
                                 nr_status_name(st));
    }
    if (out == NULL)
        return NEMO_RELAY_STATUS_OK;
    if (!nr_native_string_owned(out))
        return not_owned("validate callback", err);
    cJSON *parsed = nr_json_parse(out->data, out->len, "diagnostics", NULL);
    nr_native_string_free(out);
    if (!cJSON_IsArray(parsed)) {
        cJSON_Delete(parsed);
        return nr_error_set(err, NR_E_CALLBACK,
                            "native validate callback returned invalid diagnostics JSON");
    }
    cJSON *d = parsed->child;
    while (d != NULL) {
        cJSON *next = d->next;
        cJSON_DetachItemViaPointer(parsed, d);
        if (!cJSON_AddItemToArray(diagnostics, d))
            cJSON_Delete(d);
        d = next;
    }
    cJSON_Delete(parsed);
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus native_register(void *ud, const char *kind, const cJSON *config,
                                       nr_plugin_ctx *ctx, nr_error *err)
{
    nr_native_instance *inst = ud;
    char *text = config_text(config, err);
    if (text == NULL)
        return nr_error_status(err);
    NemoRelayNativeString cfg_v;
    NemoRelayNativePluginContext pctx = {ctx, inst};
    nr_native_last_error_clear();
    NemoRelayStatus st = inst->desc.register_(inst->desc.user_data,
                                              nr_native_view(&cfg_v, text, strlen(text)), &pctx);
    cJSON_free(text);
    if (st != NEMO_RELAY_STATUS_OK)
        st = nr_native_failure(st, NR_E_REGISTRATION_FAILED, err,
                               "native register callback for '%s' returned %s", kind,
                               nr_status_name(st));
    return st;
}

static void native_kind_release(void *ud)
{
    nr_native_instance_release(ud);
}

const nr_plugin_ops nr_native_plugin_ops = {native_validate, native_register, native_kind_release,
                                            "plugin.native_validate_failed"};
