#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "jobs/scheduler/scheduler.h"

namespace jobs::scheduler {

// SIGINT and SIGTERM stop the instance gracefully (Asio's http server example): the first one
// stops the scheduler, which lets unlocked jobs go and runs the locked ones; once it has drained,
// the signal wait ends too, so the loop runs out of work and io_context::run returns.
class Shutdown {
  public:
    // From here on the signals are caught and queued: one that comes during start-up stops the
    // instance once it is up, never half-way.
    explicit Shutdown(boost::asio::io_context& io);
    Shutdown(const Shutdown&) = delete;
    Shutdown& operator=(const Shutdown&) = delete;

    void stop_on_signal(Scheduler& scheduler);

  private:
    void wait();

    boost::asio::signal_set signals_;
    Scheduler* scheduler_ = nullptr;
};

}  // namespace jobs::scheduler
