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
  slots_.Update(service, end_ns, [&](Slot& slot) {
    Add(slot.generations[GcGenerationIndex(generation)],
        GcPauseFigures{1, duration_ns, duration_ns});
  });
}

GcWindowSnapshot GcWindows::Snapshot(const std::string& service, uint32_t window_seconds,
                                     uint64_t now_ns) const {
  GcWindowSnapshot out;
  slots_.ForWindow(service, window_seconds, now_ns, [&](const Slot& s) {
    for (size_t i = 0; i < s.generations.size(); ++i) {
      Add(out.generations[i], s.generations[i]);
      Add(out.overall, s.generations[i]);
    }
  });
  return out;
}

}  // namespace perfd
