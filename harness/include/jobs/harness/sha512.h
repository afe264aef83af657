#pragma once

#include <string>
#include <string_view>

namespace jobs::harness {

// SHA-512 (OpenSSL) of `data`, as 128 lowercase hex digits.
std::string sha512_hex(std::string_view data);

}  // namespace jobs::harness
