#include "jobs/dispatcher/program_path.h"

#include <filesystem>

namespace jobs::dispatcher {

std::string sibling_program(const char* name) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(name) : (self.parent_path() / name).string();
}

}  // namespace jobs::dispatcher
