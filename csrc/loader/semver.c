/* semver.c -- versions and requirements with the Rust `semver` crate's rules
 * (grammar, matching and error messages of semver 1.x). */
#include "semver.h"

#include "loader_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The crate caps a requirement at 32 comparators. */
#define NR_SEMVER_MAX_COMPARATORS 32

typedef enum nr_semver_op {
    NR_SEMVER_OP_EXACT,
    NR_SEMVER_OP_GREATER,
    NR_SEMVER_OP_GREATER_EQ,
    NR_SEMVER_OP_LESS,
    NR_SEMVER_OP_LESS_EQ,
    NR_SEMVER_OP_TILDE,
    NR_SEMVER_OP_CARET,
    NR_SEMVER_OP_WILDCARD
} nr_semver_op;

typedef struct nr_semver_comparator {
    nr_semver_op op;
    uint64_t major, minor, patch;
    bool has_minor, has_patch;
    char *pre; /* owned; NULL when the comparator has no pre-release */
} nr_semver_comparator;

struct nr_semver_req {
    size_t count; /* 0 means `*` (matches every non-pre-release version) */
    nr_semver_comparator comparators[NR_SEMVER_MAX_COMPARATORS];
};

/* ---- parse errors (kinds and wording of the crate's ErrorKind) ---------- */

typedef enum nr_sv_pos { NR_SV_MAJOR, NR_SV_MINOR, NR_SV_PATCH, NR_SV_PRE, NR_SV_BUILD } nr_sv_pos;

typedef enum nr_sv_errkind {
    NR_SV_E_EMPTY,
    NR_SV_E_UNEXPECTED_END,
    NR_SV_E_UNEXPECTED_CHAR,
    NR_SV_E_UNEXPECTED_CHAR_AFTER,
    NR_SV_E_EXPECTED_COMMA,
    NR_SV_E_LEADING_ZERO,
    NR_SV_E_OVERFLOW,
    NR_SV_E_EMPTY_SEGMENT,
    NR_SV_E_WILDCARD_NOT_ONLY,
    NR_SV_E_AFTER_WILDCARD,
    NR_SV_E_EXCESSIVE,
    NR_SV_E_NOMEM
} nr_sv_errkind;

typedef struct nr_sv_error {
    nr_sv_errkind kind;
    nr_sv_pos pos;
    const char *at; /* the offending character, for the *_CHAR* kinds */
    char wildcard;  /* for NR_SV_E_WILDCARD_NOT_ONLY */
} nr_sv_error;

static bool nr_sv_fail(nr_sv_error *e, nr_sv_errkind kind, nr_sv_pos pos, const char *at)
{
    e->kind = kind;
    e->pos = pos;
    e->at = at;
    return false;
}

static const char *nr_sv_pos_name(nr_sv_pos pos)
{
    switch (pos) {
    case NR_SV_MAJOR: return "major version number";
    case NR_SV_MINOR: return "minor version number";
    case NR_SV_PATCH: return "patch version number";
    case NR_SV_PRE: return "pre-release identifier";
    case NR_SV_BUILD: return "build metadata";
    }
    return "version";
}

/* Renders the character at `at` the way Rust's `{:?}` renders a char
 * ('x', '\n', '\u{1b}', 'ÿ'), with the crate's '\0' special case. */
static void nr_sv_quote_char(const char *at, char *buf, size_t size)
{
    const unsigned char *s = (const unsigned char *)at;
    unsigned char c = s[0];
    switch (c) {
    case '\0': snprintf(buf, size, "'\\0'"); return;
    case '\t': snprintf(buf, size, "'\\t'"); return;
    case '\n': snprintf(buf, size, "'\\n'"); return;
    case '\r': snprintf(buf, size, "'\\r'"); return;
    case '\'': snprintf(buf, size, "'\\''"); return;
    case '\\': snprintf(buf, size, "'\\\\'"); return;
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
        snprintf(buf, size, "'\\u{%x}'", (unsigned)c);
        return;
    }
    if (c < 0x80) {
        snprintf(buf, size, "'%c'", (char)c);
        return;
    }
    size_t n = (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
             : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            n = 0;
            break;
        }
    }
    if (n == 0) {
        snprintf(buf, size, "'\\u{fffd}'"); /* not UTF-8: shown as U+FFFD */
        return;
    }
    snprintf(buf, size, "'%.*s'", (int)n, at);
}

static NemoRelayStatus nr_sv_report(const nr_sv_error *e, nr_error *err)
{
    char q[24];
    const char *pos = nr_sv_pos_name(e->pos);
    switch (e->kind) {
    case NR_SV_E_EMPTY:
        return nr_error_set(err, NR_E_INVALID_CONFIG, "empty string, expected a semver version");
    case NR_SV_E_UNEXPECTED_END:
        return nr_error_set(err, NR_E_INVALID_CONFIG, "unexpected end of input while parsing %s", pos);
    case NR_SV_E_UNEXPECTED_CHAR:
        nr_sv_quote_char(e->at, q, sizeof q);
        return nr_error_set(err, NR_E_INVALID_CONFIG, "unexpected character %s while parsing %s", q, pos);
    case NR_SV_E_UNEXPECTED_CHAR_AFTER:
        nr_sv_quote_char(e->at, q, sizeof q);
        return nr_error_set(err, NR_E_INVALID_CONFIG, "unexpected character %s after %s", q, pos);
    case NR_SV_E_EXPECTED_COMMA:
        nr_sv_quote_char(e->at, q, sizeof q);
        return nr_error_set(err, NR_E_INVALID_CONFIG, "expected comma after %s, found %s", pos, q);
    case NR_SV_E_LEADING_ZERO:
        return nr_error_set(err, NR_E_INVALID_CONFIG, "invalid leading zero in %s", pos);
    case NR_SV_E_OVERFLOW:
        return nr_error_set(err, NR_E_INVALID_CONFIG, "value of %s exceeds u64::MAX", pos);
    case NR_SV_E_EMPTY_SEGMENT:
        return nr_error_set(err, NR_E_INVALID_CONFIG, "empty identifier segment in %s", pos);
    case NR_SV_E_WILDCARD_NOT_ONLY:
        return nr_error_set(err, NR_E_INVALID_CONFIG,
                            "wildcard req (%c) must be the only comparator in the version req",
                            e->wildcard);
    case NR_SV_E_AFTER_WILDCARD:
        return nr_error_set(err, NR_E_INVALID_CONFIG,
                            "unexpected character after wildcard in version req");
    case NR_SV_E_EXCESSIVE:
        return nr_error_set(err, NR_E_INVALID_CONFIG, "excessive number of version comparators");
    case NR_SV_E_NOMEM:
    default:
        return nr_error_nomem(err);
    }
}

/* ---- lexical pieces ----------------------------------------------------- */

static bool nr_sv_is_digit(char c) { return c >= '0' && c <= '9'; }

static bool nr_sv_is_wildcard(char c) { return c == '*' || c == 'x' || c == 'X'; }

static const char *nr_sv_skip_spaces(const char *s)
{
    while (*s == ' ') /* the crate trims U+0020 only */
        s++;
    return s;
}

/* A decimal u64 without leading zeros; advances *p past it. */
static bool nr_sv_numeric(const char **p, nr_sv_pos pos, uint64_t *out, nr_sv_error *e)
{
    const char *s = *p;
    size_t len = 0;
    uint64_t value = 0;
    while (nr_sv_is_digit(s[len])) {
        if (value == 0 && len > 0)
            return nr_sv_fail(e, NR_SV_E_LEADING_ZERO, pos, NULL);
        uint64_t digit = (uint64_t)(s[len] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return nr_sv_fail(e, NR_SV_E_OVERFLOW, pos, NULL);
        value = value * 10 + digit;
        len++;
    }
    if (len == 0) {
        if (*s != '\0')
            return nr_sv_fail(e, NR_SV_E_UNEXPECTED_CHAR, pos, s);
        return nr_sv_fail(e, NR_SV_E_UNEXPECTED_END, pos, NULL);
    }
    *out = value;
    *p = s + len;
    return true;
}

/* Dot-separated [0-9A-Za-z-]+ segments.  *out_len is the byte length taken
 * (0 when the input does not start an identifier at all). */
static bool nr_sv_identifier(const char *in, nr_sv_pos pos, size_t *out_len, nr_sv_error *e)
{
    size_t acc = 0, seg = 0;
    bool nondigit = false;
    for (;;) {
        char c = in[acc + seg];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-') {
            seg++;
            nondigit = true;
        } else if (nr_sv_is_digit(c)) {
            seg++;
        } else {
            if (seg == 0) {
                if (acc == 0 && c != '.') {
                    *out_len = 0;
                    return true;
                }
                return nr_sv_fail(e, NR_SV_E_EMPTY_SEGMENT, pos, NULL);
            }
            if (pos == NR_SV_PRE && seg > 1 && !nondigit && in[acc] == '0')
                return nr_sv_fail(e, NR_SV_E_LEADING_ZERO, pos, NULL);
            acc += seg;
            if (c == '.') {
                acc++;
                seg = 0;
                nondigit = false;
            } else {
                *out_len = acc;
                return true;
            }
        }
    }
}

/* `-pre` after a full version: sets *pre (owned, caller frees) and advances. */
static bool nr_sv_pre(const char **p, char **pre, nr_sv_error *e)
{
    size_t len = 0;
    if (!nr_sv_identifier(*p, NR_SV_PRE, &len, e))
        return false;
    if (len == 0)
        return nr_sv_fail(e, NR_SV_E_EMPTY_SEGMENT, NR_SV_PRE, NULL);
    *pre = nr_loader_strndup(*p, len);
    if (*pre == NULL)
        return nr_sv_fail(e, NR_SV_E_NOMEM, NR_SV_PRE, NULL);
    *p += len;
    return true;
}

/* `+build` after a full version: validated, then skipped. */
static bool nr_sv_build(const char **p, nr_sv_error *e)
{
    size_t len = 0;
    if (!nr_sv_identifier(*p, NR_SV_BUILD, &len, e))
        return false;
    if (len == 0)
        return nr_sv_fail(e, NR_SV_E_EMPTY_SEGMENT, NR_SV_BUILD, NULL);
    *p += len;
    return true;
}

/* The '.' between version numbers of a full version. */
static bool nr_sv_dot(const char **p, nr_sv_pos pos, nr_sv_error *e)
{
    if (**p == '.') {
        (*p)++;
        return true;
    }
    if (**p != '\0')
        return nr_sv_fail(e, NR_SV_E_UNEXPECTED_CHAR_AFTER, pos, *p);
    return nr_sv_fail(e, NR_SV_E_UNEXPECTED_END, pos, NULL);
}

/* ---- versions ----------------------------------------------------------- */

void nr_semver_clear(nr_semver *v)
{
    if (v == NULL)
        return;
    free(v->pre);
    nr_semver empty = NR_SEMVER_INIT;
    *v = empty;
}

static bool nr_sv_parse_version(const char *s, nr_semver *v, nr_sv_error *e)
{
    if (*s == '\0')
        return nr_sv_fail(e, NR_SV_E_EMPTY, NR_SV_MAJOR, NULL);
    nr_sv_pos pos = NR_SV_MAJOR;
    if (!nr_sv_numeric(&s, pos, &v->major, e) || !nr_sv_dot(&s, pos, e))
        return false;
    pos = NR_SV_MINOR;
    if (!nr_sv_numeric(&s, pos, &v->minor, e) || !nr_sv_dot(&s, pos, e))
        return false;
    pos = NR_SV_PATCH;
    if (!nr_sv_numeric(&s, pos, &v->patch, e))
        return false;
    if (*s == '-') {
        pos = NR_SV_PRE;
        s++;
        if (!nr_sv_pre(&s, &v->pre, e))
            return false;
    }
    if (*s == '+') {
        pos = NR_SV_BUILD;
        s++;
        if (!nr_sv_build(&s, e))
            return false;
    }
    if (*s != '\0')
        return nr_sv_fail(e, NR_SV_E_UNEXPECTED_CHAR_AFTER, pos, s);
    return true;
}

NemoRelayStatus nr_semver_parse(const char *text, nr_semver *out, nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_semver v = NR_SEMVER_INIT;
    nr_sv_error e = {NR_SV_E_EMPTY, NR_SV_MAJOR, NULL, 0};
    if (out == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG, "nr_semver_parse: out is NULL");
        goto done;
    }
    *out = v;
    if (text == NULL) {
        st = nr_sv_report(&e, err);
        goto done;
    }
    if (!nr_sv_parse_version(text, &v, &e)) {
        st = nr_sv_report(&e, err);
        goto done;
    }
    *out = v;
    v.pre = NULL;
done:
    nr_semver_clear(&v);
    return st;
}

/* Pre-release precedence as the crate's `Prerelease` Ord: no pre-release
 * ranks highest; dot-separated identifiers compare numerically when both are
 * numeric (by length, then digits), numeric below alphanumeric, otherwise
 * bytewise; a shorter list that is a prefix ranks lower. */
static int nr_sv_pre_cmp(const char *a, const char *b)
{
    bool a_empty = (a == NULL || *a == '\0'), b_empty = (b == NULL || *b == '\0');
    if (a_empty || b_empty)
        return a_empty == b_empty ? 0 : (a_empty ? 1 : -1);
    bool a_done = false, b_done = false;
    for (;;) {
        if (a_done)
            return b_done ? 0 : -1;
        if (b_done)
            return 1;
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        bool da = true, db = true;
        for (size_t i = 0; i < la; i++)
            da = da && nr_sv_is_digit(a[i]);
        for (size_t i = 0; i < lb; i++)
            db = db && nr_sv_is_digit(b[i]);
        int c;
        if (da && db) {
            c = la < lb ? -1 : la > lb ? 1 : memcmp(a, b, la);
        } else if (da) {
            return -1;
        } else if (db) {
            return 1;
        } else {
            c = memcmp(a, b, la < lb ? la : lb);
            if (c == 0)
                c = la < lb ? -1 : la > lb ? 1 : 0;
        }
        if (c != 0)
            return c < 0 ? -1 : 1;
        a += la;
        b += lb;
        if (*a == '.')
            a++;
        else
            a_done = true;
        if (*b == '.')
            b++;
        else
            b_done = true;
    }
}

static int nr_sv_u64_cmp(uint64_t a, uint64_t b) { return a < b ? -1 : a > b ? 1 : 0; }

int nr_semver_cmp(const nr_semver *a, const nr_semver *b)
{
    int c = nr_sv_u64_cmp(a->major, b->major);
    if (c == 0)
        c = nr_sv_u64_cmp(a->minor, b->minor);
    if (c == 0)
        c = nr_sv_u64_cmp(a->patch, b->patch);
    if (c == 0)
        c = nr_sv_pre_cmp(a->pre, b->pre);
    return c;
}

/* ---- requirements ------------------------------------------------------- */

void nr_semver_req_free(nr_semver_req *req)
{
    if (req == NULL)
        return;
    for (size_t i = 0; i < req->count; i++)
        free(req->comparators[i].pre);
    free(req);
}

static nr_semver_op nr_sv_op(const char **p, bool *is_default)
{
    const char *s = *p;
    nr_semver_op op = NR_SEMVER_OP_CARET;
    size_t n = 1;
    *is_default = false;
    switch (s[0]) {
    case '=': op = NR_SEMVER_OP_EXACT; break;
    case '>':
        if (s[1] == '=') {
            op = NR_SEMVER_OP_GREATER_EQ;
            n = 2;
        } else {
            op = NR_SEMVER_OP_GREATER;
        }
        break;
    case '<':
        if (s[1] == '=') {
            op = NR_SEMVER_OP_LESS_EQ;
            n = 2;
        } else {
            op = NR_SEMVER_OP_LESS;
        }
        break;
    case '~': op = NR_SEMVER_OP_TILDE; break;
    case '^': op = NR_SEMVER_OP_CARET; break;
    default:
        *is_default = true; /* no operator: caret */
        n = 0;
        break;
    }
    *p = s + n;
    return op;
}

/* One comparator starting at `input`.  On success fills *c (c->pre owned by
 * the caller), *pos_out (last position parsed, for "expected comma after")
 * and *rest (text after it and its trailing spaces). */
static bool nr_sv_comparator(const char *input, nr_semver_comparator *c, nr_sv_pos *pos_out,
                             const char **rest, nr_sv_error *e)
{
    const char *s = input;
    bool default_op = false;
    c->op = nr_sv_op(&s, &default_op);
    s = nr_sv_skip_spaces(s);

    nr_sv_pos pos = NR_SV_MAJOR;
    if (!nr_sv_numeric(&s, pos, &c->major, e))
        return false;
    bool has_wildcard = false;

    if (*s == '.') {
        pos = NR_SV_MINOR;
        s++;
        if (nr_sv_is_wildcard(*s)) {
            has_wildcard = true;
            if (default_op)
                c->op = NR_SEMVER_OP_WILDCARD;
            s++;
        } else {
            if (!nr_sv_numeric(&s, pos, &c->minor, e))
                return false;
            c->has_minor = true;
        }
    }

    if (*s == '.') {
        pos = NR_SV_PATCH;
        s++;
        if (nr_sv_is_wildcard(*s)) {
            if (default_op)
                c->op = NR_SEMVER_OP_WILDCARD;
            s++;
        } else if (has_wildcard) {
            return nr_sv_fail(e, NR_SV_E_AFTER_WILDCARD, pos, NULL);
        } else {
            if (!nr_sv_numeric(&s, pos, &c->patch, e))
                return false;
            c->has_patch = true;
        }
    }

    if (c->has_patch && *s == '-') {
        pos = NR_SV_PRE;
        s++;
        if (!nr_sv_pre(&s, &c->pre, e))
            return false;
    }
    if (c->has_patch && *s == '+') {
        pos = NR_SV_BUILD;
        s++;
        if (!nr_sv_build(&s, e))
            return false;
    }

    *pos_out = pos;
    *rest = nr_sv_skip_spaces(s);
    return true;
}

static bool nr_sv_parse_req(const char *text, nr_semver_req *req, nr_sv_error *e)
{
    const char *s = nr_sv_skip_spaces(text);
    if (nr_sv_is_wildcard(*s)) {
        const char *after = nr_sv_skip_spaces(s + 1);
        if (*after == '\0')
            return true; /* `*`: no comparators */
        if (*after == ',') {
            e->wildcard = *s;
            return nr_sv_fail(e, NR_SV_E_WILDCARD_NOT_ONLY, NR_SV_MAJOR, NULL);
        }
        return nr_sv_fail(e, NR_SV_E_AFTER_WILDCARD, NR_SV_MAJOR, NULL);
    }

    for (;;) {
        nr_semver_comparator *c = &req->comparators[req->count];
        nr_sv_pos pos = NR_SV_MAJOR;
        const char *rest = NULL;
        if (!nr_sv_comparator(s, c, &pos, &rest, e)) {
            free(c->pre);
            c->pre = NULL;
            if (e->kind != NR_SV_E_NOMEM && nr_sv_is_wildcard(*s)) {
                const char *after = nr_sv_skip_spaces(s + 1);
                if (*after == '\0' || *after == ',') {
                    e->kind = NR_SV_E_WILDCARD_NOT_ONLY;
                    e->wildcard = *s;
                }
            }
            return false;
        }
        req->count++;
        if (*rest == '\0')
            return true;
        if (*rest != ',')
            return nr_sv_fail(e, NR_SV_E_EXPECTED_COMMA, pos, rest);
        s = nr_sv_skip_spaces(rest + 1);
        if (req->count == NR_SEMVER_MAX_COMPARATORS)
            return nr_sv_fail(e, NR_SV_E_EXCESSIVE, pos, NULL);
    }
}

NemoRelayStatus nr_semver_req_parse(const char *text, nr_semver_req **out, nr_error *err)
{
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_semver_req *req = NULL;
    nr_sv_error e = {NR_SV_E_UNEXPECTED_END, NR_SV_MAJOR, NULL, 0};
    if (out == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG, "nr_semver_req_parse: out is NULL");
        goto done;
    }
    *out = NULL;
    req = calloc(1, sizeof *req);
    if (req == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }
    if (text == NULL || !nr_sv_parse_req(text, req, &e)) {
        st = nr_sv_report(&e, err);
        goto done;
    }
    *out = req;
    req = NULL;
done:
    nr_semver_req_free(req);
    return st;
}

/* ---- matching (the crate's eval.rs) ------------------------------------- */

static bool nr_sv_pre_eq(const char *a, const char *b) { return nr_sv_pre_cmp(a, b) == 0; }

static bool nr_sv_matches_exact(const nr_semver_comparator *c, const nr_semver *v)
{
    if (v->major != c->major)
        return false;
    if (c->has_minor && v->minor != c->minor)
        return false;
    if (c->has_patch && v->patch != c->patch)
        return false;
    return nr_sv_pre_eq(v->pre, c->pre);
}

static bool nr_sv_matches_greater(const nr_semver_comparator *c, const nr_semver *v)
{
    if (v->major != c->major)
        return v->major > c->major;
    if (!c->has_minor)
        return false;
    if (v->minor != c->minor)
        return v->minor > c->minor;
    if (!c->has_patch)
        return false;
    if (v->patch != c->patch)
        return v->patch > c->patch;
    return nr_sv_pre_cmp(v->pre, c->pre) > 0;
}

static bool nr_sv_matches_less(const nr_semver_comparator *c, const nr_semver *v)
{
    if (v->major != c->major)
        return v->major < c->major;
    if (!c->has_minor)
        return false;
    if (v->minor != c->minor)
        return v->minor < c->minor;
    if (!c->has_patch)
        return false;
    if (v->patch != c->patch)
        return v->patch < c->patch;
    return nr_sv_pre_cmp(v->pre, c->pre) < 0;
}

static bool nr_sv_matches_tilde(const nr_semver_comparator *c, const nr_semver *v)
{
    if (v->major != c->major)
        return false;
    if (c->has_minor && v->minor != c->minor)
        return false;
    if (c->has_patch && v->patch != c->patch)
        return v->patch > c->patch;
    return nr_sv_pre_cmp(v->pre, c->pre) >= 0;
}

static bool nr_sv_matches_caret(const nr_semver_comparator *c, const nr_semver *v)
{
    if (v->major != c->major)
        return false;
    if (!c->has_minor)
        return true;
    if (!c->has_patch)
        return c->major > 0 ? v->minor >= c->minor : v->minor == c->minor;
    if (c->major > 0) {
        if (v->minor != c->minor)
            return v->minor > c->minor;
        if (v->patch != c->patch)
            return v->patch > c->patch;
    } else if (c->minor > 0) {
        if (v->minor != c->minor)
            return false;
        if (v->patch != c->patch)
            return v->patch > c->patch;
    } else if (v->minor != c->minor || v->patch != c->patch) {
        return false;
    }
    return nr_sv_pre_cmp(v->pre, c->pre) >= 0;
}

static bool nr_sv_matches_one(const nr_semver_comparator *c, const nr_semver *v)
{
    switch (c->op) {
    case NR_SEMVER_OP_EXACT:
    case NR_SEMVER_OP_WILDCARD: return nr_sv_matches_exact(c, v);
    case NR_SEMVER_OP_GREATER: return nr_sv_matches_greater(c, v);
    case NR_SEMVER_OP_GREATER_EQ: return nr_sv_matches_exact(c, v) || nr_sv_matches_greater(c, v);
    case NR_SEMVER_OP_LESS: return nr_sv_matches_less(c, v);
    case NR_SEMVER_OP_LESS_EQ: return nr_sv_matches_exact(c, v) || nr_sv_matches_less(c, v);
    case NR_SEMVER_OP_TILDE: return nr_sv_matches_tilde(c, v);
    case NR_SEMVER_OP_CARET: return nr_sv_matches_caret(c, v);
    }
    return false;
}

/* A comparator that opts a pre-release of exactly this major.minor.patch in. */
static bool nr_sv_pre_is_compatible(const nr_semver_comparator *c, const nr_semver *v)
{
    return c->major == v->major && c->has_minor && c->minor == v->minor && c->has_patch
        && c->patch == v->patch && c->pre != NULL && c->pre[0] != '\0';
}

bool nr_semver_req_matches(const nr_semver_req *req, const nr_semver *v)
{
    if (req == NULL || v == NULL)
        return false;
    for (size_t i = 0; i < req->count; i++) {
        if (!nr_sv_matches_one(&req->comparators[i], v))
            return false;
    }
    if (v->pre == NULL || v->pre[0] == '\0')
        return true;
    for (size_t i = 0; i < req->count; i++) {
        if (nr_sv_pre_is_compatible(&req->comparators[i], v))
            return true;
    }
    return false;
}
