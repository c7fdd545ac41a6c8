// Per-service 1-second slots for perfctl's windows, locked: the event
// thread adds, API threads read. A service keeps SecondSlots (created only
// for seconds with data) and the time of its newest record, so services
// that went quiet are evicted. The storage of LoopWindows and GcWindows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "daemon/aggregator/second_slots.h"

namespace perfd {

template <typename Slot>
class ServiceSlots {
 public:
  explicit ServiceSlots(uint32_t window_max_seconds) : window_max_(window_max_seconds) {}

  // fn(slot) on the slot of now_ns's second; nothing when that second is
  // older than the longest window.
  template <typename Fn>
  void Update(const std::string& service, uint64_t now_ns, Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = services_.try_emplace(service, window_max_).first;
    it->second.last_ns = std::max(it->second.last_ns, now_ns);
    if (Slot* s = it->second.slots.At(now_ns / kNsPerSecond)) fn(*s);
  }

  // fn(slot) for the window's slots; false when the service is unknown.
  template <typename Fn>
  bool ForWindow(const std::string& service, uint32_t window_seconds, uint64_t now_ns,
                 Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = services_.find(service);
    if (it == services_.end()) return false;
    it->second.slots.ForWindow(window_seconds, now_ns, fn);
    return true;
  }

  // Drops services with nothing newer than now_ns - idle_ns.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    if (now_ns <= idle_ns) return;
    for (auto it = services_.begin(); it != services_.end();) {
      if (it->second.last_ns < now_ns - idle_ns)
        it = services_.erase(it);
      else
        ++it;
    }
  }

  size_t services() const {
    std::lock_guard<std::mutex> lock(mu_);
    return services_.size();
  }

 private:
  struct Service {
    explicit Service(uint32_t window_max) : slots(window_max) {}
    SecondSlots<Slot> slots;
    uint64_t last_ns = 0;
  };
  uint32_t window_max_;
  mutable std::mutex mu_;
  std::map<std::string, Service> services_;
};

}  // namespace perfd
