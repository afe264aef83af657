// jobs-test-fake-worker: a stand-in for a pooled child, for the process pool's tests. It speaks
// the worker protocol (READY, then one reply per RUN line) and misbehaves on request:
//   ok               replies "DONE <id>" at once
//   sleep MS         sleeps MS, then "DONE <id>"
//   crash            exits (status 3) on a request, without replying
//   crash-on ID      crashes on job ID only; "DONE <id>" otherwise
//   hang             never replies to a request
//   garbage          replies a line that is not the protocol
//   silent           never says READY
//   exit-at-start    exits (status 1) before saying anything
//   chatty           once idle for 200 ms after READY, writes an unsolicited line; "DONE" otherwise
//   pid [MS]         sleeps MS (default 0), then replies "OK <id> <its pid>"
//   permits N MS [C] declares N permits and serves each request on a thread of its own: sleeps
//                    MS divided by the job id (later ids answer first), then replies
//                    "OK <id> <its pid>"; exits (status 3) when job C arrives
//   echo             replies "OK <id> <payload>", reading a shared payload in place
//   ready LINE       writes LINE as its first line instead of READY (another version, unknown
//                    capabilities, not READY at all), then replies like ok
//   ready-from FILE  the same with the first line of FILE, read at start (children of one pool
//                    can then announce different things)
//   env NAME         replies "OK <id> <the value of environment variable NAME, or (unset)>"
//   ready-after FILE exits (status 1) at start while FILE does not exist, like a worker that
//                    cannot start; once it does, replies "OK <id> <its pid>" at once
// Every mode exits at the end of its input. A malformed request gets "FAIL 0 malformed request".
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "jobs/dispatcher/bench/payload_view.h"
#include "jobs/dispatcher/worker_channel.h"
#include "jobs/dispatcher/worker_protocol.h"

using namespace jobs::dispatcher;

namespace {

// Bytes written as they are, for the misbehaviours the protocol module would not produce.
void put(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = write(STDOUT_FILENO, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) std::_Exit(4);  // the pool is gone
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void reply(WorkerChannel& channel, ReplyKind kind, std::int64_t job_id, std::string text = {}) {
    if (!channel.answer(TaskReply{kind, job_id, std::move(text)})) std::_Exit(4);
}

void sleep_ms(long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

[[noreturn]] void crash() { std::_Exit(3); }  // no reply, no cleanup: like a segfaulting task

long number_arg(int argc, char** argv, int index, long fallback) {
    return argc > index ? std::strtol(argv[index], nullptr, 10) : fallback;
}

std::string text_arg(int argc, char** argv, int index) { return argc > index ? argv[index] : ""; }

std::string first_line_of(const std::string& path) {
    std::ifstream file(path);
    std::string line;
    std::getline(file, line);
    return line;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "ok";
    if (mode == "exit-at-start") return 1;
    if (mode == "ready-after" && !std::filesystem::exists(text_arg(argc, argv, 2))) return 1;
    WorkerChannel channel;
    if (mode == "ready") {
        put(text_arg(argc, argv, 2) + '\n');
    } else if (mode == "ready-from") {
        put(first_line_of(text_arg(argc, argv, 2)) + '\n');
    } else if (mode == "permits") {
        if (!channel.announce_ready("fake", {},
                                    static_cast<std::size_t>(number_arg(argc, argv, 2, 1))))
            return 4;
    } else if (mode != "silent" && !channel.announce_ready("fake")) {
        return 4;
    }
    std::vector<std::thread> tasks;

    const auto shared = bench::PayloadView::from_env();
    std::optional<TaskRequest> request;
    bool chatted = false;
    for (;;) {
        const int timeout = mode == "chatty" && !chatted ? 200 : -1;
        const auto got = channel.next(request, timeout);
        if (got == WorkerChannel::Next::End) {
            for (auto& t : tasks) t.join();
            return 0;
        }
        if (got == WorkerChannel::Next::Idle) {
            put("HELLO\tnobody asked\n");
            chatted = true;
            continue;
        }
        if (mode == "silent" || mode == "hang") continue;
        if (!request) {
            reply(channel, ReplyKind::Failed, 0, "malformed request");
            continue;
        }
        const std::int64_t id = request->job_id;
        if (mode == "ok" || mode == "chatty" || mode == "ready" || mode == "ready-from") {
            reply(channel, ReplyKind::Done, id);
        } else if (mode == "sleep") {
            sleep_ms(number_arg(argc, argv, 2, 0));
            reply(channel, ReplyKind::Done, id);
        } else if (mode == "crash") {
            crash();
        } else if (mode == "crash-on") {
            if (id == number_arg(argc, argv, 2, -1)) crash();
            reply(channel, ReplyKind::Done, id);
        } else if (mode == "garbage") {
            put("this is not the protocol\n");
        } else if (mode == "echo") {
            if (const auto data = bench::request_payload(*request, shared)) {
                reply(channel, ReplyKind::Ok, id, std::string(*data));
            } else {
                reply(channel, ReplyKind::Failed, id, "shared payload out of reach");
            }
        } else if (mode == "permits") {
            if (id == number_arg(argc, argv, 4, -1)) crash();
            const long ms = number_arg(argc, argv, 3, 0) / std::max<std::int64_t>(id, 1);
            tasks.emplace_back([&channel, id, ms] {
                sleep_ms(ms);
                reply(channel, ReplyKind::Ok, id, std::to_string(getpid()));
            });
        } else if (mode == "env") {
            const char* value = std::getenv(text_arg(argc, argv, 2).c_str());
            reply(channel, ReplyKind::Ok, id, value != nullptr ? value : "(unset)");
        } else if (mode == "ready-after") {
            reply(channel, ReplyKind::Ok, id, std::to_string(getpid()));
        } else if (mode == "pid") {
            sleep_ms(number_arg(argc, argv, 2, 0));
            reply(channel, ReplyKind::Ok, id, std::to_string(getpid()));
        } else {
            std::fprintf(stderr, "jobs-test-fake-worker: unknown mode '%s'\n", mode.c_str());
            return 2;
        }
    }
}
