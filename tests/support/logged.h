#pragma once

#include <map>
#include <string>

#include "jobs/repo/action.h"

namespace jobs::test {

// How many WorkerLogs rows of `action` a statistics or report map holds; throws, as map::at
// does, when there is none.
inline long long logged(const std::map<std::string, long long>& actions, repo::Action action) {
    return actions.at(std::string(repo::action_name(action)));
}

// The action's name as an SQL string literal, for tests that query WorkerLogs themselves.
inline std::string quoted(repo::Action action) {
    return "'" + std::string(repo::action_name(action)) + "'";
}

}  // namespace jobs::test
