#pragma once

#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "jobs/repo/jobs_repo.h"

namespace jobs::scheduler {

// A thread that owns one repository session (SOCI sessions are not thread-safe) and runs the
// database calls posted to it in order, so the timer thread never blocks on the database.
class DbThread {
  public:
    explicit DbThread(std::unique_ptr<repo::JobsRepo> repo);
    ~DbThread();
    DbThread(const DbThread&) = delete;
    DbThread& operator=(const DbThread&) = delete;

    void post(std::function<void(repo::JobsRepo&)> work);
    // Runs what is already posted, then joins.
    void finish();

  private:
    std::unique_ptr<repo::JobsRepo> repo_;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;  // last: joined before the session it uses is closed
};

}  // namespace jobs::scheduler
