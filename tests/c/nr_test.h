/*
 * nr_test.h -- a tiny assertion harness for the plain-C tests.
 *
 * Each test file defines test functions and a main() that runs them with
 * NR_RUN(test_fn).  A failed CHECK prints file:line and the expression, marks
 * the test failed and continues; main() returns non-zero if anything failed.
 */
#ifndef NR_TEST_H
#define NR_TEST_H

#include <stdio.h>
#include <string.h>

static int nr_test_failures = 0;
static int nr_test_current_failed = 0;

#define CHECK(expr)                                                              \
    do {                                                                         \
        if (!(expr)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
            nr_test_current_failed = 1;                                          \
        }                                                                        \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                       \
    do {                                                                         \
        long long nr_a_ = (long long)(a), nr_b_ = (long long)(b);                \
        if (nr_a_ != nr_b_) {                                                    \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %s (%lld != %lld)\n", \
                    __FILE__, __LINE__, #a, #b, nr_a_, nr_b_);                   \
            nr_test_current_failed = 1;                                          \
        }                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *nr_a_ = (a), *nr_b_ = (b);                                   \
        if (nr_a_ == NULL || nr_b_ == NULL || strcmp(nr_a_, nr_b_) != 0) {       \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s (\"%s\" != \"%s\")\n", \
                    __FILE__, __LINE__, #a, #b, nr_a_ ? nr_a_ : "(null)",        \
                    nr_b_ ? nr_b_ : "(null)");                                   \
            nr_test_current_failed = 1;                                          \
        }                                                                        \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                              \
    do {                                                                         \
        const char *nr_h_ = (hay), *nr_n_ = (needle);                            \
        if (nr_h_ == NULL || strstr(nr_h_, nr_n_) == NULL) {                     \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" does not contain \"%s\"\n", \
                    __FILE__, __LINE__, nr_h_ ? nr_h_ : "(null)", nr_n_);        \
            nr_test_current_failed = 1;                                          \
        }                                                                        \
    } while (0)

#define NR_RUN(fn)                                                               \
    do {                                                                         \
        nr_test_current_failed = 0;                                              \
        fn();                                                                    \
        fprintf(stderr, "%s %s\n", nr_test_current_failed ? "FAIL" : "ok  ", #fn); \
        nr_test_failures += nr_test_current_failed;                              \
    } while (0)

#define NR_TEST_RESULT() (nr_test_failures == 0 ? 0 : 1)

#endif /* NR_TEST_H */
