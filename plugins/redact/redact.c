/*
 * redact.c -- the bundled "redact" native plugin.
 *
 * Sanitize guardrails that keep secrets out of the recorded events.  Sanitizers
 * only change what is recorded (tool start/end and LLM start/end event data):
 * the tool or LLM function still receives the real values and the caller still
 * gets the real result.
 *
 * Config (one component; several components are allowed, each is its own
 * policy):
 *   keys                  array of non-empty strings.  The value of every
 *                         object member whose key equals one of these
 *                         (ASCII case-insensitive, at any depth, objects inside
 *                         arrays included) becomes the replacement string,
 *                         whatever its type.  Extends the default keys
 *                         api_key, authorization, password, secret, token.
 *   replace_default_keys  boolean, default false: true drops the default keys
 *                         so that only `keys` are used.
 *   patterns              array of non-empty strings.  Each is the literal,
 *                         case-sensitive start of a secret (e.g. "sk-live-").
 *                         Wherever one occurs inside a string value, the
 *                         occurrence and the rest of the token it starts are
 *                         replaced by the replacement: the token runs on over
 *                         ASCII letters, digits and - _ . + / = ~ and ends at
 *                         any other character (a space, a quote, a comma, ...).
 *                         So "key sk-live-abc." becomes "key [REDACTED]" and
 *                         nothing of the secret is left behind.  Object keys,
 *                         numbers and booleans are left alone.  One
 *                         left-to-right pass; at each position the longest
 *                         matching pattern wins; replaced text is not scanned
 *                         again.
 *   replacement           string, default "[REDACTED]" (may be empty).
 *   priority              integer (int32), default -1000.  Sanitizers run as a
 *                         chain in ascending priority, each one receiving the
 *                         previous one's output, so by default redaction runs
 *                         first and every later sanitizer only ever sees the
 *                         redacted payload.  Give a large priority (e.g. 1000)
 *                         to make it the last word instead (it then also
 *                         redacts what other sanitizers added).
 *
 * Registers four sanitize guardrails (names qualified by the host):
 *   redact_tool_sanitize_request, redact_tool_sanitize_response,
 *   redact_llm_sanitize_request, redact_llm_sanitize_response.
 * The LLM request keeps its {"headers": {...}, "content": ...} shape: header
 * names are matched like keys (so "Authorization" is redacted by default) and
 * content is walked recursively; the "headers" and "content" members
 * themselves are never replaced whole.
 *
 * Validation returns diagnostics [{level, code, message, component, field}]:
 * errors redact.invalid_keys, redact.invalid_patterns,
 * redact.invalid_replacement, redact.invalid_replace_default_keys,
 * redact.invalid_priority; warnings redact.unknown_field and
 * redact.nothing_to_redact.  A null value counts as "not given".
 *
 * Ownership and threading: the policy is immutable after register and shared
 * by the four registrations through an atomic reference count (each
 * registration's free_fn drops one reference; a failed registration's
 * reference is dropped here, since the host took nothing).  Every call works
 * on its own parsed copy of the payload, so callbacks may run concurrently.
 * Depends only on the ABI header, plugins/common/plugin_support.h, cJSON
 * and libc.
 */
#include "plugin_support.h"

#include <cjson/cJSON.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD_KIND "redact"
#define RD_OK NEMO_RELAY_STATUS_OK
#define RD_DEFAULT_REPLACEMENT "[REDACTED]"
#define RD_DEFAULT_PRIORITY (-1000)

NEMO_RELAY_PLUGIN_EXPORT NemoRelayStatus nemo_relay_redact_plugin(const HostApi *host,
                                                                  NemoRelayNativePluginV1 *out);

static const char *const rd_default_keys[] = {"api_key", "authorization", "password", "secret",
                                              "token"};

static const char *const rd_known_fields[] = {"keys", "replace_default_keys", "patterns",
                                              "replacement", "priority"};

/* ======================================================================== */
/* Small helpers                                                            */
/* ======================================================================== */

/* ASCII case-insensitive equality (locale-independent). */
static bool rd_equal_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a;
        unsigned char y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
        if (x == '\0') {
            return true;
        }
    }
}

/* ======================================================================== */
/* The policy                                                               */
/* ======================================================================== */

typedef struct RdPolicy {
    atomic_size_t refs;
    const HostApi *host;
    char **keys;
    size_t n_keys;
    char **patterns; /* longest first */
    size_t *pattern_lens;
    size_t n_patterns;
    char *replacement;
    int32_t priority;
} RdPolicy;

static void rd_policy_destroy(RdPolicy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n_keys; i++) {
        free(p->keys[i]);
    }
    for (size_t i = 0; i < p->n_patterns; i++) {
        free(p->patterns[i]);
    }
    free(p->keys);
    free(p->patterns);
    free(p->pattern_lens);
    free(p->replacement);
    free(p);
}

static void rd_policy_retain(RdPolicy *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

/* The registrations' free_fn: drops one reference. */
static void rd_policy_release(void *user_data)
{
    RdPolicy *p = user_data;
    if (p != NULL && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        rd_policy_destroy(p);
    }
}

/* ======================================================================== */
/* Config checking (shared by validate and register)                        */
/* ======================================================================== */

/* Checks an optional array of non-empty strings; returns it (NULL when absent
 * or invalid; *valid tells them apart). */
static const cJSON *rd_check_string_array(PsCheck *check, const cJSON *config, const char *field,
                                          const char *code, bool *valid)
{
    *valid = true;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, field);
    if (v == NULL || cJSON_IsNull(v)) {
        return NULL;
    }
    if (!cJSON_IsArray(v)) {
        *valid = false;
        ps_diag(check, true, code, field, RD_KIND ": %s must be an array of non-empty strings, not %s",
                field, ps_type_name(v));
        return NULL;
    }
    int index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsString(item) || item->valuestring == NULL) {
            *valid = false;
            ps_diag(check, true, code, field,
                    RD_KIND ": %s must be an array of non-empty strings; item %d is %s", field,
                    index, ps_type_name(item));
        } else if (item->valuestring[0] == '\0') {
            *valid = false;
            ps_diag(check, true, code, field,
                    RD_KIND ": %s must be an array of non-empty strings; item %d is empty", field,
                    index);
        }
        index++;
    }
    return *valid ? v : NULL;
}

/* Copies the strings of a checked array to the end of list. */
static bool rd_append_strings(char ***list, size_t *n, const cJSON *array)
{
    size_t extra = (size_t)cJSON_GetArraySize(array);
    if (extra == 0) {
        return true;
    }
    char **grown = realloc(*list, (*n + extra) * sizeof *grown);
    if (grown == NULL) {
        return false;
    }
    *list = grown;
    const cJSON *item;
    cJSON_ArrayForEach(item, array)
    {
        char *copy = ps_strdup(item->valuestring);
        if (copy == NULL) {
            return false;
        }
        grown[(*n)++] = copy;
    }
    return true;
}

static int rd_longer_first(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a);
    size_t lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Checks config and, when out is not NULL and there is no error, builds the
 * policy (*out, one reference).  Never fails for bad config: that is what
 * check->errors counts. */
static void rd_check_config(PsCheck *check, const cJSON *config, RdPolicy **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    ps_warn_unknown_fields(check, config, "redact.unknown_field", rd_known_fields,
                           PS_COUNT(rd_known_fields));

    bool keys_valid, patterns_valid;
    const cJSON *keys = rd_check_string_array(check, config, "keys", "redact.invalid_keys", &keys_valid);
    const cJSON *patterns =
        rd_check_string_array(check, config, "patterns", "redact.invalid_patterns", &patterns_valid);

    bool replace_defaults = false;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, "replace_default_keys");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (cJSON_IsBool(v)) {
            replace_defaults = cJSON_IsTrue(v);
        } else {
            ps_diag(check, true, "redact.invalid_replace_default_keys", "replace_default_keys",
                    RD_KIND ": replace_default_keys must be a boolean, not %s", ps_type_name(v));
        }
    }

    const char *replacement = RD_DEFAULT_REPLACEMENT;
    v = cJSON_GetObjectItemCaseSensitive(config, "replacement");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (cJSON_IsString(v) && v->valuestring != NULL) {
            replacement = v->valuestring;
        } else {
            ps_diag(check, true, "redact.invalid_replacement", "replacement",
                    RD_KIND ": replacement must be a string, not %s", ps_type_name(v));
        }
    }

    int32_t priority = RD_DEFAULT_PRIORITY;
    ps_check_int(check, config, "priority", "redact.invalid_priority", INT32_MIN, INT32_MAX,
                 &priority);

    bool have_keys = (!replace_defaults) || cJSON_GetArraySize(keys) > 0;
    if (keys_valid && patterns_valid && !have_keys && cJSON_GetArraySize(patterns) == 0) {
        ps_diag(check, false, "redact.nothing_to_redact", "keys",
                RD_KIND ": replace_default_keys is true but no keys or patterns are configured; "
                "nothing will be redacted");
    }

    if (out == NULL || check->errors > 0 || check->oom) {
        return;
    }
    RdPolicy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        check->oom = true;
        return;
    }
    atomic_init(&p->refs, 1);
    p->priority = priority;
    bool ok = (p->replacement = ps_strdup(replacement)) != NULL;
    if (ok && !replace_defaults) {
        p->keys = malloc(PS_COUNT(rd_default_keys) * sizeof *p->keys);
        ok = p->keys != NULL;
        for (size_t i = 0; ok && i < PS_COUNT(rd_default_keys); i++) {
            ok = (p->keys[p->n_keys] = ps_strdup(rd_default_keys[i])) != NULL;
            p->n_keys += ok ? 1 : 0;
        }
    }
    ok = ok && (keys == NULL || rd_append_strings(&p->keys, &p->n_keys, keys));
    ok = ok && (patterns == NULL || rd_append_strings(&p->patterns, &p->n_patterns, patterns));
    if (ok && p->n_patterns > 0) {
        qsort(p->patterns, p->n_patterns, sizeof *p->patterns, rd_longer_first);
        p->pattern_lens = malloc(p->n_patterns * sizeof *p->pattern_lens);
        ok = p->pattern_lens != NULL;
        for (size_t i = 0; ok && i < p->n_patterns; i++) {
            p->pattern_lens[i] = strlen(p->patterns[i]);
        }
    }
    if (!ok) {
        check->oom = true;
        rd_policy_destroy(p);
        return;
    }
    *out = p;
}

/* ======================================================================== */
/* Redaction                                                                */
/* ======================================================================== */

static bool rd_key_matches(const RdPolicy *p, const char *key)
{
    for (size_t i = 0; i < p->n_keys; i++) {
        if (rd_equal_nocase(key, p->keys[i])) {
            return true;
        }
    }
    return false;
}

/* Replaces item (a member of parent) by the replacement string, keeping its
 * key.  False when out of memory (item is then unchanged). */
static bool rd_replace_value(const RdPolicy *p, cJSON *parent, cJSON *item)
{
    cJSON *rep = cJSON_CreateString(p->replacement);
    if (rep == NULL) {
        return false;
    }
    /* move the key over: ReplaceItemViaPointer keeps links, not keys */
    rep->string = item->string;
    item->string = NULL;
    if (item->type & cJSON_StringIsConst) {
        rep->type |= cJSON_StringIsConst;
        item->type &= ~cJSON_StringIsConst;
    }
    cJSON_ReplaceItemViaPointer(parent, item, rep); /* deletes item */
    return true;
}

/* Length of the longest pattern at the start of s (0 when none matches). */
static size_t rd_match(const RdPolicy *p, const char *s, size_t avail)
{
    for (size_t k = 0; k < p->n_patterns; k++) { /* longest first */
        if (p->pattern_lens[k] <= avail && memcmp(s, p->patterns[k], p->pattern_lens[k]) == 0) {
            return p->pattern_lens[k];
        }
    }
    return 0;
}

/* Whether c may continue a secret token after a pattern: what API keys,
 * base64 and JWTs are made of. */
static bool rd_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '+' || c == '/' || c == '=' || c == '~';
}

/* Replaces every pattern occurrence, with the rest of its token, inside a string value, setting *changed
 * when there was one.  False when out of memory. */
static bool rd_redact_string(const RdPolicy *p, cJSON *item, bool *changed)
{
    const char *s = item->valuestring;
    if (s == NULL || p->n_patterns == 0) {
        return true;
    }
    bool any = false;
    for (size_t i = 0; !any && i < p->n_patterns; i++) {
        any = strstr(s, p->patterns[i]) != NULL;
    }
    if (!any) {
        return true;
    }
    size_t len = strlen(s);
    size_t rep_len = strlen(p->replacement);
    /* two passes over the same matches: measure, then fill */
    char *out = NULL;
    size_t o = 0;
    for (int pass = 0; pass < 2; pass++) {
        o = 0;
        for (size_t i = 0; i < len;) {
            size_t matched = rd_match(p, s + i, len - i);
            if (matched > 0) {
                if (rep_len > SIZE_MAX - 1 - o) {
                    free(out); /* cannot be represented */
                    return false;
                }
                if (out != NULL) {
                    memcpy(out + o, p->replacement, rep_len);
                }
                o += rep_len;
                i += matched;
                while (i < len && rd_token_char(s[i])) {
                    i++; /* the rest of the secret */
                }
            } else {
                if (out != NULL) {
                    out[o] = s[i];
                }
                o++;
                i++;
            }
        }
        if (pass == 0 && (out = malloc(o + 1)) == NULL) {
            return false;
        }
    }
    out[o] = '\0';
    bool ok = cJSON_SetValuestring(item, out) != NULL;
    free(out);
    *changed = *changed || ok;
    return ok;
}

/* Redacts item in place (item is a member of parent, or the root when parent
 * is NULL), setting *changed when anything was redacted.  check_key: whether
 * item's own key may select it for replacement.  False when out of memory. */
static bool rd_walk(const RdPolicy *p, cJSON *parent, cJSON *item, bool check_key, bool *changed)
{
    if (check_key && parent != NULL && item->string != NULL && rd_key_matches(p, item->string)) {
        bool ok = rd_replace_value(p, parent, item);
        *changed = *changed || ok;
        return ok;
    }
    if (cJSON_IsString(item)) {
        return rd_redact_string(p, item, changed);
    }
    if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
        cJSON *child = item->child;
        while (child != NULL) {
            cJSON *next = child->next; /* child may be replaced */
            if (!rd_walk(p, item, child, true, changed)) {
                return false;
            }
            child = next;
        }
    }
    return true;
}

/* An LLM request {"headers": {...}, "content": ...}: "headers" and "content"
 * are walked but never replaced whole, so the shape survives any key list.
 * Sets *changed as rd_walk does. */
static bool rd_walk_llm_request(const RdPolicy *p, cJSON *request, bool *changed)
{
    cJSON *child = request->child;
    while (child != NULL) {
        cJSON *next = child->next;
        bool shape = child->string != NULL &&
                     (strcmp(child->string, "headers") == 0 || strcmp(child->string, "content") == 0);
        if (!rd_walk(p, request, child, !shape, changed)) {
            return false;
        }
        child = next;
    }
    return true;
}

/* What every callback does (user_data is the policy): parse, redact, and
 * print the result -- or, when nothing was redacted, copy the payload's bytes
 * as they came.  llm_request selects the request walk; `what` names the
 * payload in a parse error.  Ownership: payload is borrowed; on OK *out is a
 * new host string that transfers to the host (on failure it stays NULL). */
static NemoRelayStatus rd_sanitize(void *user_data, const HostString *payload, const char *what,
                                   bool llm_request, HostString **out)
{
    if (out == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    *out = NULL;
    const RdPolicy *p = user_data;
    if (p == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    const HostApi *host = p->host;
    cJSON *value = NULL;
    NemoRelayStatus status = ps_parse(host, RD_KIND, payload, what, &value);
    if (status != RD_OK) {
        return status;
    }
    bool ok, changed = false;
    if (llm_request) {
        if (!cJSON_IsObject(value)) {
            cJSON_Delete(value);
            return ps_fail(host, NEMO_RELAY_STATUS_INVALID_JSON,
                           RD_KIND ": an LLM request must be a JSON object");
        }
        ok = rd_walk_llm_request(p, value, &changed);
    } else {
        ok = rd_walk(p, NULL, value, false, &changed);
    }
    if (!ok) {
        status = ps_oom(host, RD_KIND);
    } else if (changed) {
        status = ps_print(host, RD_KIND, value, out);
    } else { /* a copy: the payload is borrowed and must not be handed back */
        status = host->string_new(host->string_data(payload), host->string_len(payload), out);
    }
    cJSON_Delete(value);
    return status;
}

/* ======================================================================== */
/* Callbacks                                                                */
/* ======================================================================== */

/* The tool sanitizers differ only in how a parse error names the payload
 * (the ABI does not tell one callback which of the two it runs as). */

/* payload borrowed; on OK *out (new host string) transfers to the host. */
static NemoRelayStatus rd_tool_request(void *user_data, const HostString *name,
                                       const HostString *payload, HostString **out)
{
    (void)name;
    return rd_sanitize(user_data, payload, "tool arguments", false, out);
}

/* payload borrowed; on OK *out (new host string) transfers to the host. */
static NemoRelayStatus rd_tool_response(void *user_data, const HostString *name,
                                        const HostString *payload, HostString **out)
{
    (void)name;
    return rd_sanitize(user_data, payload, "tool result", false, out);
}

/* request borrowed; on OK *out (new host string) transfers to the host. */
static NemoRelayStatus rd_llm_request(void *user_data, const HostString *request, HostString **out)
{
    return rd_sanitize(user_data, request, "LLM request", true, out);
}

/* payload borrowed; on OK *out (new host string) transfers to the host. */
static NemoRelayStatus rd_llm_response(void *user_data, const HostString *payload, HostString **out)
{
    return rd_sanitize(user_data, payload, "LLM response", false, out);
}

/* ======================================================================== */
/* Registration                                                             */
/* ======================================================================== */

typedef enum RdSlot {
    RD_TOOL_REQUEST,
    RD_TOOL_RESPONSE,
    RD_LLM_REQUEST,
    RD_LLM_RESPONSE,
    RD_SLOTS
} RdSlot;

static const char *const rd_slot_names[RD_SLOTS] = {
    "redact_tool_sanitize_request", "redact_tool_sanitize_response",
    "redact_llm_sanitize_request", "redact_llm_sanitize_response"};

/* One registration; the reference it hands over is dropped here on failure,
 * because a failed plugin_context_register_* call has taken nothing. */
static NemoRelayStatus rd_register_one(RdPolicy *p, PluginContext *ctx, RdSlot slot)
{
    const HostApi *host = p->host;
    HostString *name = NULL;
    NemoRelayStatus status = ps_text(host, rd_slot_names[slot], &name);
    if (status != RD_OK) {
        host->string_free(name);
        return status;
    }
    rd_policy_retain(p);
    switch (slot) {
    case RD_TOOL_REQUEST:
        status = host->plugin_context_register_tool_sanitize_request_guardrail(
            ctx, name, p->priority, rd_tool_request, p, rd_policy_release);
        break;
    case RD_TOOL_RESPONSE:
        status = host->plugin_context_register_tool_sanitize_response_guardrail(
            ctx, name, p->priority, rd_tool_response, p, rd_policy_release);
        break;
    case RD_LLM_REQUEST:
        status = host->plugin_context_register_llm_sanitize_request_guardrail(
            ctx, name, p->priority, rd_llm_request, p, rd_policy_release);
        break;
    default:
        status = host->plugin_context_register_llm_sanitize_response_guardrail(
            ctx, name, p->priority, rd_llm_response, p, rd_policy_release);
        break;
    }
    if (status != RD_OK) {
        rd_policy_release(p);
    }
    host->string_free(name);
    return status;
}

/* ======================================================================== */
/* The plugin descriptor                                                    */
/* ======================================================================== */

/* Validate's pass over a config: the checks alone, no policy. */
static void rd_validate_config(PsCheck *check, const cJSON *config)
{
    rd_check_config(check, config, NULL);
}

static NemoRelayStatus rd_plugin_register(void *user_data, const HostString *plugin_config_json,
                                          PluginContext *ctx)
{
    const PsPlugin *plugin = user_data;
    if (plugin == NULL || ctx == NULL) {
        return NEMO_RELAY_STATUS_NULL_POINTER;
    }
    const HostApi *host = plugin->host;
    cJSON *config = NULL;
    NemoRelayStatus status = ps_parse_config(host, RD_KIND, plugin_config_json, &config);
    if (status != RD_OK) {
        return status;
    }
    PsCheck check = {RD_KIND, NULL, 0, false, NULL};
    RdPolicy *policy = NULL;
    rd_check_config(&check, config, &policy);
    cJSON_Delete(config);
    if (check.errors > 0) {
        /* register is only called after a clean validate; be defensive */
        status = ps_fail(host, NEMO_RELAY_STATUS_INVALID_ARG,
                         check.first_error != NULL ? check.first_error
                                                   : RD_KIND ": invalid config");
    } else if (check.oom || policy == NULL) {
        status = ps_oom(host, RD_KIND);
    }
    free(check.first_error);
    if (status != RD_OK) {
        rd_policy_release(policy); /* NULL-safe */
        return status;
    }
    policy->host = host;
    for (int slot = 0; status == RD_OK && slot < RD_SLOTS; slot++) {
        /* on failure the host rolls back the registrations already made */
        status = rd_register_one(policy, ctx, (RdSlot)slot);
    }
    rd_policy_release(policy); /* register's own reference */
    return status;
}

NEMO_RELAY_PLUGIN_EXPORT NemoRelayStatus nemo_relay_redact_plugin(const HostApi *host,
                                                                  NemoRelayNativePluginV1 *out)
{
    return ps_describe(host, out, RD_KIND, rd_validate_config, rd_plugin_register);
}
