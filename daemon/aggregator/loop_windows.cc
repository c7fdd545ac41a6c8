#include "daemon/aggregator/loop_windows.h"

#include <algorithm>

namespace perfd {

void LoopWindows::AddIterations(const std::string& service, uint64_t now_ns, uint64_t busy_ns,
                                uint64_t iterations) {
  slots_.Update(service, now_ns, [&](Slot& s) {
    s.busy_ns += busy_ns;
    s.iterations += iterations;
  });
}

void LoopWindows::AddBlocking(const std::string& service, uint64_t now_ns, uint64_t busy_ns) {
  slots_.Update(service, now_ns, [&](Slot& s) {
    ++s.blocking;
    s.worst_ns = std::max(s.worst_ns, busy_ns);
  });
}

LoopWindowSnapshot LoopWindows::Snapshot(const std::string& service, uint32_t window_seconds,
                                         uint64_t now_ns) const {
  LoopWindowSnapshot out;
  slots_.ForWindow(service, window_seconds, now_ns, [&](const Slot& s) {
    out.found = true;
    out.busy_ns += s.busy_ns;
    out.iterations += s.iterations;
    out.blocking_events += s.blocking;
    out.worst_blocking_ns = std::max(out.worst_blocking_ns, s.worst_ns);
  });
  return out;
}

}  // namespace perfd
