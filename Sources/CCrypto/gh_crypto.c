#include "gh_crypto.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int gh_sha256(const void *data, size_t length, uint8_t digest[32]) {
    unsigned int written = 0;
    if (EVP_Digest(data, length, digest, &written, EVP_sha256(), NULL) != 1) return 0;
    return written == 32;
}

int gh_ed25519_verify(const uint8_t public_key[32], const void *message, size_t length, const uint8_t signature[64]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, 32);
    if (key == NULL) return 0;
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    int ok = context != NULL
        && EVP_DigestVerifyInit(context, NULL, NULL, NULL, key) == 1
        && EVP_DigestVerify(context, signature, 64, message, length) == 1;
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(key);
    return ok;
}

int gh_hmac_sha256(const uint8_t *key, size_t key_length, const void *data, size_t length, uint8_t mac[32]) {
    unsigned int written = 0;
    if (HMAC(EVP_sha256(), key, (int)key_length, data, length, mac, &written) == NULL) return 0;
    return written == 32;
}

int gh_equal32(const uint8_t a[32], const uint8_t b[32]) {
    return CRYPTO_memcmp(a, b, 32) == 0;
}
