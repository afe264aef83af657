#include "jobs/repo/simulated_task.h"

#include <semaphore>
#include <thread>

namespace jobs::repo {

void run_simulated_task() {
    static std::counting_semaphore<kTaskPermitsPerProcess> permits{kTaskPermitsPerProcess};
    permits.acquire();
    std::this_thread::sleep_for(kTaskLength);
    permits.release();
}

}  // namespace jobs::repo
