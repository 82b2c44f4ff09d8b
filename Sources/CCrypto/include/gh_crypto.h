#ifndef GATEHOUSE_CRYPTO_H
#define GATEHOUSE_CRYPTO_H
// SHA-256 through OpenSSL's libcrypto, which the kiosk already has in memory through libcurl:
// hashing a scanned token to look it up in the offline snapshot costs no new library.
#include <stddef.h>
#include <stdint.h>

/// Writes the SHA-256 of `length` bytes at `data` to `digest` (32 bytes). Returns 1, or 0 on failure.
int gh_sha256(const void *data, size_t length, uint8_t digest[32]);
#endif
