#include "daemon/exporters/gc_metrics.h"

#include <iterator>

namespace perfd {

namespace {

// Gen-0 collections of a web worker take tens of microseconds; a full
// collection of a large heap takes hundreds of milliseconds.
const prometheus::Histogram::BucketBoundaries& GcBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
  return kBuckets;
}

}  // namespace

GcMetrics::GcMetrics(prometheus::Registry& registry, uint64_t idle_ns)
    : pauses_(prometheus::BuildHistogram()
                  .Name("perfd_python_gc_pause_seconds")
                  .Help("CPython garbage-collection pauses of the service's workers, per "
                        "generation (python:gc__start to gc__done; workers whose interpreter "
                        "lacks these probes are counted in perfd_python_gc_probes)")
                  .Register(registry)),
      idle_ns_(idle_ns) {}

void GcMetrics::OnPause(const std::string& service, int generation, uint64_t duration_ns,
                        uint64_t end_ns) {
  ++stats_.pauses;
  // Looked up by the service's name as it is: no key is built per pause.
  auto it = series_.find(service);
  if (it == series_.end()) it = series_.emplace(service, Generations{}).first;
  const size_t g = generation >= 0 && generation <= 2 ? size_t(generation) : kOtherGeneration;
  Series& s = it->second[g];
  if (s.histogram == nullptr) {
    s.histogram = &pauses_.Add(
        {{"service_name", service},
         {"generation", g == kOtherGeneration ? std::string("_OTHER") : std::to_string(g)}},
        GcBuckets());
    ++stats_.series;
  }
  s.histogram->Observe(double(duration_ns) / 1e9);
  s.last_ns = end_ns;
}

void GcMetrics::EvictIdle(uint64_t now_ns) {
  if (now_ns < idle_ns_) return;
  for (auto it = series_.begin(); it != series_.end();) {
    bool any = false;
    for (Series& s : it->second) {
      if (s.histogram != nullptr && s.last_ns < now_ns - idle_ns_) {
        pauses_.Remove(s.histogram);
        s.histogram = nullptr;
        --stats_.series;
        ++stats_.series_evicted;
      }
      any = any || s.histogram != nullptr;
    }
    it = any ? std::next(it) : series_.erase(it);
  }
}

}  // namespace perfd
