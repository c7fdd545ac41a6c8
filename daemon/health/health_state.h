// What perfd's health endpoint reports, kept apart from the HTTP listener so
// the rules are testable without sockets. The event loop beats once per
// iteration; it is "alive" while its last beat is recent. "Ready" means the
// BPF programs are loaded and the first discovery scan has been applied, so
// workers running at start are traced.
#pragma once

#include <atomic>
#include <cstdint>

namespace perfd {

class HealthState {
 public:
  // A loop that has not beaten for this long is stuck (its tick is 20 ms; a
  // slow scan apply or a loaded node may take seconds, never this long).
  static constexpr uint64_t kStallNs = 30ull * 1000000000ull;

  void Beat(uint64_t now_ns) { last_beat_ns_.store(now_ns, std::memory_order_relaxed); }
  void SetReady() { ready_.store(true, std::memory_order_relaxed); }

  bool Alive(uint64_t now_ns) const {
    const uint64_t last = last_beat_ns_.load(std::memory_order_relaxed);
    return last != 0 && now_ns - last < kStallNs;
  }
  bool Ready(uint64_t now_ns) const {
    return ready_.load(std::memory_order_relaxed) && Alive(now_ns);
  }

 private:
  std::atomic<uint64_t> last_beat_ns_{0};
  std::atomic<bool> ready_{false};
};

}  // namespace perfd
