#include "jobs/repo/storable_text.h"

namespace jobs::repo {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the well-formed sequence at `s[i]`, or 0 (RFC 3629, table 3-7 of Unicode).
std::size_t sequence_at(std::string_view s, std::size_t i) {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = at(0);
    if (c >= 0x01 && c <= 0x7F) return 1;
    const std::size_t left = s.size() - i;
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && continuation(at(1)) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !continuation(at(1)) || !continuation(at(2))) return 0;
        if (c == 0xE0 && at(1) < 0xA0) return 0;  // overlong
        if (c == 0xED && at(1) > 0x9F) return 0;  // a surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !continuation(at(1)) || !continuation(at(2)) || !continuation(at(3)))
            return 0;
        if (c == 0xF0 && at(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && at(1) > 0x8F) return 0;  // past U+10FFFF
        return 4;
    }
    return 0;  // NUL, a stray continuation byte, 0xC0, 0xC1 or 0xF5..0xFF
}

}  // namespace

StorableText storable_text(std::string_view bytes) {
    StorableText out;
    out.text.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
        const std::size_t n = sequence_at(bytes, i);
        if (n == 0) {
            out.text += kReplacement;
            ++out.replaced;
            ++i;
            continue;
        }
        out.text.append(bytes.substr(i, n));
        i += n;
    }
    return out;
}

}  // namespace jobs::repo
