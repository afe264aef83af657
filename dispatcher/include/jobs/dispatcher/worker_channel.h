#pragma once

#include <unistd.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "jobs/dispatcher/worker_protocol.h"

namespace jobs::dispatcher {

// The worker's end of the protocol, so a C++ worker writes no line by hand: it announces READY,
// reads requests from stdin and answers on stdout. Replies given to queue() leave together, in
// one write, before the channel next waits for input: a worker that is sent several requests at
// once (pipelining) answers them in one batch. answer() sends at once.
class WorkerChannel {
  public:
    enum class Next {
        Request,  // `request` holds the next request, or nothing for a malformed line
        Idle,     // nothing came within the timeout
        End,      // end of input, or the parent stopped reading replies
    };

    explicit WorkerChannel(int in = STDIN_FILENO, int out = STDOUT_FILENO);

    // False when the parent is gone.
    bool announce_ready(std::string_view program, Capabilities capabilities = {});
    // Waits up to timeout_ms (-1: for ever) for the next line, sending queued replies first.
    Next next(std::optional<TaskRequest>& request, int timeout_ms = -1);
    void queue(const TaskReply& reply);
    // queue() and flush(); false when the parent is gone.
    bool answer(const TaskReply& reply);
    bool flush();

  private:
    bool write_all(std::string_view data);

    int in_;
    int out_;
    std::string input_;        // bytes read, not yet handled
    std::size_t used_ = 0;     // of input_, handled
    std::size_t scanned_ = 0;  // input_ has no '\n' between used_ and here: a 1 MB line is
                               // scanned once, however many reads it takes
    std::string output_;       // replies not yet written
    std::unique_ptr<char[]> chunk_;
};

}  // namespace jobs::dispatcher
