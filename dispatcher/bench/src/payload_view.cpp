#include "jobs/dispatcher/bench/payload_view.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace jobs::dispatcher::bench {

std::optional<PayloadView> PayloadView::from_env() {
    const char* text = std::getenv("JOBS_PAYLOAD_FD");
    if (text == nullptr) return std::nullopt;
    int fd = -1;
    const auto end = text + std::strlen(text);
    if (std::from_chars(text, end, fd).ptr != end || fd < 0) {
        throw std::invalid_argument(std::string("JOBS_PAYLOAD_FD is not a descriptor: ") + text);
    }
    return PayloadView(fd);
}

PayloadView::PayloadView(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0)
        throw std::system_error(errno, std::generic_category(), "fstat JOBS_PAYLOAD_FD");
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;
    void* base = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        throw std::system_error(errno, std::generic_category(), "mmap JOBS_PAYLOAD_FD");
    base_ = static_cast<const char*>(base);
}

PayloadView::PayloadView(PayloadView&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PayloadView::~PayloadView() {
    if (base_ != nullptr) munmap(const_cast<char*>(base_), size_);
}

std::optional<std::string_view> PayloadView::at(SharedRef ref) const {
    if (ref.offset > size_ || ref.length > size_ - ref.offset) return std::nullopt;
    return std::string_view(base_ + ref.offset, ref.length);
}

}  // namespace jobs::dispatcher::bench

namespace jobs::dispatcher::bench {

std::optional<std::string_view> request_payload(const TaskRequest& request,
                                                const std::optional<PayloadView>& shared) {
    if (!request.shared_payload) {
        // Not a ?: with "": that would make a temporary std::string and a dangling view.
        return request.payload ? std::string_view(*request.payload) : std::string_view();
    }
    if (!shared) return std::nullopt;
    return shared->at(*request.shared_payload);
}

}  // namespace jobs::dispatcher::bench
