/* test_semver.c -- table-driven checks of the Cargo-compatible semver module.
 * Expected results follow the Rust `semver` crate (1.x) and its test-suite. */
#include "nr_test.h"
#include "semver.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct match_case {
    const char *req;
    const char *version;
    bool expect;
} match_case;

static const match_case match_cases[] = {
    /* loader cases (reference §9 item 9) */
    {"=0.5.0", "0.5.0", true},
    {">=1.0,<2.0", "0.5.0", false},
    {">=1.0, <2.0", "1.5.0", true},
    {">=0.5", "0.5.0", true},
    /* bare version = caret */
    {"1.0.0", "1.0.0", true},
    {"1.0.0", "1.1.0", true},
    {"1.0.0", "1.0.1", true},
    {"1.0.0", "0.9.9", false},
    {"1.0.0", "0.10.0", false},
    {"1.0.0", "1.0.0-pre", false},
    {"1.0.0", "2.0.0", false},
    /* = exact, and partial equality */
    {"=1.0.0", "1.0.0", true},
    {"=1.0.0", "1.0.1", false},
    {"=1.0.0", "1.0.0-pre", false},
    {"=0.1.0-beta2.a", "0.1.0-beta2.a", true},
    {"=0.1.0-beta2.a", "0.1.0-beta2", false},
    {"=0.1.0-beta2.a", "0.1.0", false},
    {"=0.1.0+meta", "0.1.0", true},
    {"=0.1.0+meta", "0.1.0+other", true},
    {"=1.2", "1.2.0", true},
    {"=1.2", "1.2.9", true},
    {"=1.2", "1.3.0", false},
    {"=1", "1.9.9", true},
    {"=1", "2.0.0", false},
    /* > and >= */
    {">1.2.3", "1.2.4", true},
    {">1.2.3", "1.2.3", false},
    {">1.2", "1.2.9", false},
    {">1.2", "1.3.0", true},
    {">1", "1.9.0", false},
    {">1", "2.0.0", true},
    {">= 1.0.0", "1.0.0", true},
    {">= 1.0.0", "2.0.0", true},
    {">= 1.0.0", "0.1.0", false},
    {">= 1.0.0", "2.0.0-pre", false},
    {">= 2.1.0-alpha2", "2.1.0-alpha3", true},
    {">= 2.1.0-alpha2", "2.1.0", true},
    {">= 2.1.0-alpha2", "2.1.0-alpha1", false},
    {">= 2.1.0-alpha2", "3.0.0-alpha2", false},
    {">=1.2", "1.2.0", true},
    {">=1.2", "1.1.9", false},
    /* < and <= */
    {"< 1.0.0", "0.1.0", true},
    {"< 1.0.0", "1.0.0", false},
    {"< 1.0.0", "1.0.0-beta", false},
    {"< 1.0.0", "0.9.9-alpha", false},
    {"<1.2", "1.1.9", true},
    {"<1.2", "1.2.0", false},
    {"<=1.2", "1.2.9", true},
    {"<=1.2", "1.3.0", false},
    {"<= 2.1.0-alpha2", "2.1.0-alpha1", true},
    {"<= 2.1.0-alpha2", "2.1.0", false},
    {"<= 2.1.0-alpha2", "2.0.0-alpha2", false},
    {">1.0.0-alpha, <1.0.0", "1.0.0-beta", true},
    {">1.0.0-alpha, <1.0", "1.0.0-beta", false},
    /* caret, including the 0.x rules */
    {"^1.2.3", "1.2.3", true},
    {"^1.2.3", "1.9.0", true},
    {"^1.2.3", "2.0.0", false},
    {"^1.2.3", "1.2.2", false},
    {"^0.2.3", "0.2.3", true},
    {"^0.2.3", "0.2.9", true},
    {"^0.2.3", "0.3.0", false},
    {"^0.0.3", "0.0.3", true},
    {"^0.0.3", "0.0.4", false},
    {"^1.2", "1.2.0", true},
    {"^1.2", "1.9.9", true},
    {"^1.2", "1.1.0", false},
    {"^1", "1.0.0", true},
    {"^1", "1.9.9", true},
    {"^1", "2.0.0", false},
    {"^0.0", "0.0.2", true},
    {"^0.0", "0.1.0", false},
    {"^0", "0.9.1", true},
    {"^0", "1.0.0", false},
    {"^1.4.2-beta.5", "1.4.2-beta.6", true},
    {"^1.4.2-beta.5", "1.4.2-c", true},
    {"^1.4.2-beta.5", "1.4.3", true},
    {"^1.4.2-beta.5", "1.4.2-beta.4", false},
    {"^1.4.2-beta.5", "1.4.3-beta.5", false},
    {"^1.4.2-beta.5", "1.4.2-alpha", false},
    /* tilde */
    {"~1.2.3", "1.2.3", true},
    {"~1.2.3", "1.2.9", true},
    {"~1.2.3", "1.3.0", false},
    {"~1.2.3", "1.2.2", false},
    {"~1.2", "1.2.0", true},
    {"~1.2", "1.3.0", false},
    {"~1", "1.9.0", true},
    {"~1", "2.0.0", false},
    {"~1.2.3-beta.2", "1.2.3-beta.4", true},
    {"~1.2.3-beta.2", "1.2.3-beta.1", false},
    {"~1.2.3-beta.2", "1.2.4-beta.2", false},
    /* wildcards */
    {"*", "0.0.1", true},
    {"*", "9.9.9", true},
    {"*", "1.0.0-pre", false},
    {"x", "3.0.0", true},
    {"X", "3.0.0", true},
    {"1.*", "1.3.0", true},
    {"1.*", "2.0.0", false},
    {"1.*", "1.2.0-pre", false},
    {"1.x", "1.0.0", true},
    {"1.X.x", "1.5.0", true},
    {"1.2.*", "1.2.4", true},
    {"1.2.*", "1.3.0", false},
    {"1.2.x", "1.2.0", true},
    {"0.*.*", "0.5.0", true},
    {">=1.*", "1.0.0", true},
    {">=1.*", "0.9.0", false},
    /* comma AND */
    {"> 0.0.9, <= 2.5.3", "2.5.3", true},
    {"> 0.0.9, <= 2.5.3", "2.5.4", false},
    {"0.3.0, 0.4.0", "0.3.0", false},
    {"0.1.0, 0.1.4, 0.1.6", "0.1.9", true},
    {"0.1.0, 0.1.4, 0.1.6", "0.1.4", false},
    /* pre-release opt-in */
    {">=0.5.1-alpha3, <0.6", "0.5.1-alpha4", true},
    {">=0.5.1-alpha3, <0.6", "0.5.1", true},
    {">=0.5.1-alpha3, <0.6", "0.5.2-alpha3", false},
    {">=0.5.1-alpha3, <0.6", "0.6.0-pre", false},
    {">=1.0.0", "1.0.1-rc.1", false},
    {">=1.0.1-rc.0", "1.0.1-rc.1", true},
    {"=2.1.1-really.0", "2.1.1-really.0", true},
    /* whitespace */
    {"  >=  1.0.0  ,  <  2.0.0  ", "1.5.0", true},
    {"  *  ", "1.0.0", true},
    {"^ 1.2", "1.3.0", true},
};

typedef struct invalid_case {
    const char *req;
    const char *message;
} invalid_case;

static const invalid_case invalid_reqs[] = {
    {">= ", "unexpected end of input while parsing major version number"},
    {"1.2.3.4", "expected comma after patch version number, found '.'"},
    {"not a version requirement", "unexpected character 'n' while parsing major version number"},
    {"", "unexpected end of input while parsing major version number"},
    {"^", "unexpected end of input while parsing major version number"},
    {"01.2.3", "invalid leading zero in major version number"},
    {"1.02", "invalid leading zero in minor version number"},
    {">=", "unexpected end of input while parsing major version number"},
    {">= >= 0.0.2", "unexpected character '>' while parsing major version number"},
    {">== 0.0.2", "unexpected character '=' while parsing major version number"},
    {"a.0.0", "unexpected character 'a' while parsing major version number"},
    {"1.0.0-", "empty identifier segment in pre-release identifier"},
    {"1.0.0-01", "invalid leading zero in pre-release identifier"},
    {"1.2.3+4.", "empty identifier segment in build metadata"},
    {"> 0.1.0,", "unexpected end of input while parsing major version number"},
    {"> 0.3.0, ,", "unexpected character ',' while parsing major version number"},
    {"1.2.3 - 2.3.4", "expected comma after patch version number, found '-'"},
    {"> 0.0.9 <= 2.5.3", "expected comma after patch version number, found '<'"},
    {"=1.2.3 || =2.3.4", "expected comma after patch version number, found '|'"},
    {"1.1 || =1.2.3", "expected comma after minor version number, found '|'"},
    {"*.1", "unexpected character after wildcard in version req"},
    {"1.*.1", "unexpected character after wildcard in version req"},
    {">=1.*.1", "unexpected character after wildcard in version req"},
    {"*, 0.20.0-any", "wildcard req (*) must be the only comparator in the version req"},
    {"0.20.0-any, *", "wildcard req (*) must be the only comparator in the version req"},
    {"0.20.0-any, x, 1.0", "wildcard req (x) must be the only comparator in the version req"},
    {"1.", "unexpected end of input while parsing minor version number"},
    {"1.2-pre", "expected comma after minor version number, found '-'"},
    {">18446744073709551616.0.0", "value of major version number exceeds u64::MAX"},
    {"1.0\t", "expected comma after minor version number, found '\\t'"},
    {"\x01", "unexpected character '\\u{1}' while parsing major version number"},
    {"\xc3\xbf", "unexpected character '\xc3\xbf' while parsing major version number"},
    {">1, >2, >3, >4, >5, >6, >7, >8, >9, >10, >11, >12, >13, >14, >15, >16, >17, >18, "
     ">19, >20, >21, >22, >23, >24, >25, >26, >27, >28, >29, >30, >31, >32, >33",
     "excessive number of version comparators"},
};

static void test_match_table(void)
{
    size_t n = sizeof match_cases / sizeof match_cases[0];
    CHECK(n >= 60);
    for (size_t i = 0; i < n; i++) {
        const match_case *tc = &match_cases[i];
        nr_error err = NR_ERROR_INIT;
        nr_semver_req *req = NULL;
        nr_semver v = NR_SEMVER_INIT;
        NemoRelayStatus st = nr_semver_req_parse(tc->req, &req, &err);
        if (st != NEMO_RELAY_STATUS_OK) {
            fprintf(stderr, "  req \"%s\" failed to parse: %s\n", tc->req, nr_error_message(&err));
            CHECK(st == NEMO_RELAY_STATUS_OK);
        }
        st = nr_semver_parse(tc->version, &v, &err);
        if (st != NEMO_RELAY_STATUS_OK) {
            fprintf(stderr, "  version \"%s\" failed to parse: %s\n", tc->version,
                    nr_error_message(&err));
            CHECK(st == NEMO_RELAY_STATUS_OK);
        }
        if (req != NULL && st == NEMO_RELAY_STATUS_OK) {
            bool got = nr_semver_req_matches(req, &v);
            if (got != tc->expect) {
                fprintf(stderr, "  \"%s\" vs %s: expected %s\n", tc->req, tc->version,
                        tc->expect ? "match" : "no match");
                CHECK(got == tc->expect);
            }
        }
        nr_semver_req_free(req);
        nr_semver_clear(&v);
        nr_error_clear(&err);
    }
}

static void test_invalid_requirements(void)
{
    for (size_t i = 0; i < sizeof invalid_reqs / sizeof invalid_reqs[0]; i++) {
        const invalid_case *tc = &invalid_reqs[i];
        nr_error err = NR_ERROR_INIT;
        nr_semver_req *req = (nr_semver_req *)&err; /* must be reset to NULL */
        NemoRelayStatus st = nr_semver_req_parse(tc->req, &req, &err);
        CHECK(st != NEMO_RELAY_STATUS_OK);
        CHECK(req == NULL);
        CHECK(err.kind == NR_E_INVALID_CONFIG);
        if (strcmp(nr_error_message(&err), tc->message) != 0) {
            fprintf(stderr, "  req \"%s\": got \"%s\", want \"%s\"\n", tc->req,
                    nr_error_message(&err), tc->message);
            CHECK_STR(nr_error_message(&err), tc->message);
        }
        nr_error_clear(&err);
    }
}

static void test_version_parse(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_semver v = NR_SEMVER_INIT;
    CHECK(nr_semver_parse("1.2.3-alpha.1+build.5", &v, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(v.major, 1);
    CHECK_EQ_INT(v.minor, 2);
    CHECK_EQ_INT(v.patch, 3);
    CHECK_STR(v.pre, "alpha.1");
    nr_semver_clear(&v);
    CHECK(v.pre == NULL);

    CHECK(nr_semver_parse("0.5.0+meta", &v, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(v.pre == NULL);
    nr_semver_clear(&v);

    CHECK(nr_semver_parse("18446744073709551615.0.0", &v, &err) == NEMO_RELAY_STATUS_OK);
    CHECK(v.major == UINT64_MAX);
    nr_semver_clear(&v);

    static const invalid_case bad[] = {
        {"", "empty string, expected a semver version"},
        {"1.2", "unexpected end of input while parsing minor version number"},
        {"1.2.3.4", "unexpected character '.' after patch version number"},
        {"01.2.3", "invalid leading zero in major version number"},
        {"1.2.03", "invalid leading zero in patch version number"},
        {"1.2.3-", "empty identifier segment in pre-release identifier"},
        {"1.2.3-a..b", "empty identifier segment in pre-release identifier"},
        {"1.2.3-01", "invalid leading zero in pre-release identifier"},
        {"1.2.3+", "empty identifier segment in build metadata"},
        {"1.2.3-a_b", "unexpected character '_' after pre-release identifier"},
        {" 1.2.3", "unexpected character ' ' while parsing major version number"},
        {"1.2.3 ", "unexpected character ' ' after patch version number"},
        {"v1.2.3", "unexpected character 'v' while parsing major version number"},
        {"1.q.r", "unexpected character 'q' while parsing minor version number"},
        {"1.2.*", "unexpected character '*' while parsing patch version number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        NemoRelayStatus st = nr_semver_parse(bad[i].req, &v, &err);
        CHECK(st != NEMO_RELAY_STATUS_OK);
        CHECK(v.pre == NULL);
        if (strcmp(nr_error_message(&err), bad[i].message) != 0) {
            fprintf(stderr, "  version \"%s\": got \"%s\", want \"%s\"\n", bad[i].req,
                    nr_error_message(&err), bad[i].message);
            CHECK_STR(nr_error_message(&err), bad[i].message);
        }
        nr_error_clear(&err);
    }
    /* leading zeros are fine in build metadata and in alphanumeric pre ids */
    CHECK(nr_semver_parse("1.2.3-01a+001", &v, &err) == NEMO_RELAY_STATUS_OK);
    CHECK_STR(v.pre, "01a");
    nr_semver_clear(&v);
    CHECK(nr_semver_parse(NULL, &v, &err) != NEMO_RELAY_STATUS_OK);
    nr_error_clear(&err);
}

static int cmp_strings(const char *a, const char *b)
{
    nr_error err = NR_ERROR_INIT;
    nr_semver va = NR_SEMVER_INIT, vb = NR_SEMVER_INIT;
    int r = 99;
    if (nr_semver_parse(a, &va, &err) == NEMO_RELAY_STATUS_OK
        && nr_semver_parse(b, &vb, &err) == NEMO_RELAY_STATUS_OK)
        r = nr_semver_cmp(&va, &vb);
    nr_semver_clear(&va);
    nr_semver_clear(&vb);
    nr_error_clear(&err);
    return r;
}

static void test_precedence(void)
{
    /* the semver.org 2.0.0 §11 chain, each strictly lower than the next */
    static const char *chain[] = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
        "1.1.0", "2.0.0", "10.0.0",
    };
    size_t n = sizeof chain / sizeof chain[0];
    for (size_t i = 0; i + 1 < n; i++) {
        CHECK_EQ_INT(cmp_strings(chain[i], chain[i + 1]), -1);
        CHECK_EQ_INT(cmp_strings(chain[i + 1], chain[i]), 1);
    }
    CHECK_EQ_INT(cmp_strings("1.0.0+a", "1.0.0+b"), 0);
    CHECK_EQ_INT(cmp_strings("1.0.0-a.9", "1.0.0-a.10"), -1);
    CHECK_EQ_INT(cmp_strings("1.0.0-1", "1.0.0-a"), -1);
    CHECK_EQ_INT(cmp_strings("1.0.0-B", "1.0.0-a"), -1); /* ASCII order */
}

static void test_req_null_args(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_semver_req *req = NULL;
    CHECK(nr_semver_req_parse(NULL, &req, &err) != NEMO_RELAY_STATUS_OK);
    CHECK(req == NULL);
    nr_error_clear(&err);
    CHECK(nr_semver_req_parse("1", NULL, &err) != NEMO_RELAY_STATUS_OK);
    nr_error_clear(&err);
    CHECK(!nr_semver_req_matches(NULL, NULL));
    nr_semver_req_free(NULL);
    nr_semver_clear(NULL);
}

int main(void)
{
    NR_RUN(test_match_table);
    NR_RUN(test_invalid_requirements);
    NR_RUN(test_version_parse);
    NR_RUN(test_precedence);
    NR_RUN(test_req_null_args);
    return NR_TEST_RESULT();
}
