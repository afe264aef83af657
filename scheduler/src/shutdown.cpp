#include "jobs/scheduler/shutdown.h"

#include <csignal>

#include <spdlog/spdlog.h>

namespace jobs::scheduler {

Shutdown::Shutdown(boost::asio::io_context& io) : signals_(io, SIGINT, SIGTERM) {}

void Shutdown::stop_on_signal(Scheduler& scheduler) {
    scheduler_ = &scheduler;
    wait();
}

void Shutdown::wait() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        spdlog::info("signal {}: stopping", signo);
        // Waiting again first: a second signal is logged, never acted on twice, and the drain
        // callback (possibly run at once) cancels this wait so the loop can end.
        wait();
        scheduler_->stop([this] { signals_.cancel(); });
    });
}

}  // namespace jobs::scheduler
