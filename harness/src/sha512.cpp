#include "jobs/harness/sha512.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace jobs::harness {

std::string sha512_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha512(), nullptr) != 1) {
        throw std::runtime_error("SHA-512 failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex(2 * length, '0');
    for (unsigned int i = 0; i < length; ++i) {
        hex[2 * i] = kHex[digest[i] >> 4];
        hex[2 * i + 1] = kHex[digest[i] & 15];
    }
    return hex;
}

}  // namespace jobs::harness
