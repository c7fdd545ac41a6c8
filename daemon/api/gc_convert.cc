#include "daemon/api/gc_convert.h"

namespace perfd {
namespace {

double Seconds(uint64_t ns) { return double(ns) / 1e9; }

}  // namespace

void GcToProto(const GcWindowSnapshot& window, const std::vector<GcProbeState>& workers,
               v1::GcStats* out) {
  for (GcProbeState state : workers) {
    switch (state) {
      case GcProbeState::kAttached:
        out->set_workers_attached(out->workers_attached() + 1);
        break;
      case GcProbeState::kNoUsdt:
        out->set_workers_no_usdt(out->workers_no_usdt() + 1);
        break;
      case GcProbeState::kFailed:
        out->set_workers_failed(out->workers_failed() + 1);
        break;
      case GcProbeState::kNotSampled:
        out->set_workers_unsampled(out->workers_unsampled() + 1);
        break;
    }
  }
  out->set_pauses(window.overall.pauses);
  out->set_total_seconds(Seconds(window.overall.total_ns));
  out->set_max_seconds(Seconds(window.overall.max_ns));
  static const char* const kNames[GcWindowSnapshot::kGenerations] = {"0", "1", "2", "_OTHER"};
  for (size_t i = 0; i < window.generations.size(); ++i) {
    const GcPauseFigures& g = window.generations[i];
    if (g.pauses == 0) continue;
    v1::GcGeneration* gen = out->add_generations();
    gen->set_generation(kNames[i]);
    gen->set_pauses(g.pauses);
    gen->set_total_seconds(Seconds(g.total_ns));
    gen->set_max_seconds(Seconds(g.max_ns));
  }
}

}  // namespace perfd
