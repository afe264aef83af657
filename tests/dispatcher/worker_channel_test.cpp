#include <doctest/doctest.h>

#include <unistd.h>

#include <optional>
#include <string>

#include "jobs/dispatcher/worker_channel.h"
#include "jobs/dispatcher/worker_protocol.h"

using namespace jobs::dispatcher;

namespace {

// A pipe's two ends, closed on destruction.
struct Pipe {
    Pipe() { REQUIRE(::pipe(fds) == 0); }
    ~Pipe() {
        close_write();
        ::close(fds[0]);
    }
    void close_write() {
        if (fds[1] >= 0) ::close(fds[1]);
        fds[1] = -1;
    }
    void write_text(const std::string& text) const {
        REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    }
    std::string read_text() const {
        char buffer[4096];
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
    }
    int fds[2] = {-1, -1};
};

}  // namespace

TEST_CASE("a worker channel announces READY, reads requests, and sends queued replies together") {
    Pipe requests;
    Pipe replies;
    WorkerChannel channel(requests.fds[0], replies.fds[1]);
    REQUIRE(channel.announce_ready("test", {Capability::Fences}));
    CHECK(replies.read_text() == "READY\t1\ttest\tfences\n");

    requests.write_text(format_request({7, 1, "a\nb", {}, {}}) + "nonsense\n" +
                        format_request({8, 1, {}, {}, {}}));
    std::optional<TaskRequest> request;
    REQUIRE(channel.next(request) == WorkerChannel::Next::Request);
    REQUIRE(request.has_value());
    CHECK(request->job_id == 7);
    CHECK(request->payload == "a\nb");
    channel.queue({ReplyKind::Ok, 7, "x"});
    REQUIRE(channel.next(request) == WorkerChannel::Next::Request);
    CHECK_FALSE(request.has_value());  // a malformed line
    channel.queue({ReplyKind::Failed, 0, "malformed request"});
    REQUIRE(channel.next(request) == WorkerChannel::Next::Request);
    CHECK(request->job_id == 8);
    channel.queue({ReplyKind::Done, 8, {}});
    // Nothing more to read: the queued replies leave, in one write, before the wait.
    CHECK(channel.next(request, 0) == WorkerChannel::Next::Idle);
    CHECK(replies.read_text() == "OK\t7\tx\nFAIL\t0\tmalformed request\nDONE\t8\t\n");
    requests.close_write();
    CHECK(channel.next(request) == WorkerChannel::Next::End);
}
