// jobs-test-fake-worker: a stand-in for a pooled child, for the process pool's tests. It speaks
// the line protocol (READY, then one reply per RUN line) and misbehaves on request:
//   ok             replies "DONE <id>" at once
//   sleep MS       sleeps MS, then "DONE <id>"
//   crash          exits (status 3) on a request, without replying
//   crash-on ID    crashes on job ID only; "DONE <id>" otherwise
//   hang           never replies to a request
//   garbage        replies a line that is not the protocol
//   silent         never says READY
//   exit-at-start  exits (status 1) before saying anything
//   chatty         once idle for 200 ms after READY, writes an unsolicited line; "DONE" otherwise
//   pid [MS]       sleeps MS (default 0), then replies "OK <id> <its pid>"
//   echo           replies "OK <id> <payload>", reading a shared payload in place
// Every mode exits at the end of its input. A malformed request gets "FAIL 0 malformed request".
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "jobs/dispatcher/line_protocol.h"
#include "jobs/dispatcher/payload_view.h"

using namespace jobs::dispatcher;

namespace {

enum class Read { Line, Idle, End };

// Lines from stdin, read with raw system calls so poll() sees exactly what is buffered.
class LineReader {
  public:
    // Waits up to timeout_ms (-1: for ever) for a whole line.
    Read next(std::string& line, int timeout_ms) {
        for (;;) {
            if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
                line.assign(buffer_, 0, nl);
                buffer_.erase(0, nl + 1);
                return Read::Line;
            }
            pollfd pfd{STDIN_FILENO, POLLIN, 0};
            const int ready = poll(&pfd, 1, timeout_ms);
            if (ready < 0 && errno == EINTR) continue;
            if (ready == 0) return Read::Idle;
            char chunk[4096];
            const ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return Read::End;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

  private:
    std::string buffer_;
};

void put(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = write(STDOUT_FILENO, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) std::_Exit(4);  // the pool is gone
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void reply(ReplyKind kind, std::int64_t job_id, std::string text = {}) {
    put(format_reply(TaskReply{kind, job_id, std::move(text)}));
}

void sleep_ms(long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

[[noreturn]] void crash() { std::_Exit(3); }  // no reply, no cleanup: like a segfaulting task

long number_arg(int argc, char** argv, int index, long fallback) {
    return argc > index ? std::strtol(argv[index], nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "ok";
    if (mode == "exit-at-start") return 1;
    if (mode != "silent") put("READY\t" + std::string(kProtocolVersion) + "\tfake\n");

    const auto shared = PayloadView::from_env();
    LineReader input;
    std::string line;
    bool chatted = false;
    for (;;) {
        const int timeout = mode == "chatty" && !chatted ? 200 : -1;
        const Read got = input.next(line, timeout);
        if (got == Read::End) return 0;
        if (got == Read::Idle) {
            put("HELLO\tnobody asked\n");
            chatted = true;
            continue;
        }
        if (mode == "silent" || mode == "hang") continue;
        const auto request = parse_request(line);
        if (!request) {
            reply(ReplyKind::Failed, 0, "malformed request");
            continue;
        }
        const std::int64_t id = request->job_id;
        if (mode == "ok" || mode == "chatty") {
            reply(ReplyKind::Done, id);
        } else if (mode == "sleep") {
            sleep_ms(number_arg(argc, argv, 2, 0));
            reply(ReplyKind::Done, id);
        } else if (mode == "crash") {
            crash();
        } else if (mode == "crash-on") {
            if (id == number_arg(argc, argv, 2, -1)) crash();
            reply(ReplyKind::Done, id);
        } else if (mode == "garbage") {
            put("this is not the protocol\n");
        } else if (mode == "echo") {
            if (const auto data = request_payload(*request, shared)) {
                reply(ReplyKind::Ok, id, std::string(*data));
            } else {
                reply(ReplyKind::Failed, id, "shared payload out of reach");
            }
        } else if (mode == "pid") {
            sleep_ms(number_arg(argc, argv, 2, 0));
            reply(ReplyKind::Ok, id, std::to_string(getpid()));
        } else {
            std::fprintf(stderr, "jobs-test-fake-worker: unknown mode '%s'\n", mode.c_str());
            return 2;
        }
    }
}
