#include "jobs/scheduler/db_thread.h"

#include <boost/asio/post.hpp>

namespace jobs::scheduler {

DbThread::DbThread(std::unique_ptr<repo::JobsRepo> repo)
    : repo_(std::move(repo)), guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}

DbThread::~DbThread() { finish(); }

void DbThread::post(std::function<void(repo::JobsRepo&)> work) {
    boost::asio::post(io_, [this, work = std::move(work)] { work(*repo_); });
}

void DbThread::finish() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
}

}  // namespace jobs::scheduler
