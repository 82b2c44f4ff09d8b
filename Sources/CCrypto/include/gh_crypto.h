#ifndef GATEHOUSE_CRYPTO_H
#define GATEHOUSE_CRYPTO_H
// SHA-256 and Ed25519 verification through OpenSSL's libcrypto, which the kiosk already has in
// memory through libcurl: hashing a scanned token for the offline snapshot, and checking a signed
// code, cost no new library.
#include <stddef.h>
#include <stdint.h>

/// Writes the SHA-256 of `length` bytes at `data` to `digest` (32 bytes). Returns 1, or 0 on failure.
int gh_sha256(const void *data, size_t length, uint8_t digest[32]);

/// Whether `signature` (64 bytes) is an Ed25519 signature of `length` bytes at `message` by the
/// key `public_key` (32 bytes): 1 yes, 0 no (also for a key libcrypto refuses).
int gh_ed25519_verify(const uint8_t public_key[32], const void *message, size_t length, const uint8_t signature[64]);
/// Writes HMAC-SHA256 of `length` bytes at `data` under `key` to `mac` (32 bytes). Returns 1, or 0.
int gh_hmac_sha256(const uint8_t *key, size_t key_length, const void *data, size_t length, uint8_t mac[32]);
/// Whether two 32-byte values are equal, in time that does not depend on where they differ.
int gh_equal32(const uint8_t a[32], const uint8_t b[32]);
#endif
