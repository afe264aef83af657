#pragma once

#include <optional>
#include <string>

#include "jobs/dispatcher/process_pool.h"
#include "jobs/repo/types.h"

namespace jobs::scheduler {

// What became of a task handed to a worker, from the worker's reply alone.
struct Outcome {
    enum class Kind {
        Completed,         // ran well: the instance records the completion (with `text`)
        RecordedByWorker,  // ran well, and the worker recorded the completion itself
        Failed,            // ran and failed, or timed out
        Interrupted,       // its worker died mid-task: it may have run, and is never rerun
        NotStarted,        // the worker's fencing start lost the lock: nothing to record
        NotDelivered,      // no worker received the request: the task never began
    };
    Kind kind = Kind::Failed;
    std::string text;  // the result (Completed) or the reason
};

// Pure: the same reply always gives the same outcome. A reply naming another job, or not in
// the protocol, is a failure of the worker.
Outcome classify(repo::JobId id, const dispatcher::CallResult& result);

// Why a job must not be handed to a worker at all, or nothing: a payload over the documented
// limit is refused, never cut.
std::optional<std::string> refusal(const repo::Job& job);

}  // namespace jobs::scheduler
