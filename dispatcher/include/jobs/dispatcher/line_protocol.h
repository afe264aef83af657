#pragma once

// Kept for scheduler/, which still includes it: the protocol lives in worker_protocol.h.
#include "jobs/dispatcher/worker_protocol.h"
