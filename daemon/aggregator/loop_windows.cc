#include "daemon/aggregator/loop_windows.h"

#include <algorithm>

namespace perfd {

LoopWindows::Slot* LoopWindows::SlotOf(const std::string& service, uint64_t now_ns) {
  auto it = services_.try_emplace(service, window_max_).first;
  it->second.last_ns = std::max(it->second.last_ns, now_ns);
  return it->second.slots.At(now_ns / kNsPerSecond);
}

void LoopWindows::AddIterations(const std::string& service, uint64_t now_ns, uint64_t busy_ns,
                                uint64_t iterations) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Slot* s = SlotOf(service, now_ns)) {
    s->busy_ns += busy_ns;
    s->iterations += iterations;
  }
}

void LoopWindows::AddBlocking(const std::string& service, uint64_t now_ns, uint64_t busy_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Slot* s = SlotOf(service, now_ns)) {
    ++s->blocking;
    s->worst_ns = std::max(s->worst_ns, busy_ns);
  }
}

LoopWindowSnapshot LoopWindows::Snapshot(const std::string& service, uint32_t window_seconds,
                                         uint64_t now_ns) const {
  LoopWindowSnapshot out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  it->second.slots.ForWindow(window_seconds, now_ns, [&](const Slot& s) {
    out.found = true;
    out.busy_ns += s.busy_ns;
    out.iterations += s.iterations;
    out.blocking_events += s.blocking;
    out.worst_blocking_ns = std::max(out.worst_blocking_ns, s.worst_ns);
  });
  return out;
}

void LoopWindows::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = services_.begin(); it != services_.end();) {
    if (now_ns > idle_ns && it->second.last_ns < now_ns - idle_ns)
      it = services_.erase(it);
    else
      ++it;
  }
}

size_t LoopWindows::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_.size();
}

}  // namespace perfd
