/*
 * pii_text.h -- text helpers for the PII redactor: a growable byte buffer,
 * UTF-8 character counting, generic masking and SHA-256 hex digests.
 *
 * Ownership: a pii_buf owns its bytes; pii_buf_take hands them to the caller
 * (free with free()).  Every function that can fail returns false on
 * allocation failure and leaves the buffer valid.
 */
#ifndef PII_TEXT_H
#define PII_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pii_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an append ran out of memory: the content is incomplete */
} pii_buf;

void pii_buf_init(pii_buf *b);
void pii_buf_free(pii_buf *b);
bool pii_buf_append(pii_buf *b, const char *s, size_t n);
bool pii_buf_append_str(pii_buf *b, const char *s);
bool pii_buf_repeat(pii_buf *b, const char *s, size_t times);
/* The NUL-terminated content (caller frees), or NULL if an append failed. */
char *pii_buf_take(pii_buf *b);

/* Length in bytes of the UTF-8 sequence starting with byte c (1 for a
 * stray continuation byte, so that scanning always advances). */
size_t pii_utf8_len(unsigned char c);
/* Number of characters (code points) in s[0..n). */
size_t pii_utf8_count(const char *s, size_t n);

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF: what PCRE2 accepts). */
bool pii_utf8_valid(const char *s, size_t n);

/* Appends s[0..n) with every character but the first `prefix` and the last
 * `suffix` replaced by mask; unchanged when it has no more than
 * prefix + suffix characters. */
bool pii_mask_generic(pii_buf *out, const char *s, size_t n, const char *mask, size_t prefix,
                      size_t suffix);

/* Appends the 64 lowercase hex digits of SHA-256(s[0..n)). */
bool pii_sha256_hex(pii_buf *out, const char *s, size_t n);

#endif /* PII_TEXT_H */
