/*
 * pii_policy.h -- the pii_redaction component's configuration: validation
 * (diagnostics), compilation (once per configuration) and application to
 * JSON payloads.
 *
 * Configuration (NeMo Relay's PiiRedactionConfig shape):
 *   version 1; mode "builtin" | "local_model"; input, output (LLM request and
 *   response), tool_input, tool_output (booleans, default true); priority
 *   (int32, default 100); codec (optional provider name); builtin: one rule
 *   object, or (our extension) an array of rule objects applied in order;
 *   local (local_model settings); policy {unknown_component, unknown_field,
 *   unsupported_value} deciding the level of diagnostics.
 * A rule: action remove | redact | regex_replace | hash | mask (default
 *   remove); target_paths (JSON pointers; empty = every string leaf);
 *   pattern (PCRE2) or detector (a built-in name); replacement (default
 *   "[REDACTED]", $1 / ${name} / $$ expand); mask_char (default "*");
 *   unmasked_prefix / unmasked_suffix.
 *
 * A compiled policy is immutable and may be applied from many threads at
 * once (each application has its own match data).  No Python, no runtime
 * lock: this file depends on cJSON, PCRE2 and libcrypto only.
 */
#ifndef PII_POLICY_H
#define PII_POLICY_H

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stdint.h>

#define PII_KIND "pii_redaction"

typedef struct pii_policy pii_policy;

/* Appends this configuration's diagnostics ({level, code, message,
 * component, field}) to the `diagnostics` array.  Never fails except for
 * allocation (then some diagnostics may be missing). */
void pii_validate(const cJSON *config, cJSON *diagnostics);

/* Compiles a configuration (patterns compiled and JIT-compiled here, once).
 * Returns NULL and a malloc'd message in *error (caller frees) when the
 * configuration cannot be used: whatever validation would report as an
 * error at the default policy, and local_model mode always. */
pii_policy *pii_policy_compile(const cJSON *config, char **error);
void pii_policy_free(pii_policy *p);

/* Which payloads the configuration sanitizes, and at what priority. */
typedef struct pii_surfaces {
    bool input, output, tool_input, tool_output;
    int32_t priority;
} pii_surfaces;
pii_surfaces pii_policy_surfaces(const pii_policy *p);

/* Which rules an application runs. */
typedef enum pii_rules {
    PII_RULES_ALL,        /* every rule, in order */
    PII_RULES_UNTARGETED, /* only rules without target paths */
    PII_RULES_TARGETED    /* only rules with target paths */
} pii_rules;

/* The configured codec's name ("openai_chat", ...), or NULL. */
const char *pii_policy_codec(const pii_policy *p);
/* Whether any rule has target paths. */
bool pii_policy_has_targets(const pii_policy *p);

/* Applies the selected rules, in order, to *root (owned by the caller, changed in
 * place; a removed root becomes JSON null).  With llm_request, *root is an
 * LLM request {"headers": {...}, "content": ...}: target paths point into
 * "content", and rules without target paths also cover the header values.
 * *changed tells whether anything was changed.  Returns false with a
 * malloc'd message in *error (allocation or matching failure): the caller
 * must then not record *root (sanitizers fail closed). */
bool pii_policy_apply(const pii_policy *p, cJSON **root, bool llm_request, pii_rules which,
                      bool *changed, char **error);

#endif /* PII_POLICY_H */
