#pragma once

#include <chrono>

namespace jobs::repo {

// The exercise's task: take one of 5 permits shared by the whole operating-system process,
// sleep 83 ms, give the permit back. Parallelism beyond 5 needs more processes.
inline constexpr int kTaskPermitsPerProcess = 5;
inline constexpr std::chrono::milliseconds kTaskLength{83};

void run_simulated_task();

}  // namespace jobs::repo
