#include "daemon/exporters/gc_metrics.h"

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
  std::string gen = generation >= 0 && generation <= 2 ? std::to_string(generation) : "_OTHER";
  auto key = std::make_pair(service, std::move(gen));
  auto it = series_.find(key);
  if (it == series_.end()) {
    auto& h = pauses_.Add({{"service_name", key.first}, {"generation", key.second}}, GcBuckets());
    it = series_.emplace(std::move(key), Series{&h, end_ns}).first;
  }
  it->second.histogram->Observe(double(duration_ns) / 1e9);
  it->second.last_ns = end_ns;
  stats_.series = series_.size();
}

void GcMetrics::EvictIdle(uint64_t now_ns) {
  if (now_ns < idle_ns_) return;
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->second.last_ns < now_ns - idle_ns_) {
      pauses_.Remove(it->second.histogram);
      it = series_.erase(it);
      ++stats_.series_evicted;
    } else {
      ++it;
    }
  }
  stats_.series = series_.size();
}

}  // namespace perfd
