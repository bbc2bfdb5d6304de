/* pii_text.c -- buffer, UTF-8, masking and hashing helpers (see pii_text.h). */
#include "pii_text.h"

#include <openssl/evp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void pii_buf_init(pii_buf *b)
{
    memset(b, 0, sizeof *b);
}

void pii_buf_free(pii_buf *b)
{
    free(b->data);
    pii_buf_init(b);
}

static bool reserve(pii_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

bool pii_buf_append(pii_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return false;
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool pii_buf_append_str(pii_buf *b, const char *s)
{
    return pii_buf_append(b, s, strlen(s));
}

bool pii_buf_repeat(pii_buf *b, const char *s, size_t times)
{
    size_t n = strlen(s);
    if (!reserve(b, n * times))
        return false;
    for (size_t i = 0; i < times; i++)
        pii_buf_append(b, s, n);
    return true;
}

char *pii_buf_take(pii_buf *b)
{
    if (b->failed || !reserve(b, 0)) {
        pii_buf_free(b);
        return NULL;
    }
    char *data = b->data;
    data[b->len] = '\0';
    pii_buf_init(b);
    return data;
}

size_t pii_utf8_len(unsigned char c)
{
    if (c < 0xC0)
        return 1;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    return 4;
}

size_t pii_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

bool pii_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            /* ASCII runs, eight bytes at a time */
            uint64_t w;
            while (end - p >= 8 && (memcpy(&w, p, 8), (w & 0x8080808080808080u) == 0))
                p += 8;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (*p >= 0xC2 && *p <= 0xDF) {
            len = 2;
            cp = *p & 0x1Fu;
        } else if (*p >= 0xE0 && *p <= 0xEF) {
            len = 3;
            cp = *p & 0x0Fu;
        } else if (*p >= 0xF0 && *p <= 0xF4) {
            len = 4;
            cp = *p & 0x07u;
        } else {
            return false;
        }
        if ((size_t)(end - p) < len)
            return false;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += len;
    }
    return true;
}

bool pii_mask_generic(pii_buf *out, const char *s, size_t n, const char *mask, size_t prefix,
                      size_t suffix)
{
    size_t chars = pii_utf8_count(s, n);
    if (chars <= prefix || chars - prefix <= suffix)
        return pii_buf_append(out, s, n);
    size_t i = 0, index = 0;
    while (i < n) {
        size_t step = pii_utf8_len((unsigned char)s[i]);
        if (i + step > n)
            step = n - i;
        bool keep = index < prefix || index >= chars - suffix;
        if (!(keep ? pii_buf_append(out, s + i, step) : pii_buf_append_str(out, mask)))
            return false;
        i += step;
        index++;
    }
    return true;
}

bool pii_sha256_hex(pii_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, n, digest, &len, EVP_sha256(), NULL) != 1)
        return false;
    char text[2 * EVP_MAX_MD_SIZE];
    for (unsigned int i = 0; i < len; i++) {
        text[2 * i] = hex[digest[i] >> 4];
        text[2 * i + 1] = hex[digest[i] & 15];
    }
    return pii_buf_append(out, text, 2 * (size_t)len);
}
