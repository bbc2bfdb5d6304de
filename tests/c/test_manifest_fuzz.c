/* test_manifest_fuzz.c -- NUL escapes in manifest text, and a bounded,
 * deterministic fuzz of the manifest checker (decode, validation and the
 * no-dlopen checks) run under ASan+UBSan: every input either parses or fails
 * with a message, and nothing leaks or reads out of bounds. */
#include "nr_test.h"

#include "json_nul.h"
#include "manifest.h"

#include <stdint.h>
#include <stdlib.h>

static const char base[] =
    "{\"manifest_version\": 1, \"description\": \"d\","
    "\"plugin\": {\"id\": \"fixture\", \"kind\": \"rust_dynamic\", \"name\": \"F\", \"version\": \"0.1.0\"},"
    "\"compat\": {\"relay\": \">=0.5\", \"native_api\": \"1\"},"
    "\"defaults\": {\"enabled\": false},"
    "\"capabilities\": {\"items\": [\"plugin_native\", \"config_schema\"]},"
    "\"load\": {\"library\": \"libfixture.so\", \"symbol\": \"entry\"},"
    "\"integrity\": {\"sha256\": \"sha256:00\"}}";

static void expect_nul(const char *text, const char *where)
{
    char got[128];
    memset(got, 'x', sizeof got);
    bool found = nr_json_find_nul(text, strlen(text), got, sizeof got);
    if (where == NULL) {
        CHECK(!found);
        return;
    }
    CHECK(found);
    if (found)
        CHECK_STR(got, where);
}

static void test_find_nul(void)
{
    expect_nul(base, NULL);
    expect_nul("{\"plugin\": {\"id\": \"fixture_native\\u0000x\"}}", "plugin.id");
    expect_nul("{\"load\": {\"symbol\": \"a\", \"library\": \"\\u0000\"}}", "load.library");
    expect_nul("{\"capabilities\": {\"items\": [\"a\", \"b\\u0000\"]}}", "capabilities.items[1]");
    expect_nul("{\"plugin\": {\"i\\u0000d\": \"x\"}}", "a key in plugin");
    expect_nul("\"\\u0000\"", "the top-level value");
    expect_nul("[{\"a\": [1, {\"b\": \"\\u0000\"}]}]", "[0].a[1].b");
    /* an escaped backslash followed by u0000 is text, not a NUL */
    expect_nul("{\"a\": \"\\\\u0000\"}", NULL);
    expect_nul("{\"a\": \"\\u0001\", \"b\": \"u0000\"}", NULL);
    /* truncated input never reads past the end */
    expect_nul("{\"a\": \"\\u00", NULL);
    expect_nul("{\"a\": \"\\", NULL);
    char small[8];
    CHECK(nr_json_find_nul("{\"plugin\": {\"id\": \"\\u0000\"}}", 26, small, sizeof small));
    CHECK_EQ_INT(strlen(small), sizeof small - 1);
}

static void expect_parse_error(const char *text, const char *needle)
{
    nr_manifest m;
    memset(&m, 0, sizeof m);
    nr_error err = NR_ERROR_INIT;
    CHECK(nr_manifest_parse_json(text, strlen(text), "/m/relay-plugin.json", &m, &err) !=
          NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(err.kind, NR_E_INVALID_CONFIG);
    CHECK_CONTAINS(nr_error_message(&err), needle);
    nr_error_clear(&err);
    nr_manifest_clear(&m);
}

/* base with the first occurrence of `from` replaced by `to` */
static char *edited(const char *from, const char *to)
{
    const char *at = strstr(base, from);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    if (s == NULL || at == NULL) {
        free(s);
        return NULL;
    }
    snprintf(s, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return s;
}

static void test_nul_in_manifest_fields(void)
{
    static const struct {
        const char *from, *to, *needle;
    } cases[] = {
        {"\"fixture\"", "\"fixture_native\\u0000x\"",
         "invalid relay-plugin.json: plugin.id contains a NUL character (\\u0000)"},
        {"\"libfixture.so\"", "\"lib\\u0000fixture.so\"", "load.library contains a NUL character"},
        {"\"entry\"", "\"en\\u0000try\"", "load.symbol contains a NUL character"},
        {"\">=0.5\"", "\">=0.5\\u0000\"", "compat.relay contains a NUL character"},
        {"\"config_schema\"", "\"config_schema\\u0000\"", "capabilities.items[1] contains a NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = edited(cases[i].from, cases[i].to);
        CHECK(text != NULL);
        if (text != NULL)
            expect_parse_error(text, cases[i].needle);
        free(text);
    }
}

/* ---- bounded fuzz ------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static const char *const tokens[] = {
    "\\u0000", "\\ud800", "\"", "\\", "{", "}", "[", "]", ":", ",", "null", "true", "1e999",
    "-1", "4294967296", "0.5", "\"plugin_worker\"", "\"worker\"", "\"native\"", "\xff", "\xed\xa0\x80",
    "\"runtime\": \"python\",", "\"entrypoint\": \"m:f\",", "   ", "\n", "\"\"", "[]", "{}",
};

/* One mutation of buf (len bytes, capacity cap): flip, delete, insert a token,
 * or duplicate a span.  Returns the new length. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
    uint32_t what = rng() % 4;
    size_t at = len > 0 ? rng() % len : 0;
    if (what == 0 && len > 0) {
        buf[at] = (char)(rng() & 0xff);
    } else if (what == 1 && len > 0) {
        size_t n = 1 + rng() % 8;
        if (n > len - at)
            n = len - at;
        memmove(buf + at, buf + at + n, len - at - n);
        len -= n;
    } else if (what == 2) {
        const char *t = tokens[rng() % (sizeof tokens / sizeof tokens[0])];
        size_t n = strlen(t);
        if (len + n <= cap) {
            memmove(buf + at + n, buf + at, len - at);
            memcpy(buf + at, t, n);
            len += n;
        }
    } else if (len > 0) {
        size_t n = 1 + rng() % 16;
        if (n > len - at)
            n = len - at;
        if (len + n <= cap) {
            memmove(buf + at + n, buf + at, len - at);
            len += n; /* the span now appears twice */
        }
    }
    return len;
}

static void test_fuzz_parse_and_check(void)
{
    enum { ITERATIONS = 100000, CAP = 4096 };
    char *buf = malloc(CAP);
    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    size_t parsed = 0, refused = 0;
    nr_manifest_check_opts opts = {NULL, "0.5.0", false, false};
    for (int i = 0; i < ITERATIONS; i++) {
        size_t len = strlen(base);
        memcpy(buf, base, len);
        int rounds = 1 + (int)(rng() % 6);
        for (int r = 0; r < rounds; r++)
            len = mutate(buf, len, CAP);
        /* the checker gets exactly len bytes, never a terminated string */
        char *text = malloc(len > 0 ? len : 1);
        CHECK(text != NULL);
        if (text == NULL)
            break;
        memcpy(text, buf, len);
        nr_manifest m;
        memset(&m, 0, sizeof m);
        nr_error err = NR_ERROR_INIT;
        NemoRelayStatus st = nr_manifest_parse_json(text, len, "/m/relay-plugin.json", &m, &err);
        if (st == NEMO_RELAY_STATUS_OK) {
            parsed++;
            char *library = NULL;
            if (nr_manifest_check(&m, "/m/relay-plugin.json", &opts, &library, &err) ==
                NEMO_RELAY_STATUS_OK)
                CHECK(library != NULL);
            else
                CHECK(nr_error_message(&err)[0] != '\0');
            free(library);
        } else {
            refused++;
            CHECK(nr_error_message(&err)[0] != '\0');
            CHECK(m.plugin.id == NULL); /* a failed parse leaves the output empty */
        }
        char where[64];
        (void)nr_json_find_nul(text, len, where, sizeof where);
        nr_error_clear(&err);
        nr_manifest_clear(&m);
        free(text);
    }
    free(buf);
    fprintf(stderr, "fuzz: %zu parsed, %zu refused\n", parsed, refused);
    /* the fuzz reached both sides */
    CHECK(parsed > 100);
    CHECK(refused > 100);
}

int main(void)
{
    NR_RUN(test_find_nul);
    NR_RUN(test_nul_in_manifest_fields);
    NR_RUN(test_fuzz_parse_and_check);
    return NR_TEST_RESULT();
}
