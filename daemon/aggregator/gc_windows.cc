#include "daemon/aggregator/gc_windows.h"

#include <algorithm>

namespace perfd {
namespace {

void Add(GcPauseFigures& to, const GcPauseFigures& from) {
  to.pauses += from.pauses;
  to.total_ns += from.total_ns;
  to.max_ns = std::max(to.max_ns, from.max_ns);
}

}  // namespace

size_t GcGenerationIndex(int generation) {
  return generation >= 0 && generation < int(GcWindowSnapshot::kOther) ? size_t(generation)
                                                                       : GcWindowSnapshot::kOther;
}

void GcWindows::AddPause(const std::string& service, int generation, uint64_t duration_ns,
                         uint64_t end_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.try_emplace(service, window_max_).first;
  it->second.last_ns = std::max(it->second.last_ns, end_ns);
  Slot* slot = it->second.slots.At(end_ns / kNsPerSecond);
  if (slot == nullptr) return;  // older than the longest window
  GcPauseFigures& g = slot->generations[GcGenerationIndex(generation)];
  ++g.pauses;
  g.total_ns += duration_ns;
  g.max_ns = std::max(g.max_ns, duration_ns);
}

GcWindowSnapshot GcWindows::Snapshot(const std::string& service, uint32_t window_seconds,
                                     uint64_t now_ns) const {
  GcWindowSnapshot out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  it->second.slots.ForWindow(window_seconds, now_ns, [&](const Slot& s) {
    for (size_t i = 0; i < s.generations.size(); ++i) {
      Add(out.generations[i], s.generations[i]);
      Add(out.overall, s.generations[i]);
    }
  });
  return out;
}

void GcWindows::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = services_.begin(); it != services_.end();) {
    if (now_ns > idle_ns && it->second.last_ns < now_ns - idle_ns)
      it = services_.erase(it);
    else
      ++it;
  }
}

size_t GcWindows::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_.size();
}

}  // namespace perfd
