/* test_redact.c -- the redact plugin's sanitize step without a real host.
 *
 * The plugin's source is compiled into this program (so its static functions
 * can be called) against a minimal host table: strings and the last error.
 * The runtime always hands plugins cJSON-printed text, so what these tests
 * check -- an untouched payload comes back byte for byte, not re-printed --
 * cannot be seen from Python. */
#include "nr_test.h"

#include "../../plugins/redact/redact.c"

/* ---- a minimal host --------------------------------------------------------------- */

struct NemoRelayNativeString {
    size_t len;
    char bytes[]; /* NUL-terminated privately */
};

static NemoRelayStatus t_string_new(const uint8_t *data, size_t len, HostString **out)
{
    *out = malloc(sizeof **out + len + 1);
    if (*out == NULL)
        return NEMO_RELAY_STATUS_INTERNAL;
    (*out)->len = len;
    if (len > 0)
        memcpy((*out)->bytes, data, len);
    (*out)->bytes[len] = '\0';
    return NEMO_RELAY_STATUS_OK;
}

static const uint8_t *t_string_data(const HostString *s)
{
    return s != NULL ? (const uint8_t *)s->bytes : NULL;
}

static size_t t_string_len(const HostString *s)
{
    return s != NULL ? s->len : 0;
}

static void t_string_free(HostString *s)
{
    free(s);
}

static char t_last_error[256];

static void t_last_error_clear(void)
{
    t_last_error[0] = '\0';
}

static void t_last_error_set(const HostString *message)
{
    snprintf(t_last_error, sizeof t_last_error, "%s", message != NULL ? message->bytes : "");
}

static const HostApi t_host = {
    .abi_version = NEMO_RELAY_NATIVE_ABI_VERSION,
    .struct_size = sizeof(HostApi),
    .relay_version = "0.0.0",
    .string_new = t_string_new,
    .string_data = t_string_data,
    .string_len = t_string_len,
    .string_free = t_string_free,
    .last_error_clear = t_last_error_clear,
    .last_error_set = t_last_error_set,
};

/* ---- helpers ------------------------------------------------------------------------- */

/* A policy from config text (NULL if the config has errors). */
static RdPolicy *policy_of(const char *config_json)
{
    cJSON *config = cJSON_Parse(config_json);
    PsCheck check = {RD_KIND, NULL, 0, false, NULL};
    RdPolicy *p = NULL;
    rd_check_config(&check, config, &p);
    free(check.first_error);
    cJSON_Delete(config);
    if (p != NULL)
        p->host = &t_host;
    return p;
}

/* Runs the callback for `slot` on text; *out_text is its result (caller
 * frees) or NULL on failure. */
static NemoRelayStatus run(RdPolicy *p, RdSlot slot, const char *text, char **out_text)
{
    HostString *in = NULL, *out = NULL;
    *out_text = NULL;
    t_string_new((const uint8_t *)text, strlen(text), &in);
    NemoRelayStatus st;
    switch (slot) {
    case RD_TOOL_REQUEST: st = rd_tool_request(p, NULL, in, &out); break;
    case RD_TOOL_RESPONSE: st = rd_tool_response(p, NULL, in, &out); break;
    case RD_LLM_REQUEST: st = rd_llm_request(p, in, &out); break;
    default: st = rd_llm_response(p, in, &out); break;
    }
    if (out != NULL) {
        CHECK(out != in); /* a new string, never the borrowed input */
        *out_text = strdup(out->bytes);
    }
    t_string_free(out);
    t_string_free(in);
    return st;
}

/* ---- tests -------------------------------------------------------------------------- */

/* Nothing to redact: the same bytes come back (spacing, number spelling,
 * escapes and integers beyond a double's precision included). */
static void test_untouched_payload_is_copied_verbatim(void)
{
    RdPolicy *p = policy_of("{\"patterns\": [\"sk-\"]}");
    CHECK(p != NULL);
    static const char *const payloads[] = {
        "{ \"a\" : 1E5,\n  \"big\": 12345678901234567890, \"u\": \"\\u00e9\", \"e\": [ ] }",
        "[1.50, -0.0, \"x\\/y\"]",
        "\"plain\"",
        "  null ",
    };
    for (size_t i = 0; i < PS_COUNT(payloads); i++) {
        for (int slot = RD_TOOL_REQUEST; slot <= RD_LLM_RESPONSE; slot++) {
            if (slot == RD_LLM_REQUEST)
                continue; /* needs an object, below */
            char *out = NULL;
            CHECK_EQ_INT(run(p, (RdSlot)slot, payloads[i], &out), NEMO_RELAY_STATUS_OK);
            CHECK_STR(out, payloads[i]);
            free(out);
        }
    }
    const char *request = "{\"headers\": {\"x-trace\": \"1\"}, \"content\": {\"n\": 1.0}}";
    char *out = NULL;
    CHECK_EQ_INT(run(p, RD_LLM_REQUEST, request, &out), NEMO_RELAY_STATUS_OK);
    CHECK_STR(out, request);
    free(out);
    rd_policy_release(p);
}

/* Something redacted: the tree is printed again, every number as written
 * (exact_json.h) but for ints a double holds, which print the same anyway. */
static void test_redacted_payload_is_reprinted(void)
{
    RdPolicy *p = policy_of("{\"patterns\": [\"sk-1\"], \"replacement\": \"*\"}");
    CHECK(p != NULL);
    char *out = NULL;
    CHECK_EQ_INT(run(p, RD_TOOL_REQUEST,
                     "{ \"a\": 1E5, \"big\": 9007199254740993, \"f\": 0.30000000000000004, "
                     "\"one\": 1.0, \"n\": [-0, 12], \"Token\": 7 }", &out),
                 NEMO_RELAY_STATUS_OK);
    CHECK_STR(out, "{\"a\":1E5,\"big\":9007199254740993,\"f\":0.30000000000000004,"
                   "\"one\":1.0,\"n\":[-0,12],\"Token\":\"*\"}");
    free(out);
    CHECK_EQ_INT(run(p, RD_TOOL_RESPONSE, "[ \"key sk-1!\", 2 ]", &out), NEMO_RELAY_STATUS_OK);
    CHECK_STR(out, "[\"key *!\",2]");
    free(out);
    CHECK_EQ_INT(run(p, RD_LLM_REQUEST,
                     "{\"headers\": {\"Authorization\": \"b\"}, \"content\": null}", &out),
                 NEMO_RELAY_STATUS_OK);
    CHECK_STR(out, "{\"headers\":{\"Authorization\":\"*\"},\"content\":null}");
    free(out);
    rd_policy_release(p);
}

static void test_invalid_payload_is_reported(void)
{
    RdPolicy *p = policy_of("{}");
    CHECK(p != NULL);
    char *out = NULL;
    t_last_error_clear();
    CHECK_EQ_INT(run(p, RD_TOOL_RESPONSE, "{nope", &out), NEMO_RELAY_STATUS_INVALID_JSON);
    CHECK(out == NULL);
    CHECK_STR(t_last_error, "redact: tool result is not valid JSON");
    CHECK_EQ_INT(run(p, RD_LLM_REQUEST, "[]", &out), NEMO_RELAY_STATUS_INVALID_JSON);
    CHECK_STR(t_last_error, "redact: an LLM request must be a JSON object");
    rd_policy_release(p);
}

int main(void)
{
    NR_RUN(test_untouched_payload_is_copied_verbatim);
    NR_RUN(test_redacted_payload_is_reprinted);
    NR_RUN(test_invalid_payload_is_reported);
    return NR_TEST_RESULT();
}
