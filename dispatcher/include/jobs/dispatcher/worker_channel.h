#pragma once

#include <unistd.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/dispatcher/worker_protocol.h"

namespace jobs::dispatcher {

// The worker's end of the protocol, so a C++ worker writes no line by hand: it announces READY,
// reads requests from stdin and answers on stdout. Replies given to queue() leave together, in
// one write, before the channel next waits for input: a worker that is sent several requests at
// once (pipelining) answers them in one batch. answer() sends at once, and may be called from
// any thread: a worker that serves several permits answers from the thread of each task while
// one thread reads requests.
class WorkerChannel {
  public:
    enum class Next {
        Request,  // `request` holds the next request, or nothing for a malformed line
        Idle,     // nothing came within the timeout
        End,      // end of input, or the parent stopped reading replies
    };

    explicit WorkerChannel(int in = STDIN_FILENO, int out = STDOUT_FILENO);

    // False when the parent is gone.
    bool announce_ready(std::string_view program, Capabilities capabilities = {},
                        std::size_t permits = kDefaultPermits);
    // Waits up to timeout_ms (-1: for ever) for the next line, sending queued replies first.
    Next next(std::optional<TaskRequest>& request, int timeout_ms = -1);
    void queue(const TaskReply& reply) EXCLUDES(output_mutex_);
    // queue() and flush(); false when the parent is gone.
    bool answer(const TaskReply& reply) EXCLUDES(output_mutex_);
    bool flush() EXCLUDES(output_mutex_);

  private:
    bool flush_locked() REQUIRES(output_mutex_);
    bool write_all(std::string_view data);

    int in_;
    int out_;
    std::string input_;        // bytes read, not yet handled
    std::size_t used_ = 0;     // of input_, handled
    std::size_t scanned_ = 0;  // input_ has no '\n' between used_ and here: a 1 MB line is
                               // scanned once, however many reads it takes
    Mutex output_mutex_;
    std::string output_ GUARDED_BY(output_mutex_);  // replies not yet written
    std::unique_ptr<char[]> chunk_;
};

}  // namespace jobs::dispatcher
