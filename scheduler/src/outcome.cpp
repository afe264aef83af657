#include "jobs/scheduler/outcome.h"

#include "jobs/dispatcher/worker_protocol.h"
#include "jobs/repo/jobs_repo.h"

namespace jobs::scheduler {

Outcome classify(repo::JobId id, const dispatcher::CallResult& result) {
    switch (result.status) {
        case dispatcher::CallStatus::Replied:
            break;
        case dispatcher::CallStatus::ChildDied:
            return {Outcome::Kind::Interrupted, result.detail};
        case dispatcher::CallStatus::TimedOut:
            return {Outcome::Kind::Failed, result.detail};
        case dispatcher::CallStatus::StartFailed:
        case dispatcher::CallStatus::Stopped:
            return {Outcome::Kind::NotDelivered, result.detail};
    }
    const auto reply = dispatcher::parse_reply(result.reply);
    if (!reply || reply->job_id != id) {
        return {Outcome::Kind::Failed,
                "worker replied with garbage: " + result.reply.substr(0, 200)};
    }
    switch (reply->kind) {
        case dispatcher::ReplyKind::Done:
            return {Outcome::Kind::RecordedByWorker, {}};
        case dispatcher::ReplyKind::Ok:
            return {Outcome::Kind::Completed, reply->text};
        case dispatcher::ReplyKind::Failed:
            return {Outcome::Kind::Failed, reply->text};
        case dispatcher::ReplyKind::Skipped:
            return {Outcome::Kind::NotStarted, reply->text};
    }
    return {Outcome::Kind::Failed, "worker reply of an unknown kind"};
}

std::optional<std::string> refusal(const repo::Job& job) {
    if (!job.payload || job.payload->size() <= repo::kMaxPayloadBytes) return std::nullopt;
    return "payload of " + std::to_string(job.payload->size()) + " bytes exceeds the " +
           std::to_string(repo::kMaxPayloadBytes) + " byte limit; not run";
}

}  // namespace jobs::scheduler
