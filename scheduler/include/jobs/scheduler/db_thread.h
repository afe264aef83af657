#pragma once

#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "jobs/repo/job_store.h"
#include "jobs/scheduler/db_lane.h"

namespace jobs::scheduler {

// A lane with a thread of its own that owns one store (a SOCI session is not thread-safe).
class DbThread final : public DbLane {
  public:
    explicit DbThread(std::unique_ptr<repo::JobStore> store);
    ~DbThread() override;
    DbThread(const DbThread&) = delete;
    DbThread& operator=(const DbThread&) = delete;

    void post(std::function<void(repo::JobStore&)> work) override;
    void finish() override;

  private:
    std::unique_ptr<repo::JobStore> store_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;  // last: joined before the session it uses is closed
};

}  // namespace jobs::scheduler
