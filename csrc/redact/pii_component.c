/* pii_component.c -- the pii_redaction plugin kind (see pii_component.h). */
#include "pii_component.h"

#include "nr_json.h"
#include "nr_plugin.h"
#include "nr_registry.h"
#include "nr_value.h"
#include "pii_policy.h"

#include <stdatomic.h>
#include <stdlib.h>

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
    bool changed = false;
    char *message = NULL;
    if (!pii_policy_apply(z->shared->policy, &copy, z->llm_request, &changed, &message)) {
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
