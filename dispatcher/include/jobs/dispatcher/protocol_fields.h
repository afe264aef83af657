#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jobs::dispatcher {

// The worker protocol's fields (worker_protocol.h) may hold any bytes: backslash, tab, CR and
// LF are escaped as \\ \t \r \n, so a field never splits a line or another field.
std::string escape_field(std::string_view text);
std::string unescape_field(std::string_view text);

// Splits a line (without its '\n') on tabs; empty fields are kept.
std::vector<std::string_view> split_fields(std::string_view line);

}  // namespace jobs::dispatcher
