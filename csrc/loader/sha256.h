/*
 * sha256.h -- SHA-256 of a file (OpenSSL libcrypto EVP), streamed in chunks.
 */
#ifndef NR_SHA256_H
#define NR_SHA256_H

#include "nr_error.h"

/* Hashes the whole file at path into out_hex (64 lowercase hex digits plus
 * NUL; the caller owns the buffer).  Read failures set NR_E_INTERNAL
 * "failed to read '<path>': <reason>". */
NemoRelayStatus nr_sha256_file_hex(const char *path, char out_hex[65], nr_error *err);

#endif /* NR_SHA256_H */
