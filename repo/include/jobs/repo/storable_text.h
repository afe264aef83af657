#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jobs::repo {

// Text every backend stores as given: valid UTF-8 without NUL (PostgreSQL's text holds
// neither). A worker's result or error may be any bytes; what cannot be stored is replaced, not
// refused, so a task's outcome is never lost for its spelling.
struct StorableText {
    std::string text;
    std::size_t replaced = 0;  // bytes that became U+FFFD (a NUL, or not part of valid UTF-8)
};

// Each NUL, and each byte not part of a well-formed UTF-8 sequence (overlong forms, surrogates
// and code points past U+10FFFF included), becomes U+FFFD; the rest is kept byte for byte.
StorableText storable_text(std::string_view bytes);

}  // namespace jobs::repo
