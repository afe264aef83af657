#include "jobs/dispatcher/worker_channel.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "jobs/common/mutex_lock.h"

namespace jobs::dispatcher {
namespace {

// Large reads: a 1 MB payload arrives in a few of them.
constexpr std::size_t kChunkBytes = 256 * 1024;

}  // namespace

WorkerChannel::WorkerChannel(int in, int out)
    : in_(in), out_(out), chunk_(std::make_unique<char[]>(kChunkBytes)) {}

bool WorkerChannel::announce_ready(std::string_view program, Capabilities capabilities,
                                   std::size_t permits) {
    return write_all(format_ready({kProtocolVersion, std::string(program), capabilities, permits}));
}

WorkerChannel::Next WorkerChannel::next(std::optional<TaskRequest>& request, int timeout_ms) {
    for (;;) {
        const auto nl = input_.find('\n', std::max(used_, scanned_));
        if (nl != std::string::npos) {
            request = parse_request(std::string_view(input_).substr(used_, nl - used_));
            used_ = nl + 1;
            return Next::Request;
        }
        // No whole request left: send what is answered, then wait for more.
        if (!flush()) return Next::End;
        input_.erase(0, used_);
        used_ = 0;
        scanned_ = input_.size();
        if (timeout_ms >= 0) {
            pollfd pfd{in_, POLLIN, 0};
            const int ready = poll(&pfd, 1, timeout_ms);
            if (ready < 0 && errno == EINTR) continue;
            if (ready == 0) return Next::Idle;
        }
        const ssize_t n = ::read(in_, chunk_.get(), kChunkBytes);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Next::End;
        input_.append(chunk_.get(), static_cast<std::size_t>(n));
    }
}

void WorkerChannel::queue(const TaskReply& reply) {
    MutexLock lock(output_mutex_);
    output_ += format_reply(reply);
}

bool WorkerChannel::answer(const TaskReply& reply) {
    MutexLock lock(output_mutex_);
    output_ += format_reply(reply);
    return flush_locked();
}

bool WorkerChannel::flush() {
    MutexLock lock(output_mutex_);
    return flush_locked();
}

bool WorkerChannel::flush_locked() {
    if (output_.empty()) return true;
    const bool written = write_all(output_);
    output_.clear();
    return written;
}

bool WorkerChannel::write_all(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(out_, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace jobs::dispatcher
