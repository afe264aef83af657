#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace jobs::repo {

// The kinds of WorkerLogs rows: every statement an instance sends writes one (SPEC section 2).
enum class Action {
    QueryList,
    QueryJob,
    QueryLast,
    AcquireSuccess,
    AcquireFailure,
    Start,
    StartFailure,
    Complete,
    Error,
    Failed,
    Interrupted,
    Leave,
    Renew,
    Held,
    Release,
    Connect,
    Create,
};

struct ActionInfo {
    Action action;
    std::string_view name;  // as stored in WorkerLogs.Action
    long long weight;       // its cost in COST_SCORE
    std::string_view meaning;
};

// The one table of actions. Weights follow SPEC section 5: the exercise's three, and for the
// kinds it lacked those of the nearest kind (a read of many rows 100, a write that can fail or
// that is not a job's own lock or completion 10, a read of one row 1). scripts/check_report.py
// and scripts/check_actions.py read these rows, and the README's table must match them: keep one
// row a line, in enum order.
// clang-format off
inline constexpr std::array kActions = {
    ActionInfo{Action::QueryList, "QUERYLIST", 100, "a list of the due jobs and of the recent lists"},
    ActionInfo{Action::QueryJob, "QUERYJOB", 1, "a read of one job"},
    ActionInfo{Action::QueryLast, "QUERYLAST", 1, "a one-row look at when the cluster last listed"},
    ActionInfo{Action::AcquireSuccess, "ACQUIRE_SUCCESS", 0, "a lock won: the job's own lock"},
    ActionInfo{Action::AcquireFailure, "ACQUIRE_FAILURE", 10, "a lock lost"},
    ActionInfo{Action::Start, "START", 0, "the fencing half of a lock, won"},
    ActionInfo{Action::StartFailure, "START_FAILURE", 10, "the fencing half of a lock, lost"},
    ActionInfo{Action::Complete, "COMPLETE", 0, "a job's own completion"},
    ActionInfo{Action::Error, "ERROR", 10, "a completion refused: the caller did not hold the lock"},
    ActionInfo{Action::Failed, "FAILED", 10, "a job ended as failed (state 3)"},
    ActionInfo{Action::Interrupted, "INTERRUPTED", 10, "a job ended as interrupted (state 4)"},
    ActionInfo{Action::Leave, "LEAVE", 10, "an instance announcing that it stops"},
    ActionInfo{Action::Renew, "RENEW", 10, "a running task's run lease renewed: the heartbeat"},
    ActionInfo{Action::Held, "HELD", 10, "a write skipped: another transaction holds the job's row"},
    ActionInfo{Action::Release, "RELEASE", 10, "a job whose task never began made free again"},
    ActionInfo{Action::Connect, "CONNECT", 1, "an instance's or worker's start-up schema check"},
    ActionInfo{Action::Create, "CREATE", 0, "a job inserted (by the harness, free as in the exercise)"},
};
// clang-format on

namespace detail {

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < kActions.size(); ++i) {
        if (static_cast<std::size_t>(kActions[i].action) != i) return false;
    }
    return true;
}

// Names are formatted into SQL as literals: only capitals and underscores, and no two alike.
constexpr bool names_plain_and_unique() {
    for (std::size_t i = 0; i < kActions.size(); ++i) {
        if (kActions[i].name.empty()) return false;
        for (const char c : kActions[i].name) {
            if (!((c >= 'A' && c <= 'Z') || c == '_')) return false;
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (kActions[j].name == kActions[i].name) return false;
        }
    }
    return true;
}

static_assert(table_in_enum_order(), "kActions must list every Action once, in enum order");
static_assert(names_plain_and_unique(), "action names must be unique [A-Z_]+");

}  // namespace detail

constexpr const ActionInfo& action_info(Action action) {
    return kActions[static_cast<std::size_t>(action)];
}

constexpr std::string_view action_name(Action action) { return action_info(action).name; }

constexpr long long action_weight(Action action) { return action_info(action).weight; }

constexpr std::optional<Action> parse_action(std::string_view name) {
    for (const auto& info : kActions) {
        if (info.name == name) return info.action;
    }
    return std::nullopt;
}

// The weight of a name read from WorkerLogs. A name this table lacks (a row written by hand)
// weighs nothing, and is still listed in the report.
constexpr long long action_weight(std::string_view name) {
    const auto action = parse_action(name);
    if (!action) return 0;
    return action_weight(*action);
}

}  // namespace jobs::repo
