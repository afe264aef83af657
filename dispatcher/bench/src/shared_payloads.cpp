#include "jobs/dispatcher/bench/shared_payloads.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <system_error>
#include <utility>

#include "jobs/common/mutex_lock.h"

namespace jobs::dispatcher::bench {
namespace {

// Blocks start on cache lines, so two children never share one.
constexpr std::size_t kAlign = 64;

std::size_t rounded(std::size_t size) {
    return (std::max<std::size_t>(size, 1) + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

SharedPayloads::Block::Block(Block&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), offset_(other.offset_), data_(other.data_) {}

SharedPayloads::Block& SharedPayloads::Block::operator=(Block&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        offset_ = other.offset_;
        data_ = other.data_;
    }
    return *this;
}

SharedPayloads::Block::~Block() { release(); }

void SharedPayloads::Block::release() {
    if (owner_ != nullptr) owner_->free(offset_, rounded(data_.size()));
    owner_ = nullptr;
}

SharedPayloads::SharedPayloads(std::size_t capacity) : capacity_(rounded(capacity)) {
    // Close-on-exec: only children that are handed it (ChildOptions::inherit_fds) get it.
    fd_ = memfd_create("jobs-payloads", MFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "memfd_create");
    if (ftruncate(fd_, static_cast<off_t>(capacity_)) != 0) {
        const int saved = errno;
        close(fd_);
        throw std::system_error(saved, std::generic_category(), "ftruncate shared payloads");
    }
    void* base = mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (base == MAP_FAILED) {
        const int saved = errno;
        close(fd_);
        throw std::system_error(saved, std::generic_category(), "mmap shared payloads");
    }
    base_ = static_cast<char*>(base);
    free_.emplace(0, capacity_);
}

SharedPayloads::~SharedPayloads() {
    munmap(base_, capacity_);
    close(fd_);
}

std::optional<SharedPayloads::Block> SharedPayloads::allocate(std::size_t size) {
    const std::size_t need = rounded(size);
    MutexLock lock(mutex_);
    // First fit: blocks are freed in about the order they were taken, so the front refills.
    for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->second < need) continue;
        const std::uint64_t offset = it->first;
        const std::size_t left = it->second - need;
        free_.erase(it);
        if (left > 0) free_.emplace(offset + need, left);
        return Block(this, offset, std::span<char>(base_ + offset, size));
    }
    return std::nullopt;
}

std::optional<SharedPayloads::Block> SharedPayloads::store(std::string_view payload) {
    auto block = allocate(payload.size());
    if (block && !payload.empty())
        std::memcpy(block->data().data(), payload.data(), payload.size());
    return block;
}

void SharedPayloads::free(std::uint64_t offset, std::size_t size) {
    MutexLock lock(mutex_);
    auto next = free_.lower_bound(offset);
    if (next != free_.end() && offset + size == next->first) {
        size += next->second;
        next = free_.erase(next);
    }
    if (next != free_.begin()) {
        const auto previous = std::prev(next);
        if (previous->first + previous->second == offset) {
            previous->second += size;
            return;
        }
    }
    free_.emplace_hint(next, offset, size);
}

std::size_t SharedPayloads::free_bytes() const {
    MutexLock lock(mutex_);
    std::size_t total = 0;
    for (const auto& [offset, size] : free_) total += size;
    return total;
}

std::string SharedPayloads::child_env() const { return "JOBS_PAYLOAD_FD=" + std::to_string(fd_); }

}  // namespace jobs::dispatcher::bench
