// One deadline for a whole OpenAPI fetch: connecting, sending the request and
// reading the answer, over every listener of the worker. The fetcher has one
// thread for all services, so the time one fetch may take is the time every
// other service may have to wait: it must be a total, never per step.
#pragma once

#include <chrono>
#include <cstdint>

namespace perfd {

class FetchDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit FetchDeadline(uint32_t timeout_ms, Clock::time_point now = Clock::now())
      : timeout_ms_(timeout_ms), end_(now + std::chrono::milliseconds(timeout_ms)) {}

  bool Expired(Clock::time_point now = Clock::now()) const { return now >= end_; }

  // What poll() may wait now: 0 once expired, else the time left rounded up
  // to whole milliseconds, so the last fraction of a millisecond is slept,
  // not spun on with poll(…, 0).
  int PollMs(Clock::time_point now = Clock::now()) const {
    if (now >= end_) return 0;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end_ - now).count();
    return static_cast<int>(left);  // <= timeout_ms_, a uint32_t config value below 600001
  }

  uint32_t timeout_ms() const { return timeout_ms_; }

 private:
  uint32_t timeout_ms_;
  Clock::time_point end_;
};

}  // namespace perfd
