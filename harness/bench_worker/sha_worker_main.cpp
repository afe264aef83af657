// jobs-sha-worker: the pool benchmark's child. Answers each RUN request with the SHA-512 of its
// payload ("OK <id> <hex>"), speaking the worker protocol of dispatcher/README.md. Replies to
// requests that arrived together (pipelined) leave together, in one write. A payload in the
// parent's shared memory ("&<off>+<len>", JOBS_PAYLOAD_FD) is hashed where it lies.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <string_view>

#include "jobs/dispatcher/line_protocol.h"
#include "jobs/dispatcher/payload_view.h"
#include "jobs/harness/sha512.h"

namespace {

bool write_all(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

jobs::dispatcher::TaskReply answer(const std::optional<jobs::dispatcher::TaskRequest>& request,
                                   const std::optional<jobs::dispatcher::PayloadView>& shared) {
    using jobs::dispatcher::ReplyKind;
    if (!request) return {ReplyKind::Failed, 0, "malformed request"};
    const auto data = jobs::dispatcher::request_payload(*request, shared);
    if (!data) return {ReplyKind::Failed, request->job_id, "shared payload out of reach"};
    return {ReplyKind::Ok, request->job_id, jobs::harness::sha512_hex(*data)};
}

}  // namespace

int main() {
    const auto shared = jobs::dispatcher::PayloadView::from_env();
    if (!write_all("READY\t1\tjobs-sha-worker\n")) return 1;
    std::string in;        // bytes read, not yet handled
    std::size_t used = 0;  // of `in`, handled
    std::size_t scanned =
        0;            // `in` has no '\n' between `used` and here: a 1 MB line is scanned once
    std::string out;  // replies not yet written
    char chunk[256 * 1024];
    for (;;) {
        const auto nl = in.find('\n', std::max(used, scanned));
        if (nl == std::string::npos) {
            // No whole request left: send what is answered, then wait for more.
            if (!out.empty() && !write_all(out)) return 1;
            out.clear();
            in.erase(0, used);
            used = 0;
            scanned = in.size();
            const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return 0;
            in.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        const auto request =
            jobs::dispatcher::parse_request(std::string_view(in).substr(used, nl - used));
        used = nl + 1;
        out += jobs::dispatcher::format_reply(answer(request, shared));
    }
}
