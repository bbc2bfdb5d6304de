/*
 * pii_detectors.c -- the detector catalog: patterns, look-alike checks and
 * default masks.
 *
 * The patterns are ours, written for PCRE2 (ASCII \w, \d, \b): each is
 * bounded by look-arounds so that a detector never matches a piece of a
 * longer token (the tail of a UUID is not a phone number, the first four
 * parts of "1.2.3.4.5" are not an address).  The masks keep what NeMo Relay's
 * detector masks keep (an email's domain, a card's last four digits, ...).
 */
#include "pii_detectors.h"

#include <string.h>

/* ---- look-alike checks ------------------------------------------------------ */

static size_t count_digits(const char *s, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += s[i] >= '0' && s[i] <= '9';
    return d;
}

bool pii_luhn_valid(const char *text, size_t len)
{
    int sum = 0;
    bool twice = false;
    for (size_t i = len; i-- > 0;) {
        if (text[i] < '0' || text[i] > '9')
            continue;
        int d = text[i] - '0';
        if (twice && (d *= 2) > 9)
            d -= 9;
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

static bool accept_card(const char *s, size_t n)
{
    size_t d = count_digits(s, n);
    return d >= 13 && d <= 19 && pii_luhn_valid(s, n);
}

/* A dotted quad ("10.10.10.10") is an address, not a phone number. */
static bool dotted_quad(const char *s, size_t n)
{
    size_t dots = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            dots++;
            run = 0;
        } else if (s[i] >= '0' && s[i] <= '9') {
            if (++run > 3)
                return false;
        } else {
            return false;
        }
    }
    return dots == 3;
}

/* An ISO date ("2024-01-15") is not a phone number. */
static bool iso_date(const char *s, size_t n)
{
    static const char shape[] = "dddd-dd-dd";
    if (n != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
            return false;
    return true;
}

static bool accept_phone(const char *s, size_t n)
{
    size_t d = count_digits(s, n);
    return d >= 7 && d <= 15 && !dotted_quad(s, n) && !iso_date(s, n);
}

/* "::", "a::b" and other hex-only pairs are not addresses worth redacting:
 * an IPv6 address has at least two colons and one decimal digit. */
static bool accept_ipv6(const char *s, size_t n)
{
    size_t colons = 0;
    for (size_t i = 0; i < n; i++)
        colons += s[i] == ':';
    return colons >= 2 && count_digits(s, n) > 0;
}

/* A 40-character run that is all hex (a SHA-1, a git commit) or has no mixed
 * case is not an AWS secret access key. */
static bool accept_aws_secret(const char *s, size_t n)
{
    bool upper = false, lower = false, digit = false, non_hex = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        upper |= c >= 'A' && c <= 'Z';
        lower |= c >= 'a' && c <= 'z';
        digit |= c >= '0' && c <= '9';
        non_hex |= !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
    }
    return upper && lower && digit && non_hex;
}

/* ---- masks ---------------------------------------------------------------------- */

static const char *find_char(const char *s, size_t n, char c)
{
    return memchr(s, c, n);
}

static bool mask_all(pii_buf *out, const char *s, size_t n, const char *m)
{
    return pii_mask_generic(out, s, n, m, 0, 0);
}

/* Keeps the first character of the local part and the domain. */
static bool mask_email(pii_buf *out, const char *s, size_t n, const char *m)
{
    const char *at = find_char(s, n, '@');
    if (at == NULL)
        return mask_all(out, s, n, m);
    size_t local = (size_t)(at - s);
    if (pii_utf8_count(s, local) <= 1)
        return pii_buf_append(out, s, n);
    return pii_mask_generic(out, s, local, m, 1, 0) && pii_buf_append(out, at, n - local);
}

/* Masks every digit but the last four; separators stay. */
static bool mask_digits_but_last4(pii_buf *out, const char *s, size_t n, const char *m)
{
    size_t d = count_digits(s, n);
    if (d <= 4)
        return pii_buf_append(out, s, n);
    size_t to_mask = d - 4;
    for (size_t i = 0; i < n; i++) {
        bool digit = s[i] >= '0' && s[i] <= '9';
        if (digit && to_mask > 0) {
            to_mask--;
            if (!pii_buf_append_str(out, m))
                return false;
        } else if (!pii_buf_append(out, s + i, 1)) {
            return false;
        }
    }
    return true;
}

/* Keeps the "sk-" style prefix and the last four characters. */
static bool mask_api_key(pii_buf *out, const char *s, size_t n, const char *m)
{
    const char *dash = find_char(s, n, '-');
    size_t prefix = dash != NULL ? pii_utf8_count(s, (size_t)(dash - s)) + 1 : 0;
    return pii_mask_generic(out, s, n, m, prefix, 4);
}

/* Keeps the last octet: "***.***.***.42". */
static bool mask_ipv4(pii_buf *out, const char *s, size_t n, const char *m)
{
    const char *last = NULL;
    size_t dots = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.') {
            dots++;
            last = s + i;
        }
    if (dots != 3)
        return mask_all(out, s, n, m);
    for (int i = 0; i < 3; i++)
        if (!pii_buf_repeat(out, m, 3) || !pii_buf_append(out, ".", 1))
            return false;
    return pii_buf_append(out, last + 1, n - (size_t)(last + 1 - s));
}

/* Keeps the last group; every other non-empty group becomes four masks. */
static bool mask_ipv6(pii_buf *out, const char *s, size_t n, const char *m)
{
    size_t colons = 0;
    for (size_t i = 0; i < n; i++)
        colons += s[i] == ':';
    if (colons < 2)
        return mask_all(out, s, n, m);
    size_t seen = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ':')
            continue;
        bool is_last = seen == colons;
        if (is_last ? !pii_buf_append(out, s + start, i - start)
                    : (i > start && !pii_buf_repeat(out, m, 4)))
            return false;
        if (i < n && !pii_buf_append(out, ":", 1))
            return false;
        seen++;
        start = i + 1;
    }
    return true;
}

/* Keeps scheme and host; the path becomes one mask. */
static bool mask_url(pii_buf *out, const char *s, size_t n, const char *m)
{
    const char *scheme = n >= 3 ? memmem(s, n, "://", 3) : NULL;
    if (scheme == NULL)
        return mask_all(out, s, n, m);
    size_t host = (size_t)(scheme - s) + 3;
    const char *slash = find_char(s + host, n - host, '/');
    if (slash == NULL)
        return pii_buf_append(out, s, n);
    return pii_buf_append(out, s, (size_t)(slash - s) + 1) && pii_buf_append_str(out, m);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Keeps the scheme word and the token's last four characters. */
static bool mask_bearer(pii_buf *out, const char *s, size_t n, const char *m)
{
    size_t i = 0;
    while (i < n && !is_space(s[i]))
        i++;
    if (i == n)
        return pii_mask_generic(out, s, n, m, 0, 4);
    size_t t = i;
    while (t < n && is_space(s[t]))
        t++;
    if (t == n)
        return pii_buf_append(out, s, n);
    return pii_buf_append(out, s, i) && pii_buf_append(out, " ", 1) &&
           pii_mask_generic(out, s + t, n - t, m, 0, 4);
}

/* Keeps the header, masks the claims and all but six signature characters. */
static bool mask_jwt(pii_buf *out, const char *s, size_t n, const char *m)
{
    const char *d1 = find_char(s, n, '.');
    const char *d2 = d1 != NULL ? find_char(d1 + 1, n - (size_t)(d1 + 1 - s), '.') : NULL;
    const char *d3 = d2 != NULL ? find_char(d2 + 1, n - (size_t)(d2 + 1 - s), '.') : NULL;
    if (d2 == NULL || d3 != NULL)
        return pii_mask_generic(out, s, n, m, 0, 6);
    return pii_buf_append(out, s, (size_t)(d1 - s) + 1) &&
           mask_all(out, d1 + 1, (size_t)(d2 - d1 - 1), m) && pii_buf_append(out, ".", 1) &&
           pii_mask_generic(out, d2 + 1, n - (size_t)(d2 + 1 - s), m, 0, 6);
}

#define KEEP(name, pre, suf)                                                                    \
    static bool name(pii_buf *out, const char *s, size_t n, const char *m)                      \
    {                                                                                           \
        return pii_mask_generic(out, s, n, m, pre, suf);                                        \
    }
KEEP(mask_last4, 0, 4)
KEEP(mask_first4_last4, 4, 4)
KEEP(mask_first6_last4, 6, 4)
#undef KEEP

/* ---- the catalog ------------------------------------------------------------------ */

#define COMMON "common PII"
#define STRUCTURED "structured secrets"
#define CLOUD "cloud credentials"

#define OCTET "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)"
#define H16 "[0-9A-Fa-f]{1,4}"

static const pii_detector CATALOG[] = {
    {"email", COMMON, "(?<![\\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}(?![\\w])",
     NULL, mask_email},
    {"phone", COMMON,
     "(?<![\\w+.-])(?<!\\d[ .-])(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{1,4}\\)|\\d{1,4})(?:[ .-]?\\d{2,4}){1,4}"
     "(?![\\w-]|[ .-]?\\d)",
     accept_phone, mask_digits_but_last4},
    {"api_key", STRUCTURED, "(?<![\\w-])(?:sk|rk|pk|ak)-[A-Za-z0-9_-]{8,}", NULL, mask_api_key},
    {"ip_address", COMMON, "(?<![\\w.])(?:" OCTET "\\.){3}" OCTET "(?!\\w|\\.\\d)", NULL,
     mask_ipv4},
    {"ipv6", COMMON,
     "(?<![\\w:.])(?:(?:" H16 ":){7}" H16 "|(?:" H16 ":){1,7}:|(?:" H16 ":){1,6}:" H16
     "|(?:" H16 ":){1,5}(?::" H16 "){1,2}|(?:" H16 ":){1,4}(?::" H16 "){1,3}|(?:" H16
     ":){1,3}(?::" H16 "){1,4}|(?:" H16 ":){1,2}(?::" H16 "){1,5}|" H16 ":(?::" H16
     "){1,6}|:(?::" H16 "){1,7})(?![\\w:])",
     accept_ipv6, mask_ipv6},
    {"url", COMMON, "(?i)\\bhttps?://[^\\s<>\"']*[^\\s<>\"'.,;:!?)\\]]", NULL, mask_url},
    {"uuid", STRUCTURED,
     "(?<![\\w-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"
     "[0-9a-fA-F]{12}(?![\\w-])",
     NULL, mask_last4},
    {"bearer_token", STRUCTURED, "(?i)\\bbearer[ \\t]+[A-Za-z0-9._~+/-]{12,}=*", NULL,
     mask_bearer},
    {"jwt", STRUCTURED,
     "(?<![\\w-])eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*(?![\\w-])", NULL,
     mask_jwt},
    {"credit_card", STRUCTURED, "(?<![\\w-])(?<!\\d[ -])\\d(?:[ -]?\\d){12,18}(?![\\w-]|[ -]?\\d)",
     accept_card, mask_digits_but_last4},
    {"aws_access_key_id", CLOUD,
     "(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|"
     "AUSA)[A-Z0-9]{16}(?![A-Za-z0-9])",
     NULL, mask_first4_last4},
    {"aws_secret_access_key", CLOUD, "(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
     accept_aws_secret, mask_last4},
    {"gcp_api_key", CLOUD, "(?<![\\w-])AIza[0-9A-Za-z_-]{35}(?![\\w-])", NULL,
     mask_first6_last4},
    {"azure_storage_account_key", CLOUD, "(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?!=)", NULL,
     mask_last4},
};

#define N_DETECTORS (sizeof CATALOG / sizeof CATALOG[0])

const pii_detector *pii_detectors(size_t *count)
{
    *count = N_DETECTORS;
    return CATALOG;
}

const pii_detector *pii_detector_find(const char *name)
{
    for (size_t i = 0; i < N_DETECTORS; i++)
        if (strcmp(CATALOG[i].name, name) == 0)
            return &CATALOG[i];
    return NULL;
}

const char *pii_detector_summary(void)
{
    return "common PII: email, phone, ip_address, ipv6, url; structured secrets: api_key, uuid, "
           "bearer_token, jwt, credit_card; cloud credentials: aws_access_key_id, "
           "aws_secret_access_key, gcp_api_key, azure_storage_account_key";
}
