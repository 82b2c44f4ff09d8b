#include "gh_crypto.h"
#include <openssl/evp.h>

int gh_sha256(const void *data, size_t length, uint8_t digest[32]) {
    unsigned int written = 0;
    if (EVP_Digest(data, length, digest, &written, EVP_sha256(), NULL) != 1) return 0;
    return written == 32;
}
