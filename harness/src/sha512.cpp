#include "jobs/harness/sha512.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace jobs::harness {
namespace {

// OpenSSL 3 looks the algorithm up on every EVP_sha512() digest; at 1 KB that lookup costs as
// much as the hashing. Fetch it once, and keep one context per thread.
struct Md {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA512", nullptr);
    ~Md() { EVP_MD_free(md); }
};

struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::string sha512_hex(std::string_view data) {
    static const Md md;
    thread_local Ctx ctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (md.md == nullptr || ctx.ctx == nullptr || EVP_DigestInit_ex(ctx.ctx, md.md, nullptr) != 1 ||
        EVP_DigestUpdate(ctx.ctx, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.ctx, digest, &length) != 1) {
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
