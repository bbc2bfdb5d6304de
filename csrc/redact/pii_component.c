/* pii_component.c -- the pii_redaction plugin kind (see pii_component.h). */
#include "pii_component.h"

#include "nr_codec.h"
#include "nr_json.h"
#include "nr_plugin.h"
#include "nr_registry.h"
#include "nr_value.h"
#include "pii_policy.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A compiled policy shared by a component's registrations. */
typedef struct shared_policy {
    atomic_size_t refs;
    pii_policy *policy;
} shared_policy;

/* One registration: the shared policy and whether payloads are LLM requests. */
typedef struct sanitizer {
    shared_policy *shared;
    bool llm_request;
} sanitizer;

static void shared_release(shared_policy *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        pii_policy_free(s->policy);
        free(s);
    }
}

/* free_fn of a registration: owns the sanitizer and one policy reference. */
static void sanitizer_free(void *ud)
{
    sanitizer *z = ud;
    shared_release(z->shared);
    free(z);
}

static bool codec_of(const char *name, nr_codec_id *out)
{
    static const char *const names[NR_CODEC_COUNT] = {
        [NR_CODEC_OPENAI_CHAT] = "openai_chat",
        [NR_CODEC_OPENAI_RESPONSES] = "openai_responses",
        [NR_CODEC_ANTHROPIC_MESSAGES] = "anthropic_messages",
    };
    for (int i = 0; name != NULL && i < NR_CODEC_COUNT; i++)
        if (strcmp(names[i], name) == 0) {
            *out = (nr_codec_id)i;
            return true;
        }
    return false;
}

/* An LLM request with a codec: rules without target paths cover the whole
 * request as it is; rules with target paths point into the codec's
 * annotated request (messages, model, params, tools, ...), which is decoded,
 * redacted and encoded back into the provider's content.  The result must
 * decode to exactly the redacted annotated request, or nothing is recorded:
 * a redaction the provider format cannot carry must not leak silently.  A
 * content the codec cannot decode is redacted with raw pointers instead.
 * *root (the request) is owned by the caller and changed in place. */
static bool redact_with_codec(const pii_policy *policy, nr_codec_id codec, cJSON **root,
                              bool *changed, char **message)
{
    bool untargeted = false, targeted = false;
    if (!pii_policy_apply(policy, root, true, PII_RULES_UNTARGETED, &untargeted, message))
        return false;
    *changed = untargeted;
    cJSON *request = *root;
    cJSON *content = cJSON_GetObjectItemCaseSensitive(request, "content");
    cJSON *annotated = content != NULL ? nr_codec_decode(codec, content, NULL) : NULL;
    if (annotated == NULL) {
        bool ok = pii_policy_apply(policy, root, true, PII_RULES_TARGETED, &targeted, message);
        *changed |= targeted;
        return ok;
    }
    bool ok = pii_policy_apply(policy, &annotated, false, PII_RULES_TARGETED, &targeted, message);
    if (ok && targeted) {
        nr_error err = NR_ERROR_INIT;
        cJSON *encoded = nr_codec_encode(codec, annotated, content, content, &err);
        cJSON *check = encoded != NULL ? nr_codec_decode(codec, encoded, &err) : NULL;
        ok = check != NULL && cJSON_Compare(check, annotated, true);
        if (!ok)
            *message = strdup(err.message != NULL
                                  ? err.message
                                  : "the redacted request cannot be encoded in the codec's format");
        if (ok && !cJSON_ReplaceItemViaPointer(request, content, encoded)) {
            ok = false;
            *message = strdup("out of memory");
        }
        if (ok)
            encoded = NULL; /* now the request's */
        cJSON_Delete(encoded);
        cJSON_Delete(check);
        nr_error_clear(&err);
        *changed = true;
    }
    cJSON_Delete(annotated);
    return ok;
}

/* The sanitize step.  `in` is borrowed; *out is a new reference: `in` itself
 * when nothing was redacted, else the redacted copy. */
static NemoRelayStatus sanitize(void *ud, const nr_call_info *ci, nr_value *in, nr_value **out,
                                nr_error *err)
{
    (void)ci;
    const sanitizer *z = ud;
    const cJSON *json = nr_value_json(in, err);
    if (json == NULL)
        return nr_error_status(err);
    cJSON *copy = nr_json_dup(json);
    if (copy == NULL)
        return nr_error_nomem(err);
    bool changed = false, ok;
    char *message = NULL;
    const pii_policy *policy = z->shared->policy;
    nr_codec_id codec;
    if (z->llm_request && pii_policy_has_targets(policy) && codec_of(pii_policy_codec(policy), &codec))
        ok = redact_with_codec(policy, codec, &copy, &changed, &message);
    else
        ok = pii_policy_apply(policy, &copy, z->llm_request, PII_RULES_ALL, &changed, &message);
    if (!ok) {
        cJSON_Delete(copy);
        nr_error_set(err, NR_E_CALLBACK, "pii_redaction: %s", message != NULL ? message : "failed");
        free(message);
        return nr_errkind_status(NR_E_CALLBACK);
    }
    if (!changed) {
        cJSON_Delete(copy);
        *out = nr_value_ref(in);
        return NEMO_RELAY_STATUS_OK;
    }
    *out = nr_value_from_json(copy);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_nomem(err);
}

static NemoRelayStatus validate_op(void *ud, const char *kind, const cJSON *config,
                                   cJSON *diagnostics, nr_error *err)
{
    (void)ud;
    (void)kind;
    (void)err;
    pii_validate(config, diagnostics);
    return NEMO_RELAY_STATUS_OK;
}

static NemoRelayStatus add_sanitizer(nr_plugin_ctx *ctx, shared_policy *shared, nr_mw_kind kind,
                                     const char *name, int32_t priority, bool llm_request,
                                     nr_error *err)
{
    sanitizer *z = malloc(sizeof *z);
    if (z == NULL)
        return nr_error_nomem(err);
    z->shared = shared;
    z->llm_request = llm_request;
    atomic_fetch_add_explicit(&shared->refs, 1, memory_order_relaxed);
    nr_callback_spec spec = {
        .kind = kind,
        .name = name,
        .priority = priority,
        .native = true,
        .fn.transform = sanitize,
        .user_data = z,
        .free_fn = sanitizer_free,
    };
    NemoRelayStatus st = nr_plugin_ctx_register(ctx, &spec, err);
    if (st != NEMO_RELAY_STATUS_OK)
        sanitizer_free(z); /* a failed registration took nothing */
    return st;
}

static NemoRelayStatus register_op(void *ud, const char *kind, const cJSON *config,
                                   nr_plugin_ctx *ctx, nr_error *err)
{
    (void)ud;
    (void)kind;
    char *message = NULL;
    pii_policy *policy = pii_policy_compile(config, &message);
    if (policy == NULL) {
        nr_error_set(err, NR_E_INVALID_CONFIG, "invalid pii_redaction config: %s",
                     message != NULL ? message : "out of memory");
        free(message);
        return nr_errkind_status(NR_E_INVALID_CONFIG);
    }
    shared_policy *shared = malloc(sizeof *shared);
    if (shared == NULL) {
        pii_policy_free(policy);
        return nr_error_nomem(err);
    }
    atomic_init(&shared->refs, 1); /* this function's own reference */
    shared->policy = policy;
    pii_surfaces s = pii_policy_surfaces(policy);
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    if (st == NEMO_RELAY_STATUS_OK && s.tool_input)
        st = add_sanitizer(ctx, shared, NR_MW_TOOL_SANITIZE_REQUEST, "tool_input", s.priority,
                           false, err);
    if (st == NEMO_RELAY_STATUS_OK && s.tool_output)
        st = add_sanitizer(ctx, shared, NR_MW_TOOL_SANITIZE_RESPONSE, "tool_output", s.priority,
                           false, err);
    if (st == NEMO_RELAY_STATUS_OK && s.input)
        st = add_sanitizer(ctx, shared, NR_MW_LLM_SANITIZE_REQUEST, "input", s.priority, true,
                           err);
    if (st == NEMO_RELAY_STATUS_OK && s.output)
        st = add_sanitizer(ctx, shared, NR_MW_LLM_SANITIZE_RESPONSE, "output", s.priority, false,
                           err);
    shared_release(shared); /* what was registered is rolled back by the runtime on failure */
    return st;
}

NemoRelayStatus nr_pii_install(nr_error *err)
{
    static const nr_plugin_ops ops = {
        .validate = validate_op,
        .register_ = register_op,
        .release = NULL,
        .failure_code = "pii_redaction.invalid_plugin_config",
    };
    return nr_plugin_register_kind(PII_KIND, false, &ops, NULL, err);
}
