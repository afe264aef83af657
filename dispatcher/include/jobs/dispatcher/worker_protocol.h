#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs::dispatcher {

// The pooled child's protocol: one request per line on its stdin, one response per line on
// its stdout, fields separated by tabs. See dispatcher/README.md.
inline constexpr std::string_view kProtocolVersion = "1";

// Fields may hold any bytes: backslash, tab, CR and LF are escaped as \\ \t \r \n.
std::string escape_field(std::string_view text);
std::string unescape_field(std::string_view text);

// Splits a line (without its '\n') on tabs.
std::vector<std::string_view> split_fields(std::string_view line);

// Where a payload lies in the parent's SharedPayloads region.
struct SharedRef {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool operator==(const SharedRef&) const = default;
};

struct TaskRequest {
    std::int64_t job_id = 0;
    std::int64_t lock_token = 0;
    std::optional<std::string> payload;
    // jobs-worker only: the request comes a little early, so the fencing write is done before
    // RunAt; the task must not begin before this CLOCK_MONOTONIC time (ns). Field "@<ns>".
    std::optional<std::int64_t> not_before_ns;
    // Instead of `payload`: the payload is in shared memory (see shared_payloads.h). Field
    // "&<offset>+<length>".
    std::optional<SharedRef> shared_payload;
};

// "RUN\t<id>\t<token>\t[=<payload>|&<offset>+<length>][\t@<ns>]\n"
std::string format_request(const TaskRequest& request);
std::optional<TaskRequest> parse_request(std::string_view line);

enum class ReplyKind {
    Done,     // the worker ran the task and completed the job itself
    Ok,       // the task succeeded; the scheduler completes the job
    Failed,   // the task failed; the job is marked failed with the message
    Skipped,  // the task was not started (its lock was lost); the job stays for whoever holds it
};

struct TaskReply {
    ReplyKind kind = ReplyKind::Failed;
    std::int64_t job_id = 0;
    std::string text;  // result or error message
};

std::string format_reply(const TaskReply& reply);
std::optional<TaskReply> parse_reply(std::string_view line);

}  // namespace jobs::dispatcher
