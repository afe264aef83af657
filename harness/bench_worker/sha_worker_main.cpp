// jobs-sha-worker: the pool benchmark's child. Answers each RUN request with the SHA-512 of its
// payload ("OK <id> <hex>"), speaking the worker protocol of dispatcher/README.md through a
// WorkerChannel. Replies to requests that arrived together (pipelined) leave together, in one
// write. A payload in the parent's shared memory ("&<off>+<len>", JOBS_PAYLOAD_FD) is hashed
// where it lies. A plain worker: it declares no capability and has no database.
#include <optional>

#include "jobs/dispatcher/bench/payload_view.h"
#include "jobs/dispatcher/worker_channel.h"
#include "jobs/dispatcher/worker_protocol.h"
#include "jobs/harness/sha512.h"

namespace {

using jobs::dispatcher::ReplyKind;
using jobs::dispatcher::TaskReply;
using jobs::dispatcher::TaskRequest;
using jobs::dispatcher::bench::PayloadView;

TaskReply answer(const std::optional<TaskRequest>& request,
                 const std::optional<PayloadView>& shared) {
    if (!request) return {ReplyKind::Failed, 0, "malformed request"};
    const auto data = jobs::dispatcher::bench::request_payload(*request, shared);
    if (!data) return {ReplyKind::Failed, request->job_id, "shared payload out of reach"};
    return {ReplyKind::Ok, request->job_id, jobs::harness::sha512_hex(*data)};
}

}  // namespace

int main() {
    const auto shared = PayloadView::from_env();
    jobs::dispatcher::WorkerChannel channel;
    if (!channel.announce_ready("jobs-sha-worker")) return 1;
    std::optional<TaskRequest> request;
    // Queued replies are sent when no whole request is left to answer.
    while (channel.next(request) == jobs::dispatcher::WorkerChannel::Next::Request)
        channel.queue(answer(request, shared));
    return 0;
}
