/*
 * pii_policy.c -- validating and compiling the pii_redaction configuration.
 *
 * One pass (check_config) both validates and, when asked, builds the rules,
 * so the two can never disagree.  Problems that make a rule unusable (a
 * wrong type, an unknown action or detector, a pattern PCRE2 rejects,
 * local_model mode) are errors whatever the component's policy says;
 * unknown fields and unsupported-but-usable values follow the policy.
 */
#include "pii_rule.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum level { LV_IGNORE, LV_WARN, LV_ERROR } level;

typedef struct checker {
    cJSON *diags;           /* where diagnostics go */
    level unknown_field;
    level unsupported_value;
    size_t errors;
    pii_policy *build;      /* NULL: validate only */
} checker;

static const char *const TOP_FIELDS[] = {"version", "mode", "input", "output", "tool_input",
                                         "tool_output", "priority", "codec", "builtin", "local",
                                         "policy", NULL};
static const char *const RULE_FIELDS[] = {"action", "target_paths", "pattern", "detector",
                                          "replacement", "mask_char", "unmasked_prefix",
                                          "unmasked_suffix", NULL};
static const char *const LOCAL_FIELDS[] = {"backend", "model_id", "detector_profile",
                                           "allow_network", "max_latency_ms", NULL};
static const char *const POLICY_FIELDS[] = {"unknown_component", "unknown_field",
                                            "unsupported_value", NULL};

static void report(checker *c, level lv, const char *code, const char *field, const char *fmt,
                   ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static void report(checker *c, level lv, const char *code, const char *field, const char *fmt,
                   ...)
{
    if (lv == LV_IGNORE)
        return;
    if (lv == LV_ERROR)
        c->errors++;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *d = cJSON_CreateObject();
    if (d == NULL)
        return;
    cJSON_AddStringToObject(d, "level", lv == LV_ERROR ? "error" : "warning");
    cJSON_AddStringToObject(d, "code", code);
    cJSON_AddStringToObject(d, "component", PII_KIND);
    if (field != NULL)
        cJSON_AddStringToObject(d, "field", field);
    cJSON_AddStringToObject(d, "message", msg);
    if (!cJSON_AddItemToArray(c->diags, d))
        cJSON_Delete(d);
}

#define INVALID "pii_redaction.invalid_plugin_config"
#define UNSUPPORTED "pii_redaction.unsupported_value"

static bool given(const cJSON *v)
{
    return v != NULL && !cJSON_IsNull(v);
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static bool is_integer(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble &&
           v->valuedouble >= lo && v->valuedouble <= hi;
}

static void unknown_fields(checker *c, const cJSON *obj, const char *const *known,
                           const char *section)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        bool found = false;
        for (size_t i = 0; known[i] != NULL && !found; i++)
            found = strcmp(known[i], item->string) == 0;
        if (found)
            continue;
        char field[256];
        if (section != NULL)
            snprintf(field, sizeof field, "%s.%s", section, item->string);
        else
            snprintf(field, sizeof field, "%s", item->string);
        report(c, c->unknown_field, "pii_redaction.unknown_field", field, "unknown field '%s'",
               field);
    }
}

/* An optional boolean member; *out keeps its default when absent. */
static void get_bool(checker *c, const cJSON *cfg, const char *key, bool *out)
{
    const cJSON *v = member(cfg, key);
    if (!given(v))
        return;
    if (!cJSON_IsBool(v))
        report(c, LV_ERROR, INVALID, key, "%s must be a boolean", key);
    else
        *out = cJSON_IsTrue(v);
}

/* An optional string member of a rule or section; NULL when absent. */
static const char *get_string(checker *c, const cJSON *obj, const char *key, const char *where)
{
    const cJSON *v = member(obj, key);
    if (!given(v))
        return NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    char field[256];
    snprintf(field, sizeof field, "%s.%s", where, key);
    report(c, LV_ERROR, INVALID, field, "%s must be a string", field);
    return NULL;
}

static level parse_level(checker *c, const cJSON *policy, const char *key, level dflt)
{
    const cJSON *v = member(policy, key);
    if (!given(v))
        return dflt;
    if (cJSON_IsString(v)) {
        if (strcmp(v->valuestring, "ignore") == 0)
            return LV_IGNORE;
        if (strcmp(v->valuestring, "warn") == 0)
            return LV_WARN;
        if (strcmp(v->valuestring, "error") == 0)
            return LV_ERROR;
    }
    char field[64];
    snprintf(field, sizeof field, "policy.%s", key);
    report(c, LV_ERROR, INVALID, field, "%s must be 'ignore', 'warn' or 'error'", field);
    return dflt;
}

/* ---- one rule ----------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Compiles a pattern (and JIT-compiles it when the platform allows).  NULL
 * with msg filled when PCRE2 rejects it. */
static pcre2_code *compile_pattern(const char *pattern, char *msg, size_t msg_size)
{
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                                   &offset, NULL);
    if (re == NULL) {
        PCRE2_UCHAR text[256];
        if (pcre2_get_error_message(code, text, sizeof text) < 0)
            snprintf((char *)text, sizeof text, "error %d", code);
        snprintf(msg, msg_size, "%s at offset %zu", (const char *)text, (size_t)offset);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter runs it */
    return re;
}

static bool parse_action(const char *s, pii_action *out)
{
    static const char *const names[] = {"remove", "redact", "regex_replace", "hash", "mask"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (pii_action)i;
            return true;
        }
    return false;
}

static void check_targets(checker *c, const cJSON *paths, const char *where, pii_rule *r)
{
    char field[256];
    snprintf(field, sizeof field, "%s.target_paths", where);
    if (!given(paths))
        return;
    if (!cJSON_IsArray(paths)) {
        report(c, LV_ERROR, INVALID, field, "%s must be an array of JSON pointers", field);
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(paths);
    if (r != NULL && n > 0 && (r->targets = calloc(n, sizeof *r->targets)) == NULL) {
        c->errors++; /* out of memory: the build is unusable */
        return;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, paths)
    {
        if (!cJSON_IsString(p) || (p->valuestring[0] != '\0' && p->valuestring[0] != '/')) {
            report(c, LV_ERROR, INVALID, field,
                   "%s entries must be JSON pointers (\"\" or starting with '/')", field);
            continue;
        }
        if (r != NULL && (r->targets[r->n_targets] = dup_str(p->valuestring)) != NULL)
            r->n_targets++;
    }
}

static void check_rule(checker *c, const cJSON *rule, const char *where, pii_rule *r)
{
    if (!cJSON_IsObject(rule)) {
        report(c, LV_ERROR, INVALID, where, "%s must be an object", where);
        return;
    }
    unknown_fields(c, rule, RULE_FIELDS, where);
    char field[256];

    pii_action action = PII_REMOVE;
    const char *action_name = get_string(c, rule, "action", where);
    if (action_name != NULL && !parse_action(action_name, &action)) {
        snprintf(field, sizeof field, "%s.action", where);
        report(c, LV_ERROR, UNSUPPORTED, field,
               "%s must be 'remove', 'redact', 'regex_replace', 'hash', or 'mask' (got '%s')",
               field, action_name);
    }
    check_targets(c, member(rule, "target_paths"), where, r);

    const char *pattern = get_string(c, rule, "pattern", where);
    const char *detector_name = get_string(c, rule, "detector", where);
    const char *replacement = get_string(c, rule, "replacement", where);
    const char *mask_char = get_string(c, rule, "mask_char", where);
    /* what a rule writes must be UTF-8 like what it reads (see pii_apply.c) */
    const char *texts[] = {replacement, mask_char};
    static const char *const text_keys[] = {"replacement", "mask_char"};
    for (int i = 0; i < 2; i++)
        if (texts[i] != NULL && !pii_utf8_valid(texts[i], strlen(texts[i]))) {
            snprintf(field, sizeof field, "%s.%s", where, text_keys[i]);
            report(c, LV_ERROR, INVALID, field, "%s is not valid UTF-8", field);
        }
    long long affix[2] = {-1, -1};
    static const char *const affix_keys[] = {"unmasked_prefix", "unmasked_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = member(rule, affix_keys[i]);
        if (!given(v))
            continue;
        if (is_integer(v, 0, 1e9))
            affix[i] = (long long)v->valuedouble;
        else {
            snprintf(field, sizeof field, "%s.%s", where, affix_keys[i]);
            report(c, LV_ERROR, INVALID, field, "%s must be a non-negative integer", field);
        }
    }

    if ((action == PII_REDACT || action == PII_REGEX_REPLACE) && pattern == NULL &&
        detector_name == NULL) {
        snprintf(field, sizeof field, "%s.pattern", where);
        report(c, LV_ERROR, UNSUPPORTED, field,
               "%s.pattern or %s.detector is required when %s.action = '%s'", where, where,
               where, action == PII_REDACT ? "redact" : "regex_replace");
    }
    if (pattern != NULL && detector_name != NULL) {
        snprintf(field, sizeof field, "%s.detector", where);
        report(c, LV_ERROR, UNSUPPORTED, field, "%s.pattern and %s.detector cannot both be set",
               where, where);
        return;
    }
    const pii_detector *detector = NULL;
    if (detector_name != NULL && (detector = pii_detector_find(detector_name)) == NULL) {
        snprintf(field, sizeof field, "%s.detector", where);
        report(c, LV_ERROR, UNSUPPORTED, field,
               "%s must be one of the built-in detectors (%s), not '%s'", field,
               pii_detector_summary(), detector_name);
    }
    if (action == PII_MASK && mask_char != NULL && mask_char[0] == '\0') {
        snprintf(field, sizeof field, "%s.mask_char", where);
        report(c, LV_ERROR, UNSUPPORTED, field, "%s must not be empty when %s.action = 'mask'",
               field, where);
    }

    /* the pattern is compiled here in both passes: validation must see what
     * PCRE2 thinks of it, and compilation keeps it */
    const char *source = pattern != NULL ? pattern : detector != NULL ? detector->pattern : NULL;
    pcre2_code *code = NULL;
    if (source != NULL) {
        char msg[300];
        code = compile_pattern(source, msg, sizeof msg);
        if (code == NULL) {
            snprintf(field, sizeof field, "%s.pattern", where);
            report(c, LV_ERROR, UNSUPPORTED, field, "%s: invalid regular expression '%s': %s",
                   field, source, msg);
        }
    }
    if (r == NULL) {
        pcre2_code_free(code);
        return;
    }
    r->action = action;
    r->code = code;
    r->detector = pattern == NULL ? detector : NULL;
    r->replacement = dup_str(replacement != NULL ? replacement : "[REDACTED]");
    r->expand = r->replacement != NULL && strchr(r->replacement, '$') != NULL &&
                action != PII_HASH && action != PII_MASK && action != PII_REMOVE;
    r->mask_char = dup_str(mask_char != NULL && mask_char[0] != '\0' ? mask_char : "*");
    r->detector_mask = r->detector != NULL && affix[0] < 0 && affix[1] < 0;
    r->prefix = affix[0] < 0 ? 0 : (size_t)affix[0];
    r->suffix = affix[1] < 0 ? 0 : (size_t)affix[1];
    if (r->replacement == NULL || r->mask_char == NULL)
        c->errors++; /* out of memory: the build is unusable */
}

/* ---- the whole configuration ---------------------------------------------------- */

static void check_config(checker *c, const cJSON *cfg)
{
    pii_surfaces s = {true, true, true, true, 100};
    if (!cJSON_IsObject(cfg)) {
        report(c, LV_ERROR, INVALID, NULL, "the pii_redaction config must be an object");
        return;
    }
    const cJSON *policy = member(cfg, "policy");
    if (given(policy) && !cJSON_IsObject(policy))
        report(c, LV_ERROR, UNSUPPORTED, "policy", "'policy' must be an object");
    c->unknown_field = parse_level(c, policy, "unknown_field", LV_WARN);
    c->unsupported_value = parse_level(c, policy, "unsupported_value", LV_ERROR);
    (void)parse_level(c, policy, "unknown_component", LV_WARN);

    unknown_fields(c, cfg, TOP_FIELDS, NULL);
    if (cJSON_IsObject(policy))
        unknown_fields(c, policy, POLICY_FIELDS, "policy");

    const cJSON *version = member(cfg, "version");
    if (given(version)) {
        if (!is_integer(version, 0, 4294967295.0))
            report(c, LV_ERROR, INVALID, "version", "version must be a non-negative integer");
        else if (version->valuedouble != 1)
            report(c, c->unsupported_value, "pii_redaction.unsupported_config_version", "version",
                   "PII redaction config version %.0f is unsupported", version->valuedouble);
    }

    const char *mode = "builtin";
    const cJSON *mode_v = member(cfg, "mode");
    if (given(mode_v)) {
        if (!cJSON_IsString(mode_v))
            report(c, LV_ERROR, INVALID, "mode", "mode must be a string");
        else
            mode = mode_v->valuestring;
    }
    bool builtin_mode = strcmp(mode, "builtin") == 0;
    bool local_mode = strcmp(mode, "local_model") == 0;
    if (local_mode)
        /* never a warning: accepting it would silently record unredacted payloads */
        report(c, LV_ERROR, "pii_redaction.local_model_unavailable", "mode",
               "mode = 'local_model' is not supported by this runtime: no local-model redaction "
               "backend is available, so nothing would be redacted; use mode = 'builtin'");
    else if (!builtin_mode)
        report(c, LV_ERROR, UNSUPPORTED, "mode", "mode must be 'builtin' or 'local_model' (got '%s')",
               mode);

    get_bool(c, cfg, "input", &s.input);
    get_bool(c, cfg, "output", &s.output);
    get_bool(c, cfg, "tool_input", &s.tool_input);
    get_bool(c, cfg, "tool_output", &s.tool_output);
    if (!s.input && !s.output && !s.tool_input && !s.tool_output)
        report(c, c->unsupported_value, UNSUPPORTED, NULL,
               "at least one redaction surface must be enabled");

    const cJSON *priority = member(cfg, "priority");
    if (given(priority)) {
        if (!is_integer(priority, -2147483648.0, 2147483647.0))
            report(c, LV_ERROR, INVALID, "priority", "priority must be a 32-bit integer");
        else
            s.priority = (int32_t)priority->valuedouble;
    }

    const cJSON *codec = member(cfg, "codec");
    if (given(codec)) {
        if (!cJSON_IsString(codec))
            report(c, LV_ERROR, INVALID, "codec", "codec must be a string");
        else if (strcmp(codec->valuestring, "openai_chat") != 0 &&
                 strcmp(codec->valuestring, "openai_responses") != 0 &&
                 strcmp(codec->valuestring, "anthropic_messages") != 0)
            report(c, c->unsupported_value, UNSUPPORTED, "codec",
                   "codec must be 'openai_chat', 'openai_responses', or 'anthropic_messages'");
        else if (c->build != NULL && (c->build->codec = dup_str(codec->valuestring)) == NULL)
            c->errors++;
    }

    const cJSON *local = member(cfg, "local");
    if (given(local)) {
        if (!cJSON_IsObject(local))
            report(c, LV_ERROR, UNSUPPORTED, "local", "'local' must be an object");
        else
            unknown_fields(c, local, LOCAL_FIELDS, "local");
        if (!local_mode)
            report(c, c->unsupported_value, UNSUPPORTED, "local",
                   "`local` settings are valid only when mode = 'local_model'");
    }

    const cJSON *builtin = member(cfg, "builtin");
    if (!given(builtin)) {
        if (builtin_mode)
            report(c, LV_ERROR, UNSUPPORTED, "builtin",
                   "`builtin` settings are required when mode = 'builtin'");
        return;
    }
    if (!builtin_mode)
        report(c, c->unsupported_value, UNSUPPORTED, "builtin",
               "`builtin` settings are valid only when mode = 'builtin'");
    size_t n = cJSON_IsArray(builtin) ? (size_t)cJSON_GetArraySize(builtin) : 1;
    if (cJSON_IsArray(builtin) && n == 0)
        report(c, LV_ERROR, UNSUPPORTED, "builtin", "`builtin` must hold at least one rule");
    pii_policy *p = c->build;
    if (p != NULL) {
        p->surfaces = s;
        if ((p->rules = calloc(n, sizeof *p->rules)) == NULL) {
            c->errors++;
            return;
        }
    }
    if (!cJSON_IsArray(builtin)) {
        check_rule(c, builtin, "builtin", p != NULL ? &p->rules[0] : NULL);
        if (p != NULL)
            p->n_rules = 1;
        return;
    }
    size_t i = 0;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, builtin)
    {
        char where[64];
        snprintf(where, sizeof where, "builtin[%zu]", i);
        check_rule(c, rule, where, p != NULL ? &p->rules[i] : NULL);
        i++;
        if (p != NULL)
            p->n_rules = i;
    }
}

void pii_validate(const cJSON *config, cJSON *diagnostics)
{
    checker c = {diagnostics, LV_WARN, LV_ERROR, 0, NULL};
    check_config(&c, config);
}

void pii_policy_free(pii_policy *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_rules; i++) {
        pii_rule *r = &p->rules[i];
        pcre2_code_free(r->code);
        free(r->replacement);
        free(r->mask_char);
        for (size_t t = 0; t < r->n_targets; t++)
            free(r->targets[t]);
        free(r->targets);
    }
    free(p->rules);
    free(p->codec);
    free(p);
}

/* "msg1; msg2" of the error diagnostics (caller frees). */
static char *join_errors(const cJSON *diags)
{
    size_t len = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, diags)
    {
        const cJSON *lv = member(d, "level"), *msg = member(d, "message");
        if (cJSON_IsString(lv) && strcmp(lv->valuestring, "error") == 0 && cJSON_IsString(msg))
            len += strlen(msg->valuestring) + 2;
    }
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    cJSON_ArrayForEach(d, diags)
    {
        const cJSON *lv = member(d, "level"), *msg = member(d, "message");
        if (cJSON_IsString(lv) && strcmp(lv->valuestring, "error") == 0 && cJSON_IsString(msg)) {
            if (out[0] != '\0')
                strcat(out, "; ");
            strcat(out, msg->valuestring);
        }
    }
    return out;
}

pii_policy *pii_policy_compile(const cJSON *config, char **error)
{
    *error = NULL;
    cJSON *diags = cJSON_CreateArray();
    pii_policy *p = calloc(1, sizeof *p);
    if (diags == NULL || p == NULL) {
        cJSON_Delete(diags);
        free(p);
        *error = dup_str("out of memory");
        return NULL;
    }
    checker c = {diags, LV_WARN, LV_ERROR, 0, p};
    check_config(&c, config);
    if (c.errors > 0) {
        *error = join_errors(diags);
        if (*error != NULL && (*error)[0] == '\0') {
            free(*error);
            *error = dup_str("out of memory");
        }
        cJSON_Delete(diags);
        pii_policy_free(p);
        return NULL;
    }
    cJSON_Delete(diags);
    for (size_t i = 0; i < p->n_rules; i++) {
        uint32_t groups = 0;
        if (p->rules[i].code != NULL &&
            pcre2_pattern_info(p->rules[i].code, PCRE2_INFO_CAPTURECOUNT, &groups) == 0 &&
            groups + 1 > p->max_pairs)
            p->max_pairs = groups + 1;
    }
    return p;
}

const char *pii_policy_codec(const pii_policy *p)
{
    return p->codec;
}

bool pii_policy_has_targets(const pii_policy *p)
{
    for (size_t i = 0; i < p->n_rules; i++)
        if (p->rules[i].n_targets > 0)
            return true;
    return false;
}

pii_surfaces pii_policy_surfaces(const pii_policy *p)
{
    return p->surfaces;
}
