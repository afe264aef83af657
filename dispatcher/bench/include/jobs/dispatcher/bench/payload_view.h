#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "jobs/dispatcher/worker_protocol.h"

namespace jobs::dispatcher::bench {

// A pooled child's read-only view of its parent's SharedPayloads.
class PayloadView {
  public:
    // The region named by JOBS_PAYLOAD_FD, or nothing when the parent shares none.
    static std::optional<PayloadView> from_env();
    // Maps the region behind `fd`; throws std::system_error when it cannot.
    explicit PayloadView(int fd);
    ~PayloadView();
    PayloadView(PayloadView&& other) noexcept;
    PayloadView& operator=(PayloadView&&) = delete;
    PayloadView(const PayloadView&) = delete;
    PayloadView& operator=(const PayloadView&) = delete;

    // The payload at `ref`, or nothing when it lies outside the region.
    std::optional<std::string_view> at(SharedRef ref) const;

  private:
    const char* base_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace jobs::dispatcher::bench

namespace jobs::dispatcher::bench {

// The payload a request carries, inline or in `shared`: empty for none, nothing when it names
// a place outside the region or no region was handed over. One rule for every worker.
std::optional<std::string_view> request_payload(const TaskRequest& request,
                                                const std::optional<PayloadView>& shared);

}  // namespace jobs::dispatcher::bench
