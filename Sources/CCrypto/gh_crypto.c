#include "gh_crypto.h"
#include <openssl/evp.h>

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
