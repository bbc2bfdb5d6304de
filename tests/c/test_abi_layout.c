/*
 * test_abi_layout.c -- pins the binary layout of the native plugin ABI v1.
 *
 * Every size and offset below comes from reference/native-abi-v1.md (§1.2,
 * §1.4, §1.9, §1.11, §1.14).  They are checked at compile time, so a header
 * edit that moves a field fails the build, not a plugin at run time.  The
 * header is included first and alone so this file also proves it is
 * self-contained.
 *
 * Build (C99, pedantic; the assert macro below needs no C11 feature):
 *   gcc -std=c99 -Wall -Wextra -Werror -pedantic -Icsrc/include \
 *       tests/c/test_abi_layout.c -o /tmp/test_abi_layout && /tmp/test_abi_layout
 * It also builds unchanged with -std=c11, where the macro uses _Static_assert.
 */
#include "nemo_relay_plugin.h"

#include <stdio.h>
#include <string.h>

/* The pinned numbers are those of 64-bit (LP64/LLP64) targets, the only ones
 * the reference documents. */
#if UINTPTR_MAX != UINT64_MAX
#error "the ABI v1 layout pins are defined for 64-bit targets only"
#endif

/* A static assert that works in C99: a negative array size fails to compile.
 * Each use gets a distinct typedef name through __LINE__ (one use per line). */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NR_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#define NR_CONCAT_(a, b) a##b
#define NR_CONCAT(a, b) NR_CONCAT_(a, b)
#define NR_STATIC_ASSERT(cond, msg) \
    typedef char NR_CONCAT(nr_static_assert_line_, __LINE__)[(cond) ? 1 : -1]
#endif

#define NR_SIZE(type, size) NR_STATIC_ASSERT(sizeof(type) == (size), #type " size")
#define NR_OFFSET(type, field, off) \
    NR_STATIC_ASSERT(offsetof(type, field) == (off), #type "." #field " offset")

/* ------------------------------------------------------------------------ */
/* Scalars the layout depends on.                                           */

NR_STATIC_ASSERT(NEMO_RELAY_NATIVE_ABI_VERSION == 1, "ABI version");
NR_SIZE(bool, 1);            /* Rust bool is one byte holding 0 or 1 */
NR_SIZE(NemoRelayStatus, 4); /* #[repr(i32)] */
NR_SIZE(NemoRelayNativeScopeType, 4);
NR_SIZE(size_t, 8);
NR_SIZE(void *, 8);

/* ------------------------------------------------------------------------ */
/* Status codes (§1.2).                                                     */

NR_STATIC_ASSERT(NEMO_RELAY_STATUS_OK == 0, "status Ok");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_ALREADY_EXISTS == 1, "status AlreadyExists");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_NOT_FOUND == 2, "status NotFound");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_SCOPE_STACK_EMPTY == 3, "status ScopeStackEmpty");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_GUARDRAIL_REJECTED == 4, "status GuardrailRejected");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_INTERNAL == 5, "status Internal");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_NULL_POINTER == 6, "status NullPointer");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_INVALID_JSON == 7, "status InvalidJson");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_INVALID_UTF8 == 8, "status InvalidUtf8");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_INVALID_ARG == 9, "status InvalidArg");
NR_STATIC_ASSERT(NEMO_RELAY_STATUS_STREAM_END == 10, "status StreamEnd");

/* ------------------------------------------------------------------------ */
/* Scope types (§1.4) and attribute bits (§1.5).                            */

NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_AGENT == 0, "scope Agent");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_FUNCTION == 1, "scope Function");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_TOOL == 2, "scope Tool");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_LLM == 3, "scope Llm");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_RETRIEVER == 4, "scope Retriever");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_EMBEDDER == 5, "scope Embedder");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_RERANKER == 6, "scope Reranker");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_GUARDRAIL == 7, "scope Guardrail");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_EVALUATOR == 8, "scope Evaluator");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_CUSTOM == 9, "scope Custom");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_TYPE_UNKNOWN == 10, "scope Unknown");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_ATTRIBUTE_PARALLEL == 0x1u, "attribute parallel");
NR_STATIC_ASSERT(NEMO_RELAY_SCOPE_ATTRIBUTE_RELOCATABLE == 0x2u, "attribute relocatable");

/* ------------------------------------------------------------------------ */
/* Host table (§1.9): 272 bytes, 3 header fields + 31 function pointers.    */

NR_SIZE(NemoRelayNativeHostApiV1, 272);
NR_OFFSET(NemoRelayNativeHostApiV1, abi_version, 0);
NR_OFFSET(NemoRelayNativeHostApiV1, struct_size, 8);
NR_OFFSET(NemoRelayNativeHostApiV1, relay_version, 16);
NR_OFFSET(NemoRelayNativeHostApiV1, string_new, 24);
NR_OFFSET(NemoRelayNativeHostApiV1, string_data, 32);
NR_OFFSET(NemoRelayNativeHostApiV1, string_len, 40);
NR_OFFSET(NemoRelayNativeHostApiV1, string_free, 48);
NR_OFFSET(NemoRelayNativeHostApiV1, last_error_clear, 56);
NR_OFFSET(NemoRelayNativeHostApiV1, last_error_set, 64);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_subscriber, 72);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_tool_sanitize_request_guardrail, 80);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_tool_sanitize_response_guardrail, 88);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_tool_conditional_execution_guardrail,
          96);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_tool_request_intercept, 104);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_tool_execution_intercept, 112);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_llm_sanitize_request_guardrail, 120);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_llm_sanitize_response_guardrail, 128);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_llm_conditional_execution_guardrail,
          136);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_llm_request_intercept, 144);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_llm_execution_intercept, 152);
NR_OFFSET(NemoRelayNativeHostApiV1, plugin_context_register_llm_stream_execution_intercept, 160);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_handle_free, 168);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_get_current, 176);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_push, 184);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_pop, 192);
NR_OFFSET(NemoRelayNativeHostApiV1, emit_mark, 200);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_create, 208);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_free, 216);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_set_thread, 224);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_capture_thread, 232);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_restore_thread, 240);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_binding_free, 248);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_active, 256);
NR_OFFSET(NemoRelayNativeHostApiV1, scope_stack_with_current, 264);
/* 31 function pointers after the 24-byte header, nothing else. */
NR_STATIC_ASSERT(24 + 31 * sizeof(void (*)(void)) == sizeof(NemoRelayNativeHostApiV1),
                 "host table holds exactly 31 function pointers");

/* ------------------------------------------------------------------------ */
/* Plugin descriptor (§1.11): 56 bytes.                                     */

NR_SIZE(NemoRelayNativePluginV1, 56);
NR_OFFSET(NemoRelayNativePluginV1, struct_size, 0);
NR_OFFSET(NemoRelayNativePluginV1, plugin_kind, 8);
NR_OFFSET(NemoRelayNativePluginV1, allows_multiple_components, 16);
NR_OFFSET(NemoRelayNativePluginV1, user_data, 24);
NR_OFFSET(NemoRelayNativePluginV1, validate, 32);
NR_OFFSET(NemoRelayNativePluginV1, register_, 40);
NR_OFFSET(NemoRelayNativePluginV1, drop, 48);

/* ------------------------------------------------------------------------ */
/* LLM stream table (§1.14): 40 bytes.                                      */

NR_SIZE(NemoRelayNativeLlmStreamV1, 40);
NR_OFFSET(NemoRelayNativeLlmStreamV1, struct_size, 0);
NR_OFFSET(NemoRelayNativeLlmStreamV1, user_data, 8);
NR_OFFSET(NemoRelayNativeLlmStreamV1, next, 16);
NR_OFFSET(NemoRelayNativeLlmStreamV1, cancel, 24);
NR_OFFSET(NemoRelayNativeLlmStreamV1, drop, 32);

/* ------------------------------------------------------------------------ */
/* Function-pointer types: assigning a host field to a pointer spelled the  */
/* way §1.9 writes it must compile without a warning (-Werror turns an      */
/* argument-order or const mismatch into a build failure).                  */

static int check_host_field_types(const NemoRelayNativeHostApiV1 *t)
{
    NemoRelayStatus (*string_new)(const uint8_t *, size_t, NemoRelayNativeString **) =
        t->string_new;
    const uint8_t *(*string_data)(const NemoRelayNativeString *) = t->string_data;
    size_t (*string_len)(const NemoRelayNativeString *) = t->string_len;
    void (*string_free)(NemoRelayNativeString *) = t->string_free;
    void (*last_error_clear)(void) = t->last_error_clear;
    void (*last_error_set)(const NemoRelayNativeString *) = t->last_error_set;
    NemoRelayStatus (*reg_subscriber)(NemoRelayNativePluginContext *,
                                      const NemoRelayNativeString *,
                                      NemoRelayNativeEventSubscriberCb, void *,
                                      NemoRelayNativeFreeFn) =
        t->plugin_context_register_subscriber;
    NemoRelayStatus (*reg_tool_intercept)(NemoRelayNativePluginContext *,
                                          const NemoRelayNativeString *, int32_t, bool,
                                          NemoRelayNativeToolJsonCb, void *,
                                          NemoRelayNativeFreeFn) =
        t->plugin_context_register_tool_request_intercept;
    NemoRelayStatus (*reg_llm_intercept)(NemoRelayNativePluginContext *,
                                         const NemoRelayNativeString *, int32_t, bool,
                                         NemoRelayNativeLlmRequestInterceptCb, void *,
                                         NemoRelayNativeFreeFn) =
        t->plugin_context_register_llm_request_intercept;
    NemoRelayStatus (*scope_push)(const NemoRelayNativeString *, int32_t,
                                  const NemoRelayNativeScopeHandle *, uint32_t,
                                  const NemoRelayNativeString *, const NemoRelayNativeString *,
                                  const NemoRelayNativeString *, const int64_t *,
                                  NemoRelayNativeScopeHandle **) = t->scope_push;
    NemoRelayStatus (*scope_pop)(const NemoRelayNativeScopeHandle *,
                                 const NemoRelayNativeString *, const NemoRelayNativeString *,
                                 const int64_t *) = t->scope_pop;
    NemoRelayStatus (*emit_mark)(const NemoRelayNativeString *,
                                 const NemoRelayNativeScopeHandle *,
                                 const NemoRelayNativeString *, const NemoRelayNativeString *,
                                 const int64_t *) = t->emit_mark;
    bool (*active)(void) = t->scope_stack_active;
    NemoRelayStatus (*with_current)(const NemoRelayNativeScopeStack *,
                                    NemoRelayNativeWithScopeStackCb, void *) =
        t->scope_stack_with_current;
    /* Use every local so the compiler keeps the conversions. */
    return string_new == 0 && string_data == 0 && string_len == 0 && string_free == 0 &&
           last_error_clear == 0 && last_error_set == 0 && reg_subscriber == 0 &&
           reg_tool_intercept == 0 && reg_llm_intercept == 0 && scope_push == 0 &&
           scope_pop == 0 && emit_mark == 0 && active == 0 && with_current == 0;
}

int main(void)
{
    /* A zeroed table has NULL pointers only: the type checks above run, and a
     * run-time pass also confirms the compile-time numbers are the real ones. */
    NemoRelayNativeHostApiV1 table;
    memset(&table, 0, sizeof table);
    if (!check_host_field_types(&table)) {
        fprintf(stderr, "host table type check failed\n");
        return 1;
    }
    if (sizeof(NemoRelayNativeHostApiV1) != 272 || sizeof(NemoRelayNativePluginV1) != 56 ||
        sizeof(NemoRelayNativeLlmStreamV1) != 40) {
        fprintf(stderr, "ABI sizes differ at run time\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
