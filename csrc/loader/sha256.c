/* sha256.c -- SHA-256 of a file through libcrypto's EVP interface. */
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define NR_SHA256_CHUNK 65536

NemoRelayStatus nr_sha256_file_hex(const char *path, char out_hex[65], nr_error *err)
{
    static const char hex[] = "0123456789abcdef";
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    FILE *f = NULL;
    EVP_MD_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    if (out_hex != NULL)
        out_hex[0] = '\0';
    if (path == NULL || out_hex == NULL) {
        st = nr_error_set(err, NR_E_INVALID_ARG, "nr_sha256_file_hex: path and out_hex are required");
        goto done;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        st = nr_error_set(err, NR_E_INTERNAL, "failed to read '%s': %s", path, strerror(errno));
        goto done;
    }
    buf = OPENSSL_malloc(NR_SHA256_CHUNK);
    ctx = EVP_MD_CTX_new();
    if (buf == NULL || ctx == NULL) {
        st = nr_error_nomem(err);
        goto done;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        st = nr_error_set(err, NR_E_INTERNAL, "failed to initialise SHA-256");
        goto done;
    }
    for (;;) {
        size_t n = fread(buf, 1, NR_SHA256_CHUNK, f);
        if (n > 0 && EVP_DigestUpdate(ctx, buf, n) != 1) {
            st = nr_error_set(err, NR_E_INTERNAL, "failed to hash '%s'", path);
            goto done;
        }
        if (n < NR_SHA256_CHUNK) {
            if (ferror(f)) {
                int saved = errno;
                st = nr_error_set(err, NR_E_INTERNAL, "failed to read '%s': %s", path,
                                  saved != 0 ? strerror(saved) : "read error");
                goto done;
            }
            break; /* end of file */
        }
    }
    if (EVP_DigestFinal_ex(ctx, digest, &digest_len) != 1 || digest_len != 32) {
        st = nr_error_set(err, NR_E_INTERNAL, "failed to finalise SHA-256 of '%s'", path);
        goto done;
    }
    for (unsigned int i = 0; i < digest_len; i++) {
        out_hex[2 * i] = hex[digest[i] >> 4];
        out_hex[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out_hex[64] = '\0';
done:
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(buf);
    if (f != NULL)
        fclose(f);
    return st;
}
