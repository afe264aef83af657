#pragma once

#include "jobs/repo/exercise.h"

namespace jobs::repo {

// The exercise's task: take one of kTaskPermitsPerProcess permits shared by the whole
// operating-system process, sleep kTaskLength, give the permit back. Parallelism beyond the
// permits needs more processes.

void run_simulated_task();

}  // namespace jobs::repo
