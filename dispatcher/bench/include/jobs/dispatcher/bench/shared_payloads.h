#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/dispatcher/worker_protocol.h"

namespace jobs::dispatcher::bench {

// Shared memory for large payloads: a 1 MB payload written into a pooled child's socket costs
// two kernel copies and a scan, about a third of hashing it. The parent writes it here once
// (or builds it here in the first place) and the request line carries its place, "&<off>+<len>";
// the child reads it in place through a PayloadView. Children inherit the descriptor: put fd()
// in ChildOptions::inherit_fds and child_env() in ChildOptions::extra_env.
class SharedPayloads {
  public:
    // A block of the region, returned to it when destroyed. Keep it until the reply is in.
    class Block {
      public:
        Block() = default;
        Block(Block&& other) noexcept;
        Block& operator=(Block&& other) noexcept;
        Block(const Block&) = delete;
        Block& operator=(const Block&) = delete;
        ~Block();

        std::span<char> data() const { return data_; }
        SharedRef ref() const { return {offset_, data_.size()}; }

      private:
        friend class SharedPayloads;
        Block(SharedPayloads* owner, std::uint64_t offset, std::span<char> data)
            : owner_(owner), offset_(offset), data_(data) {}
        void release();

        SharedPayloads* owner_ = nullptr;
        std::uint64_t offset_ = 0;
        std::span<char> data_;
    };

    // Throws std::system_error when the region cannot be created.
    explicit SharedPayloads(std::size_t capacity);
    ~SharedPayloads();
    SharedPayloads(const SharedPayloads&) = delete;
    SharedPayloads& operator=(const SharedPayloads&) = delete;

    // A block of `size` bytes, or nothing while the region is too full: send the payload
    // inline then. Thread-safe.
    std::optional<Block> allocate(std::size_t size) EXCLUDES(mutex_);
    // allocate() and a copy of `payload` into the block.
    std::optional<Block> store(std::string_view payload);

    int fd() const { return fd_; }
    std::string child_env() const;  // "JOBS_PAYLOAD_FD=<fd>"
    std::size_t capacity() const { return capacity_; }
    std::size_t free_bytes() const EXCLUDES(mutex_);

  private:
    void free(std::uint64_t offset, std::size_t size) EXCLUDES(mutex_);

    int fd_ = -1;
    char* base_ = nullptr;
    std::size_t capacity_ = 0;
    mutable Mutex mutex_;
    std::map<std::uint64_t, std::size_t> free_
        GUARDED_BY(mutex_);  // offset -> size, never two adjacent
};

}  // namespace jobs::dispatcher::bench
