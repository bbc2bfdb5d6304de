/*
 * nemo_relay_plugin.h -- the native plugin ABI, version 1.
 *
 * This is the only header a native plugin needs.  It is binary-compatible with
 * NVIDIA NeMo Relay's native plugin ABI v1 (the layout a plugin built with the
 * NeMo Relay Rust SDK 0.5 expects), and it is pure C99: it includes nothing but
 * <stdint.h>, <stddef.h> and <stdbool.h> and can be used from C++.
 *
 * How a plugin is loaded
 *   1. The host reads the plugin's manifest (relay-plugin.toml or .json), checks
 *      it, and dlopen()s the library named there.
 *   2. It calls the entry symbol named in the manifest (NemoRelayNativePluginEntry)
 *      with the host table and a descriptor pre-filled with defaults.
 *   3. The plugin fills the descriptor: its kind (must equal the manifest id), an
 *      optional validate callback, the required register callback, an optional
 *      drop destructor and its own user_data.
 *   4. When a configuration enables the plugin, the host calls validate(config)
 *      and register(config, ctx); register installs middleware through the
 *      plugin_context_register_* functions of the host table.
 *
 * Ownership rules (they hold everywhere below)
 *   - Every NemoRelayNativeString that crosses the ABI was made by the host's
 *     string_new.  "Borrowed" means valid only for the duration of the call; the
 *     receiver must neither free nor keep it.  "Owned" or "transfers" means the
 *     receiver frees it with string_free.
 *   - Strings are UTF-8 bytes with a length.  They are NOT NUL-terminated: always
 *     use string_len, and never read string_data when the length is 0.
 *   - Every out-parameter is written by the callee.  Set it to NULL before the
 *     call; on a non-OK status free whatever non-NULL value was written.
 *   - A plugin_context_register_* call that returns non-OK has taken nothing: the
 *     host has not kept user_data and will never call free_fn for it.  On OK the
 *     host owns the registration and calls free_fn(user_data) exactly once, after
 *     the last call that may use it, while the library is still loaded.
 *   - The host table and relay_version live for the whole process; a plugin may
 *     keep a pointer to them or copy the table.
 *   - Errors: a callback returns a status; it may first describe the failure with
 *     last_error_set (a thread-local message the host reads right after).
 *
 * Threading: middleware callbacks and subscribers may be called concurrently from
 * several threads; plugins must be thread-safe.  validate and register of one
 * plugin instance are never called concurrently.
 *
 * Layout (LP64 / LLP64): NemoRelayNativeHostApiV1 is 272 bytes with 31 function
 * pointers in the order below, NemoRelayNativePluginV1 is 56 bytes and
 * NemoRelayNativeLlmStreamV1 is 40 bytes.  Fields are only ever appended.
 */
#ifndef NEMO_RELAY_PLUGIN_H
#define NEMO_RELAY_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the host table layout this header describes. */
#define NEMO_RELAY_NATIVE_ABI_VERSION 1u

/* Export an entry symbol with C linkage and default visibility. */
#if defined(_WIN32)
#define NEMO_RELAY_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define NEMO_RELAY_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define NEMO_RELAY_PLUGIN_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Status codes (int32 on the wire).                                         */

typedef int32_t NemoRelayStatus;

enum {
    NEMO_RELAY_STATUS_OK = 0,
    NEMO_RELAY_STATUS_ALREADY_EXISTS = 1,     /* a name is already registered */
    NEMO_RELAY_STATUS_NOT_FOUND = 2,          /* e.g. scope handle not on the stack */
    NEMO_RELAY_STATUS_SCOPE_STACK_EMPTY = 3,  /* reserved; never produced */
    NEMO_RELAY_STATUS_GUARDRAIL_REJECTED = 4, /* a guardrail rejected the call */
    NEMO_RELAY_STATUS_INTERNAL = 5,           /* any other failure */
    NEMO_RELAY_STATUS_NULL_POINTER = 6,       /* a required pointer was NULL */
    NEMO_RELAY_STATUS_INVALID_JSON = 7,       /* JSON did not parse or had the wrong shape */
    NEMO_RELAY_STATUS_INVALID_UTF8 = 8,       /* bytes were not UTF-8 */
    NEMO_RELAY_STATUS_INVALID_ARG = 9,        /* a bad argument value */
    NEMO_RELAY_STATUS_STREAM_END = 10         /* stream exhausted; no chunk returned */
};

/* ------------------------------------------------------------------------ */
/* Scope types (int32, passed by value) and attribute bits.                  */

typedef int32_t NemoRelayNativeScopeType;

enum {
    NEMO_RELAY_SCOPE_TYPE_AGENT = 0,
    NEMO_RELAY_SCOPE_TYPE_FUNCTION = 1,
    NEMO_RELAY_SCOPE_TYPE_TOOL = 2,
    NEMO_RELAY_SCOPE_TYPE_LLM = 3,
    NEMO_RELAY_SCOPE_TYPE_RETRIEVER = 4,
    NEMO_RELAY_SCOPE_TYPE_EMBEDDER = 5,
    NEMO_RELAY_SCOPE_TYPE_RERANKER = 6,
    NEMO_RELAY_SCOPE_TYPE_GUARDRAIL = 7,
    NEMO_RELAY_SCOPE_TYPE_EVALUATOR = 8,
    NEMO_RELAY_SCOPE_TYPE_CUSTOM = 9,
    NEMO_RELAY_SCOPE_TYPE_UNKNOWN = 10
};

/* Bits of scope_push's attributes; other bits are ignored. */
#define NEMO_RELAY_SCOPE_ATTRIBUTE_PARALLEL 0x1u
#define NEMO_RELAY_SCOPE_ATTRIBUTE_RELOCATABLE 0x2u

/* ------------------------------------------------------------------------ */
/* Opaque handles (never dereferenced by the plugin).                        */

/* Immutable UTF-8 bytes made by the host's string_new; freed by its owner. */
typedef struct NemoRelayNativeString NemoRelayNativeString;
/* Registration context; borrowed, valid only during the register callback. */
typedef struct NemoRelayNativePluginContext NemoRelayNativePluginContext;
/* Snapshot of one scope; owned by the plugin, freed with scope_handle_free.
 * It stays valid after the scope is popped. */
typedef struct NemoRelayNativeScopeHandle NemoRelayNativeScopeHandle;
/* One reference to a shared scope stack; freed with scope_stack_free (the stack
 * itself lives on while bound to a thread or installed as an override). */
typedef struct NemoRelayNativeScopeStack NemoRelayNativeScopeStack;
/* Snapshot of a thread's stack binding; consumed by scope_stack_restore_thread
 * or freed with scope_stack_binding_free. */
typedef struct NemoRelayNativeScopeStackBinding NemoRelayNativeScopeStackBinding;

/* ------------------------------------------------------------------------ */
/* Callback types.  "in" strings are borrowed; "out" strings transfer to the  */
/* receiver named in the comment.                                            */

/* Destructor for a registration's user_data; called exactly once. */
typedef void (*NemoRelayNativeFreeFn)(void *user_data);

/* Called synchronously by scope_stack_with_current on the same thread. */
typedef NemoRelayStatus (*NemoRelayNativeWithScopeStackCb)(void *user_data);

/* Host continuation of a tool execution chain.  args_json stays the plugin's.
 * next_ctx is the host's: pass it back unchanged; it is valid until the
 * execution callback that received it returns.  On OK *out_json is a new string
 * the plugin owns.  May be called zero or more times, from any thread. */
typedef NemoRelayStatus (*NemoRelayNativeToolNextFn)(const NemoRelayNativeString *args_json,
                                                     void *next_ctx,
                                                     NemoRelayNativeString **out_json);

/* Host continuation of an LLM execution chain; request_json must be an object
 * {"headers": {...}, "content": ...}.  Same ownership as the tool variant. */
typedef NemoRelayStatus (*NemoRelayNativeLlmNextFn)(const NemoRelayNativeString *request_json,
                                                    void *next_ctx,
                                                    NemoRelayNativeString **out_json);

/* Poll of a stream's producer.  OK: *out_json is one JSON chunk owned by the
 * consumer.  STREAM_END: no more chunks.  Any other status: the stream failed.
 * The consumer frees a non-NULL *out_json whatever the status. */
typedef NemoRelayStatus (*NemoRelayNativeLlmStreamPollFn)(void *user_data,
                                                          NemoRelayNativeString **out_json);
/* Called at most once, only when the consumer abandons an unfinished stream. */
typedef NemoRelayStatus (*NemoRelayNativeLlmStreamCancelFn)(void *user_data);
/* Called exactly once by the consumer after end, error or cancel. */
typedef void (*NemoRelayNativeLlmStreamDropFn)(void *user_data);

/* A stream of JSON chunks (40 bytes; struct_size must equal sizeof). The
 * producer owns user_data; the consumer owns the table and must call drop. */
typedef struct NemoRelayNativeLlmStreamV1 {
    size_t struct_size;                      /* = sizeof(NemoRelayNativeLlmStreamV1) */
    void *user_data;                         /* producer state */
    NemoRelayNativeLlmStreamPollFn next;     /* required */
    NemoRelayNativeLlmStreamCancelFn cancel; /* optional */
    NemoRelayNativeLlmStreamDropFn drop;     /* optional */
} NemoRelayNativeLlmStreamV1;

/* Host continuation of a stream chain.  out_stream is the plugin's memory; the
 * host resets it and, on OK, fills it with a stream the plugin now owns (poll it
 * and eventually drop it, or wrap it into the stream it returns).  next_ctx
 * stays valid for the life of the stream returned by the execution callback. */
typedef NemoRelayStatus (*NemoRelayNativeLlmStreamNextFn)(
    const NemoRelayNativeString *request_json, void *next_ctx,
    NemoRelayNativeLlmStreamV1 *out_stream);

/* Event subscriber: event_json (ATOF 0.1) is borrowed.  The status is ignored. */
typedef NemoRelayStatus (*NemoRelayNativeEventSubscriberCb)(void *user_data,
                                                            const NemoRelayNativeString *event_json);

/* Tool sanitize-request, sanitize-response and request intercept.  name is the
 * tool name (plain text); payload_json the args or result.  On OK *out_json
 * (required) transfers to the host. */
typedef NemoRelayStatus (*NemoRelayNativeToolJsonCb)(void *user_data,
                                                     const NemoRelayNativeString *name,
                                                     const NemoRelayNativeString *payload_json,
                                                     NemoRelayNativeString **out_json);

/* Tool conditional execution.  On OK: *out_reason NULL allows the call; a
 * non-NULL reason (plain text, transfers to the host) rejects it. */
typedef NemoRelayStatus (*NemoRelayNativeToolConditionalCb)(void *user_data,
                                                            const NemoRelayNativeString *name,
                                                            const NemoRelayNativeString *args_json,
                                                            NemoRelayNativeString **out_reason);

/* Tool execution intercept: wraps the rest of the chain, reached through
 * next_fn(args, next_ctx, &out).  On OK *out_json (required) transfers. */
typedef NemoRelayStatus (*NemoRelayNativeToolExecutionCb)(void *user_data,
                                                          const NemoRelayNativeString *name,
                                                          const NemoRelayNativeString *args_json,
                                                          NemoRelayNativeToolNextFn next_fn,
                                                          void *next_ctx,
                                                          NemoRelayNativeString **out_json);

/* LLM sanitize-request: returns a whole LLM request object. */
typedef NemoRelayStatus (*NemoRelayNativeLlmRequestCb)(void *user_data,
                                                       const NemoRelayNativeString *request_json,
                                                       NemoRelayNativeString **out_request_json);

/* LLM sanitize-response: any JSON in, any JSON out. */
typedef NemoRelayStatus (*NemoRelayNativeJsonCb)(void *user_data,
                                                 const NemoRelayNativeString *payload_json,
                                                 NemoRelayNativeString **out_json);

/* LLM conditional execution: like the tool variant, without a name. */
typedef NemoRelayStatus (*NemoRelayNativeLlmConditionalCb)(void *user_data,
                                                           const NemoRelayNativeString *request_json,
                                                           NemoRelayNativeString **out_reason);

/* LLM request intercept.  annotated_json may be NULL.  On OK *out_request_json
 * is required and *out_annotated_json optional; both transfer to the host. */
typedef NemoRelayStatus (*NemoRelayNativeLlmRequestInterceptCb)(
    void *user_data, const NemoRelayNativeString *name,
    const NemoRelayNativeString *request_json, const NemoRelayNativeString *annotated_json,
    NemoRelayNativeString **out_request_json, NemoRelayNativeString **out_annotated_json);

/* LLM execution intercept: like the tool variant with an LLM request. */
typedef NemoRelayStatus (*NemoRelayNativeLlmExecutionCb)(void *user_data,
                                                         const NemoRelayNativeString *name,
                                                         const NemoRelayNativeString *request_json,
                                                         NemoRelayNativeLlmNextFn next_fn,
                                                         void *next_ctx,
                                                         NemoRelayNativeString **out_json);

/* LLM stream execution intercept.  out_stream is host memory pre-set to the
 * default table; on OK the plugin fills it and the stream transfers to the
 * host.  On a non-OK status the host still calls out_stream->drop if set. */
typedef NemoRelayStatus (*NemoRelayNativeLlmStreamExecutionCb)(
    void *user_data, const NemoRelayNativeString *name,
    const NemoRelayNativeString *request_json, NemoRelayNativeLlmStreamNextFn next_fn,
    void *next_ctx, NemoRelayNativeLlmStreamV1 *out_stream);

/* Descriptor callbacks.  user_data is the descriptor's.  validate returns on OK
 * either NULL (no diagnostics) or a JSON array of
 * {level, code, message, component?, field?} that transfers to the host. */
typedef NemoRelayStatus (*NemoRelayNativePluginValidateFn)(
    void *user_data, const NemoRelayNativeString *plugin_config_json,
    NemoRelayNativeString **out_diagnostics_json);
/* register installs middleware through ctx (borrowed for this call only). */
typedef NemoRelayStatus (*NemoRelayNativePluginRegisterFn)(
    void *user_data, const NemoRelayNativeString *plugin_config_json,
    NemoRelayNativePluginContext *ctx);
/* drop destroys user_data, once, before the library is closed. */
typedef void (*NemoRelayNativePluginDropFn)(void *user_data);

/* ------------------------------------------------------------------------ */
/* The host table (272 bytes).  Built once by the host; immutable.           */

typedef struct NemoRelayNativeHostApiV1 {
    uint32_t abi_version;      /* = NEMO_RELAY_NATIVE_ABI_VERSION */
    size_t struct_size;        /* sizeof the table as the host sees it */
    const char *relay_version; /* NUL-terminated host version, e.g. "0.5.0" */

    /* Strings.  string_new copies len bytes (data may be NULL when len is 0)
     * and fails with INVALID_UTF8 on bad UTF-8; *out transfers to the caller.
     * string_data/string_len accept NULL; string_free is NULL-safe. */
    NemoRelayStatus (*string_new)(const uint8_t *data, size_t len, NemoRelayNativeString **out);
    const uint8_t *(*string_data)(const NemoRelayNativeString *s);
    size_t (*string_len)(const NemoRelayNativeString *s);
    void (*string_free)(NemoRelayNativeString *s);

    /* The calling thread's error message.  last_error_set copies message (the
     * caller keeps ownership); NULL sets an empty message. */
    void (*last_error_clear)(void);
    void (*last_error_set)(const NemoRelayNativeString *message);

    /* Registrations, valid only inside the register callback.  name is
     * borrowed (NULL reads as ""); the host qualifies it with the component's
     * namespace.  A non-OK return took nothing (see the ownership rules). */
    NemoRelayStatus (*plugin_context_register_subscriber)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name,
        NemoRelayNativeEventSubscriberCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_tool_sanitize_request_guardrail)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeToolJsonCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_tool_sanitize_response_guardrail)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeToolJsonCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_tool_conditional_execution_guardrail)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeToolConditionalCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_tool_request_intercept)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        bool break_chain, NemoRelayNativeToolJsonCb cb, void *user_data,
        NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_tool_execution_intercept)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeToolExecutionCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_llm_sanitize_request_guardrail)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeLlmRequestCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_llm_sanitize_response_guardrail)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeJsonCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_llm_conditional_execution_guardrail)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeLlmConditionalCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_llm_request_intercept)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        bool break_chain, NemoRelayNativeLlmRequestInterceptCb cb, void *user_data,
        NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_llm_execution_intercept)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeLlmExecutionCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);
    NemoRelayStatus (*plugin_context_register_llm_stream_execution_intercept)(
        NemoRelayNativePluginContext *ctx, const NemoRelayNativeString *name, int32_t priority,
        NemoRelayNativeLlmStreamExecutionCb cb, void *user_data, NemoRelayNativeFreeFn free_fn);

    /* Scopes.  Handles returned in *out are owned by the plugin.  JSON
     * arguments are borrowed and optional (NULL = absent); timestamps are
     * microseconds since the Unix epoch (NULL = now).  parent NULL means the
     * top of the calling thread's visible stack. */
    void (*scope_handle_free)(NemoRelayNativeScopeHandle *handle);
    NemoRelayStatus (*scope_get_current)(NemoRelayNativeScopeHandle **out);
    NemoRelayStatus (*scope_push)(const NemoRelayNativeString *name, int32_t scope_type,
                                  const NemoRelayNativeScopeHandle *parent, uint32_t attributes,
                                  const NemoRelayNativeString *data_json,
                                  const NemoRelayNativeString *metadata_json,
                                  const NemoRelayNativeString *input_json,
                                  const int64_t *timestamp_unix_micros,
                                  NemoRelayNativeScopeHandle **out);
    NemoRelayStatus (*scope_pop)(const NemoRelayNativeScopeHandle *handle,
                                 const NemoRelayNativeString *output_json,
                                 const NemoRelayNativeString *metadata_json,
                                 const int64_t *timestamp_unix_micros);
    NemoRelayStatus (*emit_mark)(const NemoRelayNativeString *name,
                                 const NemoRelayNativeScopeHandle *parent,
                                 const NemoRelayNativeString *data_json,
                                 const NemoRelayNativeString *metadata_json,
                                 const int64_t *timestamp_unix_micros);

    /* Scope stacks.  A stack made by scope_stack_create is owned by the plugin
     * (scope_stack_free drops that reference).  set_thread binds it to the
     * calling thread; capture/restore save and put back a thread's binding;
     * with_current makes a stack visible to every host call made by cb on this
     * thread, and restores the previous state when cb returns. */
    NemoRelayStatus (*scope_stack_create)(NemoRelayNativeScopeStack **out);
    void (*scope_stack_free)(NemoRelayNativeScopeStack *stack);
    NemoRelayStatus (*scope_stack_set_thread)(const NemoRelayNativeScopeStack *stack);
    NemoRelayStatus (*scope_stack_capture_thread)(NemoRelayNativeScopeStackBinding **out);
    NemoRelayStatus (*scope_stack_restore_thread)(NemoRelayNativeScopeStackBinding *binding);
    void (*scope_stack_binding_free)(NemoRelayNativeScopeStackBinding *binding);
    bool (*scope_stack_active)(void);
    NemoRelayStatus (*scope_stack_with_current)(const NemoRelayNativeScopeStack *stack,
                                                NemoRelayNativeWithScopeStackCb cb,
                                                void *user_data);
} NemoRelayNativeHostApiV1;

/* ------------------------------------------------------------------------ */
/* The plugin descriptor (56 bytes), filled by the entry symbol.             */

typedef struct NemoRelayNativePluginV1 {
    size_t struct_size;              /* host pre-fills sizeof; must stay >= 56 */
    NemoRelayNativeString *plugin_kind; /* from string_new; transfers to the host;
                                         * must equal the manifest's plugin id */
    bool allows_multiple_components; /* default true */
    void *user_data;                 /* plugin state for validate/register/drop */
    NemoRelayNativePluginValidateFn validate; /* optional */
    NemoRelayNativePluginRegisterFn register_; /* required ("register" upstream) */
    NemoRelayNativePluginDropFn drop;         /* optional destructor of user_data */
} NemoRelayNativePluginV1;

/* The entry symbol (its name comes from the manifest's load.symbol).  The host
 * passes its table and a descriptor pre-filled with defaults; return OK after
 * filling *out.  On a non-OK return the host still tears down whatever was
 * written (drop, then string_free of plugin_kind). */
typedef NemoRelayStatus (*NemoRelayNativePluginEntry)(const NemoRelayNativeHostApiV1 *host,
                                                      NemoRelayNativePluginV1 *out);

/* ------------------------------------------------------------------------ */
/* Optional nemo_relay extension (not part of NeMo Relay's ABI v1, which
 * ignores it; it changes no layout above).
 *
 * A subscriber that buffers events can be told to write them out.  If the
 * library exports this symbol, nemo_relay's subscribers.flush() calls it once
 * for every subscriber the library has registered, with that registration's
 * user_data, on the calling thread and with no host lock held.  It may run
 * concurrently with the subscriber callback itself. */
#define NEMO_RELAY_NATIVE_SUBSCRIBER_FLUSH_SYMBOL "nemo_relay_native_subscriber_flush_v1"
typedef void (*NemoRelayNativeSubscriberFlushFn)(void *subscriber_user_data);

#ifdef __cplusplus
}
#endif

#endif /* NEMO_RELAY_PLUGIN_H */
