/*
 * test_abi_header_cxx.cpp -- the ABI header from C++.
 *
 * Proves that nemo_relay_plugin.h compiles as C++11 (extern "C", no C-only
 * constructs), pins the sizes again with static_assert, and pins the exact type
 * of every function pointer in the three ABI structs (reference/native-abi-v1.md
 * §1.8, §1.9, §1.11, §1.14), so a swapped argument or a lost const fails the
 * build.
 *
 * Build:
 *   g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Icsrc/include \
 *       tests/c/test_abi_header_cxx.cpp -o /tmp/test_abi_header_cxx && /tmp/test_abi_header_cxx
 */
#include "nemo_relay_plugin.h"

#include <cstddef>
#include <cstdio>
#include <type_traits>

static_assert(sizeof(void *) == 8, "the ABI v1 layout pins are defined for 64-bit targets");
static_assert(NEMO_RELAY_NATIVE_ABI_VERSION == 1, "ABI version");
static_assert(sizeof(bool) == 1, "bool is one byte");
static_assert(sizeof(NemoRelayNativeHostApiV1) == 272, "host table size");
static_assert(sizeof(NemoRelayNativePluginV1) == 56, "descriptor size");
static_assert(sizeof(NemoRelayNativeLlmStreamV1) == 40, "stream table size");
static_assert(offsetof(NemoRelayNativeHostApiV1, scope_stack_with_current) == 264,
              "last host function");
static_assert(offsetof(NemoRelayNativePluginV1, register_) == 40, "descriptor register");
static_assert(offsetof(NemoRelayNativeLlmStreamV1, drop) == 32, "stream drop");
static_assert(NEMO_RELAY_STATUS_STREAM_END == 10, "last status");
static_assert(NEMO_RELAY_SCOPE_TYPE_UNKNOWN == 10, "last scope type");

/* PIN(struct, field, type): the field's declared type is exactly `type`. */
#define PIN(s, f, ...) \
    static_assert(std::is_same<decltype(s::f), __VA_ARGS__>::value, #s "." #f " type")

typedef NemoRelayNativeString S;
typedef NemoRelayNativePluginContext Ctx;
typedef NemoRelayNativeScopeHandle Handle;
typedef NemoRelayNativeScopeStack Stack;
typedef NemoRelayNativeScopeStackBinding Binding;
typedef NemoRelayStatus St;
typedef NemoRelayNativeFreeFn FreeFn;

/* Callback typedefs (§1.8). */
static_assert(std::is_same<NemoRelayNativeFreeFn, void (*)(void *)>::value, "FreeFn");
static_assert(std::is_same<NemoRelayNativeWithScopeStackCb, St (*)(void *)>::value,
              "WithScopeStackCb");
static_assert(std::is_same<NemoRelayNativeToolNextFn, St (*)(const S *, void *, S **)>::value,
              "ToolNextFn");
static_assert(std::is_same<NemoRelayNativeLlmNextFn, St (*)(const S *, void *, S **)>::value,
              "LlmNextFn");
static_assert(std::is_same<NemoRelayNativeLlmStreamPollFn, St (*)(void *, S **)>::value,
              "LlmStreamPollFn");
static_assert(std::is_same<NemoRelayNativeLlmStreamCancelFn, St (*)(void *)>::value,
              "LlmStreamCancelFn");
static_assert(std::is_same<NemoRelayNativeLlmStreamDropFn, void (*)(void *)>::value,
              "LlmStreamDropFn");
static_assert(std::is_same<NemoRelayNativeLlmStreamNextFn,
                           St (*)(const S *, void *, NemoRelayNativeLlmStreamV1 *)>::value,
              "LlmStreamNextFn");
static_assert(std::is_same<NemoRelayNativeEventSubscriberCb, St (*)(void *, const S *)>::value,
              "EventSubscriberCb");
static_assert(std::is_same<NemoRelayNativeToolJsonCb,
                           St (*)(void *, const S *, const S *, S **)>::value,
              "ToolJsonCb");
static_assert(std::is_same<NemoRelayNativeToolConditionalCb,
                           St (*)(void *, const S *, const S *, S **)>::value,
              "ToolConditionalCb");
static_assert(std::is_same<NemoRelayNativeToolExecutionCb,
                           St (*)(void *, const S *, const S *, NemoRelayNativeToolNextFn,
                                  void *, S **)>::value,
              "ToolExecutionCb");
static_assert(std::is_same<NemoRelayNativeLlmRequestCb, St (*)(void *, const S *, S **)>::value,
              "LlmRequestCb");
static_assert(std::is_same<NemoRelayNativeJsonCb, St (*)(void *, const S *, S **)>::value,
              "JsonCb");
static_assert(std::is_same<NemoRelayNativeLlmConditionalCb,
                           St (*)(void *, const S *, S **)>::value,
              "LlmConditionalCb");
static_assert(std::is_same<NemoRelayNativeLlmRequestInterceptCb,
                           St (*)(void *, const S *, const S *, const S *, S **, S **)>::value,
              "LlmRequestInterceptCb");
static_assert(std::is_same<NemoRelayNativeLlmExecutionCb,
                           St (*)(void *, const S *, const S *, NemoRelayNativeLlmNextFn,
                                  void *, S **)>::value,
              "LlmExecutionCb");
static_assert(std::is_same<NemoRelayNativeLlmStreamExecutionCb,
                           St (*)(void *, const S *, const S *, NemoRelayNativeLlmStreamNextFn,
                                  void *, NemoRelayNativeLlmStreamV1 *)>::value,
              "LlmStreamExecutionCb");
static_assert(std::is_same<NemoRelayNativePluginValidateFn,
                           St (*)(void *, const S *, S **)>::value,
              "PluginValidateFn");
static_assert(std::is_same<NemoRelayNativePluginRegisterFn,
                           St (*)(void *, const S *, Ctx *)>::value,
              "PluginRegisterFn");
static_assert(std::is_same<NemoRelayNativePluginDropFn, void (*)(void *)>::value,
              "PluginDropFn");
static_assert(std::is_same<NemoRelayNativePluginEntry,
                           St (*)(const NemoRelayNativeHostApiV1 *,
                                  NemoRelayNativePluginV1 *)>::value,
              "PluginEntry");

/* Host table fields (§1.9), in table order. */
#define H NemoRelayNativeHostApiV1
PIN(H, abi_version, uint32_t);
PIN(H, struct_size, size_t);
PIN(H, relay_version, const char *);
PIN(H, string_new, St (*)(const uint8_t *, size_t, S **));
PIN(H, string_data, const uint8_t *(*)(const S *));
PIN(H, string_len, size_t (*)(const S *));
PIN(H, string_free, void (*)(S *));
PIN(H, last_error_clear, void (*)(void));
PIN(H, last_error_set, void (*)(const S *));
PIN(H, plugin_context_register_subscriber,
    St (*)(Ctx *, const S *, NemoRelayNativeEventSubscriberCb, void *, FreeFn));
PIN(H, plugin_context_register_tool_sanitize_request_guardrail,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeToolJsonCb, void *, FreeFn));
PIN(H, plugin_context_register_tool_sanitize_response_guardrail,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeToolJsonCb, void *, FreeFn));
PIN(H, plugin_context_register_tool_conditional_execution_guardrail,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeToolConditionalCb, void *, FreeFn));
PIN(H, plugin_context_register_tool_request_intercept,
    St (*)(Ctx *, const S *, int32_t, bool, NemoRelayNativeToolJsonCb, void *, FreeFn));
PIN(H, plugin_context_register_tool_execution_intercept,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeToolExecutionCb, void *, FreeFn));
PIN(H, plugin_context_register_llm_sanitize_request_guardrail,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeLlmRequestCb, void *, FreeFn));
PIN(H, plugin_context_register_llm_sanitize_response_guardrail,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeJsonCb, void *, FreeFn));
PIN(H, plugin_context_register_llm_conditional_execution_guardrail,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeLlmConditionalCb, void *, FreeFn));
PIN(H, plugin_context_register_llm_request_intercept,
    St (*)(Ctx *, const S *, int32_t, bool, NemoRelayNativeLlmRequestInterceptCb, void *,
           FreeFn));
PIN(H, plugin_context_register_llm_execution_intercept,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeLlmExecutionCb, void *, FreeFn));
PIN(H, plugin_context_register_llm_stream_execution_intercept,
    St (*)(Ctx *, const S *, int32_t, NemoRelayNativeLlmStreamExecutionCb, void *, FreeFn));
PIN(H, scope_handle_free, void (*)(Handle *));
PIN(H, scope_get_current, St (*)(Handle **));
PIN(H, scope_push,
    St (*)(const S *, int32_t, const Handle *, uint32_t, const S *, const S *, const S *,
           const int64_t *, Handle **));
PIN(H, scope_pop, St (*)(const Handle *, const S *, const S *, const int64_t *));
PIN(H, emit_mark, St (*)(const S *, const Handle *, const S *, const S *, const int64_t *));
PIN(H, scope_stack_create, St (*)(Stack **));
PIN(H, scope_stack_free, void (*)(Stack *));
PIN(H, scope_stack_set_thread, St (*)(const Stack *));
PIN(H, scope_stack_capture_thread, St (*)(Binding **));
PIN(H, scope_stack_restore_thread, St (*)(Binding *));
PIN(H, scope_stack_binding_free, void (*)(Binding *));
PIN(H, scope_stack_active, bool (*)(void));
PIN(H, scope_stack_with_current, St (*)(const Stack *, NemoRelayNativeWithScopeStackCb, void *));
#undef H

/* Descriptor fields (§1.11). */
#define D NemoRelayNativePluginV1
PIN(D, struct_size, size_t);
PIN(D, plugin_kind, S *);
PIN(D, allows_multiple_components, bool);
PIN(D, user_data, void *);
PIN(D, validate, NemoRelayNativePluginValidateFn);
PIN(D, register_, NemoRelayNativePluginRegisterFn);
PIN(D, drop, NemoRelayNativePluginDropFn);
#undef D

/* Stream table fields (§1.14). */
#define L NemoRelayNativeLlmStreamV1
PIN(L, struct_size, size_t);
PIN(L, user_data, void *);
PIN(L, next, NemoRelayNativeLlmStreamPollFn);
PIN(L, cancel, NemoRelayNativeLlmStreamCancelFn);
PIN(L, drop, NemoRelayNativeLlmStreamDropFn);
#undef L

/* The enums and the typedefs that carry them must stay 32-bit integers. */
static_assert(std::is_same<NemoRelayStatus, int32_t>::value, "status is int32");
static_assert(std::is_same<NemoRelayNativeScopeType, int32_t>::value, "scope type is int32");

int main()
{
    std::puts("ok");
    return 0;
}
