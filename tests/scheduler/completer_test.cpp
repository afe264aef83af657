// Batched completions (completer.h) over a real DbThread.
#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "jobs/repo/error.h"
#include "jobs/scheduler/completer.h"
#include "jobs/scheduler/db_thread.h"

using namespace jobs;
using namespace jobs::scheduler;

namespace {

// Records the batches it is given; the first one says it arrived, then waits until the test
// lets it go.
class BatchRecorder final : public repo::JobStore {
  public:
    BatchRecorder(std::promise<void>& arrived, std::shared_future<void> go)
        : arrived_(arrived), go_(std::move(go)) {}

    const std::string& client_id() const noexcept override { return id_; }
    repo::CompletionOutcome complete_locked_jobs(
        const std::vector<repo::Completion>& batch) override {
        if (!announced_) {
            announced_ = true;
            arrived_.set_value();
        }
        go_.wait();
        std::lock_guard lock(mutex);
        for (const auto& c : batch) {
            if (c.id == refused_id) {
                throw repo::RepoError(repo::ErrorKind::Database, "a row the database refuses");
            }
        }
        batches.push_back(batch.size());
        repo::CompletionOutcome outcome;
        for (const auto& c : batch) {
            if (c.id == held_id && held_left > 0) {
                --held_left;
                outcome.held.push_back(c.id);
                continue;
            }
            ids.insert(c.id);
            ++total;
        }
        return outcome;
    }
    repo::ReadyJobs get_ready_jobs(std::chrono::milliseconds, std::chrono::milliseconds,
                                   std::size_t) override {
        throw std::logic_error("not a completer's call");
    }
    repo::ClusterPeek peek_lists() override { throw std::logic_error("not a completer's call"); }
    std::optional<repo::Job> get_job(repo::JobId) override {
        throw std::logic_error("not a completer's call");
    }
    std::vector<repo::Lock> acquire_job_locks(const std::vector<repo::JobId>&) override {
        throw std::logic_error("not a completer's call");
    }
    std::vector<repo::Renewal> renew_run_leases(const std::vector<repo::StartRequest>&) override {
        throw std::logic_error("not a completer's call");
    }
    repo::StartOutcome start_locked_jobs(const std::vector<repo::StartRequest>&) override {
        throw std::logic_error("not a completer's call");
    }
    void fail_locked_job(repo::JobId, repo::LockToken, repo::JobState,
                         const std::string&) override {
        throw std::logic_error("not a completer's call");
    }
    bool interrupt_lapsed_job(repo::JobId, repo::LockToken) override {
        throw std::logic_error("not a completer's call");
    }
    bool release_job(repo::JobId, repo::LockToken) override {
        throw std::logic_error("not a completer's call");
    }
    void leave() override { throw std::logic_error("not a completer's call"); }

    std::mutex mutex;
    std::vector<std::size_t> batches;
    std::set<repo::JobId> ids;
    std::size_t total = 0;
    repo::JobId refused_id = -1;  // a batch holding it fails as a whole
    repo::JobId held_id = -1;     // its row held by another transaction, held_left times
    int held_left = 0;

  private:
    std::promise<void>& arrived_;
    bool announced_ = false;  // the lane's thread alone calls complete_locked_jobs
    std::shared_future<void> go_;
    std::string id_ = "test";
};

}  // namespace

TEST_CASE(
    "completions that arrive while a batch is on its way go together in the next, and "
    "finish records every one" *
    doctest::timeout(20)) {
    std::promise<void> arrived;
    std::promise<void> go;
    auto store = std::make_unique<BatchRecorder>(arrived, go.get_future().share());
    BatchRecorder& recorder = *store;
    Completer completer(std::make_unique<DbThread>(std::move(store)));
    completer.add({1, 1, std::nullopt});  // the first batch, held on its way
    // Only once the lane holds it alone do the others arrive: they must wait for the next.
    arrived.get_future().wait();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 250; ++i) completer.add({2 + t * 250 + i, 1, std::nullopt});
        });
    }
    for (auto& thread : threads) thread.join();
    go.set_value();
    completer.finish();
    CHECK(recorder.total == 1'001);
    CHECK(recorder.ids.size() == 1'001);
    // One, then the 1,000 that waited, at most 256 a statement.
    CHECK(recorder.batches == std::vector<std::size_t>{1, 256, 256, 256, 232});
    completer.add({5'000, 1, std::nullopt});  // after finish: dropped, not recorded
    CHECK(recorder.total == 1'001);
}

TEST_CASE(
    "a batch the database refuses is recorded one completion at a time: one bad row loses only "
    "itself" *
    doctest::timeout(20)) {
    std::promise<void> arrived;
    std::promise<void> go;
    auto store = std::make_unique<BatchRecorder>(arrived, go.get_future().share());
    BatchRecorder& recorder = *store;
    recorder.refused_id = 7;
    Completer completer(std::make_unique<DbThread>(std::move(store)));
    completer.add({1, 1, std::nullopt});
    arrived.get_future().wait();
    for (int i = 2; i <= 10; ++i) completer.add({i, 1, std::nullopt});
    go.set_value();
    completer.finish();
    // 1 alone, then 2..10 refused together, then each of them alone: all but 7 recorded.
    CHECK(recorder.ids == std::set<repo::JobId>{1, 2, 3, 4, 5, 6, 8, 9, 10});
    CHECK(recorder.batches == std::vector<std::size_t>{1, 1, 1, 1, 1, 1, 1, 1, 1});
}

TEST_CASE(
    "a completion whose row another transaction holds waits and goes again, with the "
    "completions that came meanwhile, until it is recorded" *
    doctest::timeout(20)) {
    std::promise<void> arrived;
    std::promise<void> go;
    auto store = std::make_unique<BatchRecorder>(arrived, go.get_future().share());
    BatchRecorder& recorder = *store;
    recorder.held_id = 3;
    recorder.held_left = 2;
    Completer completer(std::make_unique<DbThread>(std::move(store)));
    completer.add({1, 1, std::nullopt});
    arrived.get_future().wait();
    for (int i = 2; i <= 4; ++i) completer.add({i, 1, std::nullopt});
    go.set_value();
    completer.finish();
    CHECK(recorder.ids == std::set<repo::JobId>{1, 2, 3, 4});
    CHECK(recorder.total == 4);
    CHECK(recorder.held_left == 0);
    // 1; then 2..4 with 3 held; then 3 twice more, held once again, recorded the second time.
    CHECK(recorder.batches == std::vector<std::size_t>{1, 3, 1, 1});
}
