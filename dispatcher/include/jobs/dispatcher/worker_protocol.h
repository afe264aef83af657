#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "jobs/dispatcher/protocol_fields.h"

namespace jobs::dispatcher {

// The pooled child's protocol: one request per line on its stdin, one reply per line on its
// stdout, fields separated by tabs (escaped as in protocol_fields.h). See dispatcher/README.md.
// A child that announces another version is refused: the version changes whenever a line
// changes meaning.
inline constexpr int kProtocolVersion = 1;

// What a worker does beyond answering requests, declared in its READY line. A plain worker
// declares nothing and never touches the database.
enum class Capability : std::uint8_t {
    // "fences": writes its own fencing START under its instance's ClientId before each task,
    // and records the completions of jobs it answered if its instance vanished (jobs-worker).
    // The instance then sends each request early, with a start time, and writes no START.
    Fences,
    // "timed": takes a request early, with the moment to begin ("@<ns>"), and begins the task
    // no sooner. The instance then writes the fencing START itself, in batches, one start lead
    // before RunAt, and the worker needs no database connection to start a task.
    Timed,
    // "orphans": records the completions of jobs it answered if its instance vanished
    // (jobs-worker). Implied by "fences".
    Orphans,
};

inline constexpr Capability kAllCapabilities[] = {Capability::Fences, Capability::Timed,
                                                  Capability::Orphans};

// How many requests a worker takes at once when its READY line does not say.
inline constexpr std::size_t kDefaultPermits = 1;
// The most a READY line may declare: the pool keeps a waiter per outstanding request.
inline constexpr std::size_t kMaxPermits = 64;

// A set of capabilities; empty for a plain worker.
class Capabilities {
  public:
    constexpr Capabilities() = default;
    constexpr Capabilities(std::initializer_list<Capability> capabilities) {
        for (const Capability c : capabilities) add(c);
    }

    constexpr void add(Capability capability) { bits_ |= bit(capability); }
    constexpr bool has(Capability capability) const { return (bits_ & bit(capability)) != 0; }
    constexpr bool empty() const { return bits_ == 0; }
    constexpr bool operator==(const Capabilities&) const = default;

  private:
    static constexpr std::uint32_t bit(Capability capability) {
        return std::uint32_t{1} << static_cast<unsigned>(capability);
    }

    std::uint32_t bits_ = 0;
};

std::string_view capability_name(Capability capability);
std::optional<Capability> capability_from_name(std::string_view name);
// The READY line's capability field: names joined by ',' ("" for none).
std::string format_capabilities(Capabilities capabilities);
// For messages: the names, or "none".
std::string describe(Capabilities capabilities);

// A worker's first line, once it is able to work.
struct Ready {
    int version = kProtocolVersion;
    std::string program;
    Capabilities capabilities;
    // Requests the worker serves at once: the pool sends up to this many before a reply, and
    // replies may come in any order (matched by job id).
    std::size_t permits = kDefaultPermits;
};

// "READY\t<version>\t<program>[\t<capabilities>[\t<permits>]]\n": the capabilities only when
// some are declared or permits follow, the permits only when not the default.
std::string format_ready(const Ready& ready);
// The announcement of a child this side can work with, or nothing, with `error` saying why:
// not a READY line, another protocol version (naming both), or a capability unknown here.
std::optional<Ready> parse_ready(std::string_view line, std::string& error);

// Where a payload lies in the parent's shared memory (dispatcher/bench: SharedPayloads).
struct SharedRef {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool operator==(const SharedRef&) const = default;
};

struct TaskRequest {
    std::int64_t job_id = 0;
    std::int64_t lock_token = 0;
    std::optional<std::string> payload;
    // Workers that fence only: the request comes a little early, so the fencing write is done
    // before RunAt; the task must not begin before this CLOCK_MONOTONIC time (ns). "@<ns>".
    std::optional<std::int64_t> not_before_ns;
    // Instead of `payload`: the payload is in shared memory. Field "&<offset>+<length>".
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

// "DONE|OK|FAIL|SKIP\t<id>\t<text>\n"
std::string format_reply(const TaskReply& reply);
std::optional<TaskReply> parse_reply(std::string_view line);

}  // namespace jobs::dispatcher
