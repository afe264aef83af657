#pragma once

#include <string>

namespace jobs::dispatcher {

// The path of a program installed next to the running one (build/bin/...), or the bare name
// when /proc/self/exe cannot be read.
std::string sibling_program(const char* name);

}  // namespace jobs::dispatcher
