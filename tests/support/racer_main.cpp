// jobs-test-racer: a separate process for the repository tests' cross-process races.
//   jobs-test-racer lock URL CLIENT FIRST LAST THREADS START_MS   prints "W <id>" per win
//   jobs-test-racer process URL CLIENT FIRST LAST START_MS        prints the elapsed ms
// START_MS (epoch ms, host clock) lines the processes up so they really run together.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/simulated_task.h"
#include "test_db.h"

using namespace jobs::repo;

namespace {

void wait_until(long long start_ms) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point{std::chrono::milliseconds{start_ms}});
}

int race_locks(const std::string& url, const std::string& client, JobId first, JobId last,
               int threads, long long start_ms) {
    std::vector<std::unique_ptr<JobsRepo>> repos;
    for (int i = 0; i < threads; ++i) {
        repos.push_back(std::make_unique<JobsRepo>(RepoOptions{.url = url, .client_id = client}));
    }
    std::mutex out;
    std::vector<std::thread> workers;
    wait_until(start_ms);
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (JobId id = first; id <= last; ++id) {
                if (repos[t]->acquire_job_lock(id).outcome == LockOutcome::Won) {
                    std::lock_guard lock(out);
                    std::printf("W %lld\n", static_cast<long long>(id));
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    return 0;
}

int process_jobs(const std::string& url, const std::string& client, JobId first, JobId last,
                 long long start_ms) {
    std::vector<std::unique_ptr<JobsRepo>> repos;
    std::vector<LockToken> tokens;
    for (JobId id = first; id <= last; ++id) {
        repos.push_back(std::make_unique<JobsRepo>(RepoOptions{.url = url, .client_id = client}));
        const Lock lock = repos.back()->acquire_job_lock(id);
        if (lock.outcome != LockOutcome::Won) return 3;
        tokens.push_back(lock.token);
    }
    // Threads are ready before the start, so only the tasks (permits and 83 ms) are timed.
    // Timed from the first task's wake-up, not from this thread's: on a busy machine it may wake
    // late and miss part of the first round.
    std::vector<std::chrono::steady_clock::time_point> begins(repos.size());
    std::vector<std::chrono::steady_clock::time_point> ends(repos.size());
    std::vector<std::thread> workers;
    const auto start = std::chrono::system_clock::time_point{std::chrono::milliseconds{start_ms}};
    for (std::size_t i = 0; i < repos.size(); ++i) {
        workers.emplace_back([&, i] {
            std::this_thread::sleep_until(start);
            begins[i] = std::chrono::steady_clock::now();
            run_simulated_task();
            ends[i] = std::chrono::steady_clock::now();
        });
    }
    for (auto& w : workers) w.join();
    const auto begin = *std::min_element(begins.begin(), begins.end());
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        *std::max_element(ends.begin(), ends.end()) - begin);
    for (std::size_t i = 0; i < repos.size(); ++i)
        repos[i]->complete_locked_job(first + static_cast<JobId>(i), tokens[i]);
    std::printf("%lld\n", static_cast<long long>(elapsed.count()));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    jobs::test::pin_odbc_drivers();
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() == 7 && args[0] == "lock") {
            return race_locks(args[1], args[2], std::stoll(args[3]), std::stoll(args[4]),
                              std::stoi(args[5]), std::stoll(args[6]));
        }
        if (args.size() == 6 && args[0] == "process") {
            return process_jobs(args[1], args[2], std::stoll(args[3]), std::stoll(args[4]),
                                std::stoll(args[5]));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "jobs-test-racer: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "usage: jobs-test-racer lock|process ...\n");
    return 2;
}
