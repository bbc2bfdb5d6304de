/* test_pii.c -- csrc/redact without Python or the runtime: detectors, masks,
 * the actions on single strings (edge cases Python cannot reach easily:
 * invalid UTF-8, empty matches, replacement templates), compilation errors,
 * and one policy applied from many threads at once. */
#include "nr_test.h"

#include "pii_detectors.h"
#include "pii_policy.h"

#include <pthread.h>
#include <stdlib.h>

/* Applies a one-rule policy (rule given as JSON) to a JSON payload; returns
 * the printed result (caller frees) or "ERROR: msg". */
static char *run(const char *rule_json, const char *payload_json)
{
    char config[2048];
    snprintf(config, sizeof config, "{\"builtin\": %s}", rule_json);
    cJSON *cfg = cJSON_Parse(config);
    char *error = NULL;
    pii_policy *p = pii_policy_compile(cfg, &error);
    cJSON_Delete(cfg);
    if (p == NULL) {
        char *out = malloc(strlen(error) + 16);
        sprintf(out, "COMPILE: %s", error);
        free(error);
        return out;
    }
    cJSON *root = cJSON_Parse(payload_json);
    bool changed = false;
    char *out;
    if (pii_policy_apply(p, &root, false, PII_RULES_ALL, &changed, &error)) {
        out = cJSON_PrintUnformatted(root);
    } else {
        out = malloc(strlen(error) + 16);
        sprintf(out, "ERROR: %s", error);
        free(error);
    }
    cJSON_Delete(root);
    pii_policy_free(p);
    return out;
}

#define CHECK_RUN(rule, payload, expected)                                                \
    do {                                                                                  \
        char *got_ = run(rule, payload);                                                  \
        CHECK_STR(got_, expected);                                                        \
        free(got_);                                                                       \
    } while (0)

static void test_luhn(void)
{
    CHECK(pii_luhn_valid("4111 1111 1111 1111", 19));
    CHECK(pii_luhn_valid("5555555555554444", 16));
    CHECK(!pii_luhn_valid("1234 5678 9012 3456", 19));
    CHECK(!pii_luhn_valid("4111111111111112", 16));
}

static void test_utf8_validation(void)
{
    CHECK(pii_utf8_valid("plain ascii, long enough for the word loop", 42));
    CHECK(pii_utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
    CHECK(!pii_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!pii_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
    CHECK(!pii_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!pii_utf8_valid("abcdefgh\xe2\x82", 10)); /* truncated after an ASCII run */
    CHECK(!pii_utf8_valid("\x80", 1));
}

static void test_catalog(void)
{
    size_t n = 0;
    const pii_detector *all = pii_detectors(&n);
    CHECK_EQ_INT(n, 14);
    for (size_t i = 0; i < n; i++) {
        CHECK(pii_detector_find(all[i].name) == &all[i]);
        CHECK_CONTAINS(pii_detector_summary(), all[i].name);
    }
    CHECK(pii_detector_find("ssn") == NULL);
}

static void test_generic_mask_counts_characters_not_bytes(void)
{
    pii_buf b;
    pii_buf_init(&b);
    CHECK(pii_mask_generic(&b, "h\xc3\xa9llo", 6, "\xe2\x80\xa2", 1, 1));
    char *s = pii_buf_take(&b);
    CHECK_STR(s, "h\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2o");
    free(s);
}

static void test_actions_on_strings(void)
{
    CHECK_RUN("{\"action\": \"redact\", \"detector\": \"email\"}",
              "{\"a\": \"x a@b.io y c@d.org\", \"n\": 1}",
              "{\"a\":\"x [REDACTED] y [REDACTED]\",\"n\":1}");
    CHECK_RUN("{\"action\": \"hash\"}", "[\"abc\"]",
              "[\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"]");
    CHECK_RUN("{\"action\": \"mask\", \"detector\": \"credit_card\", \"mask_char\": \"#\"}",
              "\"card 5555-5555-5555-4444.\"", "\"card ####-####-####-4444.\"");
    CHECK_RUN("{\"action\": \"remove\", \"detector\": \"jwt\"}", "\"no token here\"",
              "\"no token here\"");
    CHECK_RUN("{\"action\": \"remove\", \"target_paths\": [\"\"]}", "{\"a\": 1}", "null");
}

static void test_replacement_templates(void)
{
    const char *rule = "{\"action\": \"regex_replace\", \"pattern\": \"(?<k>[a-z]+)=(\\\\d+)\", "
                       "\"replacement\": \"%s\"}";
    char buf[512];
    struct {
        const char *template, *expected;
    } cases[] = {
        {"$2:$k", "\"42:id, 7:n\""},
        {"${2}x", "\"42x, 7x\""},
        {"$$1", "\"$1, $1\""},
        {"[$9]", "\"[], []\""},
        {"$", "\"$, $\""},
        {"${", "\"${, ${\""},
        {"$nope", "\", \""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, rule, cases[i].template);
        CHECK_RUN(buf, "\"id=42, n=7\"", cases[i].expected);
    }
}

static void test_empty_matches_step_over_characters(void)
{
    CHECK_RUN("{\"action\": \"regex_replace\", \"pattern\": \"x*\", \"replacement\": \"-\"}",
              "\"a\xc3\xa9\"", "\"-a-\xc3\xa9-\"");
    CHECK_RUN("{\"action\": \"regex_replace\", \"pattern\": \"\", \"replacement\": \"-\"}", "\"\"",
              "\"-\"");
}

static void test_invalid_utf8_fails_closed(void)
{
    char *got = run("{\"action\": \"redact\", \"detector\": \"email\"}", "\"bad \xff byte\"");
    CHECK_STR(got, "ERROR: a string of the payload is not valid UTF-8");
    free(got);
}

static void test_compile_errors_name_the_rule(void)
{
    char *got = run("[{\"detector\": \"email\"}, {\"action\": \"redact\", \"pattern\": \"a{2,1}\"}]",
                    "\"x\"");
    CHECK_CONTAINS(got, "COMPILE: builtin[1].pattern: invalid regular expression 'a{2,1}'");
    free(got);
    got = run("{\"action\": \"redact\", \"detector\": \"email\", \"replacement\": \"\xff\"}", "\"x\"");
    CHECK_CONTAINS(got, "COMPILE: builtin.replacement is not valid UTF-8");
    free(got);
    cJSON *cfg = cJSON_Parse("{\"mode\": \"local_model\"}");
    char *error = NULL;
    CHECK(pii_policy_compile(cfg, &error) == NULL);
    CHECK_CONTAINS(error, "local_model");
    free(error);
    cJSON_Delete(cfg);
}

static void test_llm_request_shape(void)
{
    cJSON *cfg = cJSON_Parse("{\"builtin\": {\"action\": \"redact\", \"detector\": \"email\"}}");
    char *error = NULL;
    pii_policy *p = pii_policy_compile(cfg, &error);
    cJSON *root = cJSON_Parse("{\"headers\": {\"From\": \"a@b.io\"}, \"content\": \"a@b.io\"}");
    bool changed = false;
    CHECK(pii_policy_apply(p, &root, true, PII_RULES_ALL, &changed, &error));
    CHECK(changed);
    char *out = cJSON_PrintUnformatted(root);
    CHECK_STR(out, "{\"headers\":{\"From\":\"[REDACTED]\"},\"content\":\"[REDACTED]\"}");
    free(out);
    cJSON_Delete(root);
    pii_policy_free(p);
    cJSON_Delete(cfg);
}

static pii_policy *g_shared;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        cJSON *root = cJSON_Parse("{\"m\": \"mail a@b.io card 4111 1111 1111 1111 ip 10.0.0.1\"}");
        bool changed = false;
        char *error = NULL;
        if (!pii_policy_apply(g_shared, &root, false, PII_RULES_ALL, &changed, &error))
            free(error);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "m");
        CHECK_STR(m->valuestring, "mail [REDACTED] card [REDACTED] ip [REDACTED]");
        cJSON_Delete(root);
    }
    return NULL;
}

static void test_one_policy_many_threads(void)
{
    cJSON *cfg = cJSON_Parse("{\"builtin\": [{\"action\": \"redact\", \"detector\": \"email\"}, "
                             "{\"action\": \"redact\", \"detector\": \"credit_card\"}, "
                             "{\"action\": \"redact\", \"detector\": \"ip_address\"}]}");
    char *error = NULL;
    g_shared = pii_policy_compile(cfg, &error);
    CHECK(g_shared != NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    pii_policy_free(g_shared);
    cJSON_Delete(cfg);
}

int main(void)
{
    NR_RUN(test_luhn);
    NR_RUN(test_utf8_validation);
    NR_RUN(test_catalog);
    NR_RUN(test_generic_mask_counts_characters_not_bytes);
    NR_RUN(test_actions_on_strings);
    NR_RUN(test_replacement_templates);
    NR_RUN(test_empty_matches_step_over_characters);
    NR_RUN(test_invalid_utf8_fails_closed);
    NR_RUN(test_compile_errors_name_the_rule);
    NR_RUN(test_llm_request_shape);
    NR_RUN(test_one_policy_many_threads);
    return NR_TEST_RESULT();
}
