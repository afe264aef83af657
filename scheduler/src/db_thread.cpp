#include "jobs/scheduler/db_thread.h"

#include <boost/asio/post.hpp>

namespace jobs::scheduler {

DbThread::DbThread(std::unique_ptr<repo::JobStore> store)
    : store_(std::move(store)), guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}

DbThread::~DbThread() { finish(); }

void DbThread::post(std::function<void(repo::JobStore&)> work) {
    boost::asio::post(io_, [this, work = std::move(work)] { work(*store_); });
}

void DbThread::finish() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
}

}  // namespace jobs::scheduler
