/*
 * host_api.c -- the NemoRelayNativeHostApiV1 table: strings, last error,
 * scopes and scope stacks, and the twelve registration functions.
 *
 * Every function NULL-checks its pointers and pre-sets its out parameters
 * (R21, R24); host functions that upstream clears the last error in clear it
 * on entry (reference §1.7).
 */
#include "native.h"

#include "loader_util.h"
#include "nr_runtime.h"
#include "nr_scope_ops.h"
#include "nr_stack.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRING_MAGIC 0x4e52534eu /* "NRSN": owned */
#define VIEW_MAGIC 0x4e525356u   /* "NRSV": borrowed view */

/* ---- strings ------------------------------------------------------------------ */

/* Strict UTF-8 (the manifest decoder's rules, see loader_util.h). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    return nr_loader_utf8_invalid_at(s, n) == n;
}

NemoRelayNativeString *nr_native_string(const char *s, size_t len)
{
    NemoRelayNativeString *str = malloc(sizeof *str + len + 1);
    if (str == NULL)
        return NULL;
    str->len = len;
    str->magic = STRING_MAGIC;
    str->data = str->bytes;
    if (len > 0)
        memcpy(str->bytes, s, len);
    str->bytes[len] = '\0';
    return str;
}

const NemoRelayNativeString *nr_native_view(NemoRelayNativeString *view, const char *s, size_t len)
{
    view->len = len;
    view->magic = VIEW_MAGIC;
    view->data = s != NULL ? s : "";
    return view;
}

bool nr_native_string_owned(const NemoRelayNativeString *s)
{
    return s != NULL && s->magic == STRING_MAGIC;
}

void nr_native_string_free(NemoRelayNativeString *s)
{
    /* a view is the host's, lent for one call: never freed through here */
    if (nr_native_string_owned(s)) {
        s->magic = 0;
        free(s);
    }
}

char *nr_native_string_dup(const NemoRelayNativeString *s)
{
    return s != NULL ? nr_loader_strndup(s->data, s->len) : nr_strdup("");
}

bool nr_native_string_has_nul(const NemoRelayNativeString *s)
{
    return s != NULL && s->data != NULL && memchr(s->data, '\0', s->len) != NULL;
}

char *nr_native_name_dup(const NemoRelayNativeString *s, const char *what, nr_error *err)
{
    if (nr_native_string_has_nul(s)) {
        nr_error_set(err, NR_E_INVALID_ARG, "%s contains a NUL byte", what);
        return NULL;
    }
    char *copy = nr_native_string_dup(s);
    if (copy == NULL)
        nr_error_nomem(err);
    return copy;
}

static NemoRelayStatus api_string_new(const uint8_t *data, size_t len, NemoRelayNativeString **out)
{
    if (out == NULL) {
        nr_native_last_error_set("string_new received a null out pointer");
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    *out = NULL;
    if (data == NULL && len > 0) {
        nr_native_last_error_set("string_new received null data with a non-zero length");
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    if (len > 0 && !utf8_valid(data, len)) {
        nr_native_last_error_set("string_new received bytes that are not valid UTF-8");
        return NEMO_RELAY_STATUS_INVALID_UTF8;
    }
    *out = nr_native_string((const char *)data, len);
    if (*out == NULL) {
        nr_native_last_error_set("out of memory");
        return NEMO_RELAY_STATUS_INTERNAL;
    }
    return NEMO_RELAY_STATUS_OK;
}

static const uint8_t *api_string_data(const NemoRelayNativeString *s)
{
    return s != NULL ? (const uint8_t *)s->data : NULL;
}

static size_t api_string_len(const NemoRelayNativeString *s)
{
    return s != NULL ? s->len : 0;
}

/* ---- last error ----------------------------------------------------------------- */

/* One message per thread: the only state plugins share with the host
 * implicitly.  Thread-confined, so it needs no lock. */
static _Thread_local struct {
    char *message;
    bool set;
    bool armed; /* the exit destructor knows this thread */
} tls_error;

/* Frees a thread's message when the thread exits (plugins may set one on
 * threads of their own). */
static pthread_key_t g_error_key;
static pthread_once_t g_error_key_once = PTHREAD_ONCE_INIT;

static void error_thread_exit(void *unused)
{
    (void)unused;
    free(tls_error.message);
    tls_error.message = NULL;
    tls_error.set = false;
}

static void make_error_key(void)
{
    pthread_key_create(&g_error_key, error_thread_exit);
}

void nr_native_last_error_clear(void)
{
    free(tls_error.message);
    tls_error.message = NULL;
    tls_error.set = false;
}

void nr_native_last_error_set(const char *message)
{
    if (!tls_error.armed) {
        pthread_once(&g_error_key_once, make_error_key);
        pthread_setspecific(g_error_key, &tls_error); /* any non-NULL value arms it */
        tls_error.armed = true;
    }
    char *copy = nr_strdup(message != NULL ? message : "");
    free(tls_error.message);
    tls_error.message = copy;
    tls_error.set = true;
}

const char *nr_native_last_error(void)
{
    return (tls_error.set && tls_error.message != NULL && tls_error.message[0] != '\0')
               ? tls_error.message
               : NULL;
}

static void api_last_error_clear(void)
{
    nr_native_last_error_clear();
}

static void api_last_error_set(const NemoRelayNativeString *message)
{
    char *text = nr_native_string_dup(message);
    nr_native_last_error_set(text != NULL ? text : "");
    free(text);
}

NemoRelayStatus nr_native_failure(NemoRelayStatus st, nr_errkind kind, nr_error *err,
                                  const char *fallback, ...)
{
    if (kind == NR_E_NONE) {
        switch (st) {
        case NEMO_RELAY_STATUS_ALREADY_EXISTS: kind = NR_E_ALREADY_EXISTS; break;
        case NEMO_RELAY_STATUS_NOT_FOUND: kind = NR_E_NOT_FOUND; break;
        case NEMO_RELAY_STATUS_GUARDRAIL_REJECTED: kind = NR_E_REJECTED; break;
        case NEMO_RELAY_STATUS_INVALID_ARG: kind = NR_E_INVALID_ARG; break;
        default: kind = NR_E_CALLBACK; break;
        }
    }
    const char *text = nr_native_last_error();
    NemoRelayStatus out;
    if (text != NULL) {
        out = nr_error_set(err, kind, "%s", text);
    } else {
        va_list ap;
        va_start(ap, fallback);
        out = nr_error_setv(err, kind, fallback, ap);
        va_end(ap);
    }
    if (kind == NR_E_REJECTED && err != NULL)
        err->reason = nr_strdup(nr_error_message(err));
    nr_native_last_error_clear();
    return out;
}

NemoRelayStatus nr_native_report(nr_error *err)
{
    NemoRelayStatus st = err->status != NEMO_RELAY_STATUS_OK ? err->status : NEMO_RELAY_STATUS_INTERNAL;
    nr_native_last_error_set(nr_error_message(err));
    nr_error_clear(err);
    return st;
}

static NemoRelayStatus null_pointer(const char *what)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s received a null pointer", what);
    nr_native_last_error_set(msg);
    return NEMO_RELAY_STATUS_NULL_POINTER;
}

/* ---- scopes ----------------------------------------------------------------------- */

/* A handle is a reference to an immutable node: a snapshot that stays valid
 * after the scope is popped. */
struct NemoRelayNativeScopeHandle {
    nr_scope *node;
};

static NemoRelayNativeScopeHandle *handle_new(nr_scope *node)
{
    NemoRelayNativeScopeHandle *h = malloc(sizeof *h);
    if (h != NULL)
        h->node = node; /* takes the caller's reference */
    else
        nr_scope_release(node);
    return h;
}

static void api_scope_handle_free(NemoRelayNativeScopeHandle *h)
{
    if (h != NULL) {
        nr_scope_release(h->node);
        free(h);
    }
}

static NemoRelayStatus api_scope_get_current(NemoRelayNativeScopeHandle **out)
{
    nr_native_last_error_clear();
    if (out == NULL)
        return null_pointer("scope_get_current");
    *out = NULL;
    nr_error err = NR_ERROR_INIT;
    nr_scope *top = nr_visible_top(&err);
    if (top == NULL)
        return nr_native_report(&err);
    if ((*out = handle_new(top)) == NULL) {
        nr_error_nomem(&err);
        return nr_native_report(&err);
    }
    return NEMO_RELAY_STATUS_OK;
}

/* Optional JSON argument ("<what> is not valid JSON: ..."). */
static NemoRelayStatus opt_json(const NemoRelayNativeString *s, const char *what, nr_value **out,
                                nr_error *err)
{
    *out = NULL;
    if (s == NULL)
        return NEMO_RELAY_STATUS_OK;
    return nr_value_parse(s->data, s->len, what, out, err);
}

static NemoRelayStatus api_scope_push(const NemoRelayNativeString *name, int32_t scope_type,
                                      const NemoRelayNativeScopeHandle *parent, uint32_t attributes,
                                      const NemoRelayNativeString *data_json,
                                      const NemoRelayNativeString *metadata_json,
                                      const NemoRelayNativeString *input_json,
                                      const int64_t *timestamp, NemoRelayNativeScopeHandle **out)
{
    nr_native_last_error_clear();
    if (out == NULL)
        return null_pointer("scope_push");
    *out = NULL;
    nr_error err = NR_ERROR_INIT;
    nr_value *data = NULL, *metadata = NULL, *input = NULL;
    char *cname = nr_native_name_dup(name, "scope name", &err);
    NemoRelayStatus st = cname == NULL ? nr_error_status(&err) : NEMO_RELAY_STATUS_OK;
    if (st == NEMO_RELAY_STATUS_OK && nr_scope_type_name(scope_type) == NULL)
        st = nr_error_set(&err, NR_E_INVALID_ARG, "invalid scope type %d", (int)scope_type);
    if (st == NEMO_RELAY_STATUS_OK)
        st = opt_json(data_json, "scope data", &data, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = opt_json(metadata_json, "scope metadata", &metadata, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = opt_json(input_json, "scope input", &input, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_check_timestamp(timestamp, &err);
    nr_scope *node = NULL;
    if (st == NEMO_RELAY_STATUS_OK) {
        nr_push_args a = {.name = cname,
                          .type = scope_type,
                          .attributes = attributes,
                          .parent = parent != NULL ? &parent->node->uuid : NULL,
                          .data = data,
                          .metadata = metadata,
                          .input = input,
                          .ts_us = timestamp};
        st = nr_scope_push(&a, &node, &err);
    }
    if (st == NEMO_RELAY_STATUS_OK && (*out = handle_new(node)) == NULL)
        st = nr_error_nomem(&err);
    free(cname);
    nr_value_release(data);
    nr_value_release(metadata);
    nr_value_release(input);
    return st == NEMO_RELAY_STATUS_OK ? st : nr_native_report(&err);
}

static NemoRelayStatus api_scope_pop(const NemoRelayNativeScopeHandle *handle,
                                     const NemoRelayNativeString *output_json,
                                     const NemoRelayNativeString *metadata_json,
                                     const int64_t *timestamp)
{
    nr_native_last_error_clear();
    if (handle == NULL)
        return null_pointer("scope_pop");
    nr_error err = NR_ERROR_INIT;
    nr_value *output = NULL, *metadata = NULL;
    NemoRelayStatus st = opt_json(output_json, "scope output", &output, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = opt_json(metadata_json, "scope metadata", &metadata, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_check_timestamp(timestamp, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_scope_pop(&handle->node->uuid, output, metadata, timestamp, &err);
    nr_value_release(output);
    nr_value_release(metadata);
    return st == NEMO_RELAY_STATUS_OK ? st : nr_native_report(&err);
}

static NemoRelayStatus api_emit_mark(const NemoRelayNativeString *name,
                                     const NemoRelayNativeScopeHandle *parent,
                                     const NemoRelayNativeString *data_json,
                                     const NemoRelayNativeString *metadata_json,
                                     const int64_t *timestamp)
{
    nr_native_last_error_clear();
    nr_error err = NR_ERROR_INIT;
    nr_value *data = NULL, *metadata = NULL;
    char *cname = nr_native_name_dup(name, "mark name", &err);
    NemoRelayStatus st = cname == NULL ? nr_error_status(&err) : NEMO_RELAY_STATUS_OK;
    if (st == NEMO_RELAY_STATUS_OK)
        st = opt_json(data_json, "mark data", &data, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = opt_json(metadata_json, "mark metadata", &metadata, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_check_timestamp(timestamp, &err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = nr_scope_mark(cname, parent != NULL ? &parent->node->uuid : NULL, data, metadata,
                           timestamp, &err);
    free(cname);
    nr_value_release(data);
    nr_value_release(metadata);
    return st == NEMO_RELAY_STATUS_OK ? st : nr_native_report(&err);
}

/* ---- scope stacks --------------------------------------------------------------------
 * A NemoRelayNativeScopeStack* is an nr_stack* carrying one reference; a
 * binding is a heap nr_binding. */

struct NemoRelayNativeScopeStackBinding {
    nr_binding binding;
};

static NemoRelayStatus api_scope_stack_create(NemoRelayNativeScopeStack **out)
{
    nr_native_last_error_clear();
    if (out == NULL)
        return null_pointer("scope_stack_create");
    nr_error err = NR_ERROR_INIT;
    *out = (NemoRelayNativeScopeStack *)nr_stack_new(&err);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_native_report(&err);
}

static void api_scope_stack_free(NemoRelayNativeScopeStack *stack)
{
    nr_stack_release((nr_stack *)stack);
}

static NemoRelayStatus api_scope_stack_set_thread(const NemoRelayNativeScopeStack *stack)
{
    nr_native_last_error_clear();
    if (stack == NULL)
        return null_pointer("scope_stack_set_thread");
    nr_thread_bind((nr_stack *)stack);
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus api_scope_stack_capture_thread(NemoRelayNativeScopeStackBinding **out)
{
    nr_native_last_error_clear();
    if (out == NULL)
        return null_pointer("scope_stack_capture_thread");
    *out = malloc(sizeof **out);
    if (*out == NULL) {
        nr_native_last_error_set("out of memory");
        return NEMO_RELAY_STATUS_INTERNAL;
    }
    (*out)->binding = nr_thread_capture();
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus api_scope_stack_restore_thread(NemoRelayNativeScopeStackBinding *b)
{
    nr_native_last_error_clear();
    if (b == NULL)
        return null_pointer("scope_stack_restore_thread");
    nr_thread_restore(&b->binding);
    free(b);
    return NEMO_RELAY_STATUS_OK;
}

static void api_scope_stack_binding_free(NemoRelayNativeScopeStackBinding *b)
{
    if (b != NULL) {
        nr_binding_clear(&b->binding);
        free(b);
    }
}

static bool api_scope_stack_active(void)
{
    return nr_visible_active() ? true : false;
}

typedef struct with_current_call {
    NemoRelayNativeWithScopeStackCb cb;
    void *user_data;
} with_current_call;

static NemoRelayStatus run_with_current(void *p)
{
    with_current_call *w = p;
    return w->cb(w->user_data);
}

static NemoRelayStatus api_scope_stack_with_current(const NemoRelayNativeScopeStack *stack,
                                                    NemoRelayNativeWithScopeStackCb cb,
                                                    void *user_data)
{
    nr_native_last_error_clear();
    if (stack == NULL)
        return null_pointer("scope_stack_with_current");
    if (cb == NULL)
        return null_pointer("scope_stack_with_current callback");
    with_current_call w = {cb, user_data};
    NemoRelayStatus st = nr_stack_with_current((nr_stack *)stack, run_with_current, &w);
    if (st != NEMO_RELAY_STATUS_OK && nr_native_last_error() == NULL) {
        char msg[96];
        snprintf(msg, sizeof msg, "native scope-stack callback returned %s", nr_status_name(st));
        nr_native_last_error_set(msg);
    }
    return st;
}

/* ---- registrations ------------------------------------------------------------------- */

#define REGISTER_FN(fname, kind, cbtype)                                                    \
    static NemoRelayStatus fname(NemoRelayNativePluginContext *ctx,                         \
                                 const NemoRelayNativeString *name, int32_t priority,       \
                                 cbtype cb, void *user_data, NemoRelayNativeFreeFn free_fn) \
    {                                                                                       \
        return nr_native_register(ctx, kind, name, priority, false, (void (*)(void))cb,     \
                                  user_data, free_fn);                                      \
    }

static NemoRelayStatus api_register_subscriber(NemoRelayNativePluginContext *ctx,
                                               const NemoRelayNativeString *name,
                                               NemoRelayNativeEventSubscriberCb cb,
                                               void *user_data, NemoRelayNativeFreeFn free_fn)
{
    return nr_native_register(ctx, NR_MW_SUBSCRIBER, name, 0, false, (void (*)(void))cb, user_data,
                              free_fn);
}

REGISTER_FN(api_register_tool_sanitize_request, NR_MW_TOOL_SANITIZE_REQUEST,
            NemoRelayNativeToolJsonCb)
REGISTER_FN(api_register_tool_sanitize_response, NR_MW_TOOL_SANITIZE_RESPONSE,
            NemoRelayNativeToolJsonCb)
REGISTER_FN(api_register_tool_conditional, NR_MW_TOOL_CONDITIONAL,
            NemoRelayNativeToolConditionalCb)
REGISTER_FN(api_register_tool_execution, NR_MW_TOOL_EXECUTION, NemoRelayNativeToolExecutionCb)
REGISTER_FN(api_register_llm_sanitize_request, NR_MW_LLM_SANITIZE_REQUEST,
            NemoRelayNativeLlmRequestCb)
REGISTER_FN(api_register_llm_sanitize_response, NR_MW_LLM_SANITIZE_RESPONSE,
            NemoRelayNativeJsonCb)
REGISTER_FN(api_register_llm_conditional, NR_MW_LLM_CONDITIONAL, NemoRelayNativeLlmConditionalCb)
REGISTER_FN(api_register_llm_execution, NR_MW_LLM_EXECUTION, NemoRelayNativeLlmExecutionCb)
REGISTER_FN(api_register_llm_stream_execution, NR_MW_LLM_STREAM_EXECUTION,
            NemoRelayNativeLlmStreamExecutionCb)

static NemoRelayStatus api_register_tool_request(NemoRelayNativePluginContext *ctx,
                                                 const NemoRelayNativeString *name,
                                                 int32_t priority, bool break_chain,
                                                 NemoRelayNativeToolJsonCb cb, void *user_data,
                                                 NemoRelayNativeFreeFn free_fn)
{
    return nr_native_register(ctx, NR_MW_TOOL_REQUEST_INTERCEPT, name, priority, break_chain != 0,
                              (void (*)(void))cb, user_data, free_fn);
}

static NemoRelayStatus api_register_llm_request(NemoRelayNativePluginContext *ctx,
                                                const NemoRelayNativeString *name,
                                                int32_t priority, bool break_chain,
                                                NemoRelayNativeLlmRequestInterceptCb cb,
                                                void *user_data, NemoRelayNativeFreeFn free_fn)
{
    return nr_native_register(ctx, NR_MW_LLM_REQUEST_INTERCEPT, name, priority, break_chain != 0,
                              (void (*)(void))cb, user_data, free_fn);
}

/* ---- the table ------------------------------------------------------------------------ */

static const NemoRelayNativeHostApiV1 g_host_api = {
    .abi_version = NEMO_RELAY_NATIVE_ABI_VERSION,
    .struct_size = sizeof(NemoRelayNativeHostApiV1),
    .relay_version = NR_RELAY_VERSION,
    .string_new = api_string_new,
    .string_data = api_string_data,
    .string_len = api_string_len,
    .string_free = nr_native_string_free,
    .last_error_clear = api_last_error_clear,
    .last_error_set = api_last_error_set,
    .plugin_context_register_subscriber = api_register_subscriber,
    .plugin_context_register_tool_sanitize_request_guardrail = api_register_tool_sanitize_request,
    .plugin_context_register_tool_sanitize_response_guardrail = api_register_tool_sanitize_response,
    .plugin_context_register_tool_conditional_execution_guardrail = api_register_tool_conditional,
    .plugin_context_register_tool_request_intercept = api_register_tool_request,
    .plugin_context_register_tool_execution_intercept = api_register_tool_execution,
    .plugin_context_register_llm_sanitize_request_guardrail = api_register_llm_sanitize_request,
    .plugin_context_register_llm_sanitize_response_guardrail = api_register_llm_sanitize_response,
    .plugin_context_register_llm_conditional_execution_guardrail = api_register_llm_conditional,
    .plugin_context_register_llm_request_intercept = api_register_llm_request,
    .plugin_context_register_llm_execution_intercept = api_register_llm_execution,
    .plugin_context_register_llm_stream_execution_intercept = api_register_llm_stream_execution,
    .scope_handle_free = api_scope_handle_free,
    .scope_get_current = api_scope_get_current,
    .scope_push = api_scope_push,
    .scope_pop = api_scope_pop,
    .emit_mark = api_emit_mark,
    .scope_stack_create = api_scope_stack_create,
    .scope_stack_free = api_scope_stack_free,
    .scope_stack_set_thread = api_scope_stack_set_thread,
    .scope_stack_capture_thread = api_scope_stack_capture_thread,
    .scope_stack_restore_thread = api_scope_stack_restore_thread,
    .scope_stack_binding_free = api_scope_stack_binding_free,
    .scope_stack_active = api_scope_stack_active,
    .scope_stack_with_current = api_scope_stack_with_current,
};

const NemoRelayNativeHostApiV1 *nr_native_host_api(void)
{
    return &g_host_api;
}
