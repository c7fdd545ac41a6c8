#include "daemon/exporters/loop_metrics.h"

#include <vector>

#include "daemon/aggregator/bounded_labels.h"
#include "daemon/profile/route_label.h"

namespace perfd {

namespace {

const prometheus::Histogram::BucketBoundaries& BusyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = [] {
    prometheus::Histogram::BucketBoundaries b;
    for (size_t j = 0; j < LoopMetrics::kBoundaries; ++j)
      b.push_back(double(1ull << (10 + j)) / 1e9);
    return b;
  }();
  return kBuckets;
}

const char* const kParts[2 + LOOP_BLOCK_REASONS] = {"oncpu",        "runnable",   "blocked_sleep",
                                                    "blocked_lock", "blocked_io", "blocked_other"};
static_assert(LOOP_BLOCK_SLEEP == 0 && LOOP_BLOCK_LOCK == 1 && LOOP_BLOCK_IO == 2 &&
                  LOOP_BLOCK_OTHER == 3,
              "kParts follows enum loop_block_reason");

// Counters of a new pid, or after the kernel entry was recreated, restart
// from zero: take the whole value then.
uint64_t Delta(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

}  // namespace

size_t LoopMetrics::BucketOf(size_t k) {
  // Kernel bucket k holds values below 2^(k+1): Prometheus bucket le=2^(k+1).
  if (k + 1 <= 10) return 0;
  if (k + 1 > 10 + kBoundaries - 1) return kBoundaries;  // +Inf
  return k + 1 - 10;
}

LoopMetrics::LoopMetrics(prometheus::Registry& registry, uint64_t idle_ns)
    : busy_(prometheus::BuildHistogram()
                .Name("perfd_event_loop_busy_seconds")
                .Help("Busy time of each event-loop iteration of the service's workers: from the "
                      "return of the epoll wait to the start of the next")
                .Register(registry)),
      time_(prometheus::BuildCounter()
                .Name("perfd_event_loop_time_seconds_total")
                .Help("Event-loop busy time by part: oncpu, runnable (ready, waiting for a CPU), "
                      "blocked_sleep, blocked_lock (futex: locks, the GIL), blocked_io, "
                      "blocked_other")
                .Register(registry)),
      blocking_(prometheus::BuildCounter()
                    .Name("perfd_event_loop_blocking_events_total")
                    .Help("Iterations busy past event_loop.blocking_threshold_ms, by their largest "
                          "part: oncpu (a CPU hog), offcpu (blocked in a sync call), runnable "
                          "(ready but the host's CPUs were taken)")
                    .Register(registry)),
      blocked_(prometheus::BuildCounter()
                   .Name("perfd_event_loop_blocked_seconds_total")
                   .Help("Busy time of the event-loop iterations past "
                         "event_loop.blocking_threshold_ms, by the route whose Python stacks held "
                         "the loop (each route's share of an iteration by its on-CPU samples and "
                         "off-CPU stack in it; (unattributed) without a stack)")
                   .Register(registry)),
      idle_ns_(idle_ns) {}

LoopMetrics::Service& LoopMetrics::Of(const std::string& service, uint64_t now_ns) {
  auto it = services_.find(service);
  if (it == services_.end()) {
    Service s{};
    s.busy = &busy_.Add({{"service_name", service}}, BusyBuckets());
    for (size_t i = 0; i < s.parts.size(); ++i)
      s.parts[i] = &time_.Add({{"service_name", service}, {"part", kParts[i]}});
    s.blocking_oncpu = &blocking_.Add({{"service_name", service}, {"kind", "oncpu"}});
    s.blocking_offcpu = &blocking_.Add({{"service_name", service}, {"kind", "offcpu"}});
    s.blocking_runnable = &blocking_.Add({{"service_name", service}, {"kind", "runnable"}});
    it = services_.emplace(service, s).first;
    stats_.services = services_.size();
  }
  it->second.last_ns = now_ns;
  return it->second;
}

void LoopMetrics::Update(uint32_t pid, const std::string& service, const loop_hist& h,
                         uint64_t now_ns) {
  loop_hist before{};
  auto last = last_.find(pid);
  if (last != last_.end()) before = last->second;
  // A recreated entry (fewer iterations than before) starts from zero.
  if (h.iterations < before.iterations) before = loop_hist{};
  last_[pid] = h;
  const uint64_t iterations = Delta(h.iterations, before.iterations);
  if (iterations == 0) return;
  Service& s = Of(service, now_ns);
  std::vector<double> increments(kBoundaries + 1, 0.0);
  for (size_t k = 0; k < LOOP_HIST_BUCKETS; ++k)
    increments[BucketOf(k)] += double(Delta(h.buckets[k], before.buckets[k]));
  const uint64_t busy_ns = Delta(h.busy_ns, before.busy_ns);
  s.busy->ObserveMultiple(increments, double(busy_ns) / 1e9);
  if (windows_) windows_->AddIterations(service, now_ns, busy_ns, iterations);
  s.parts[0]->Increment(double(Delta(h.oncpu_ns, before.oncpu_ns)) / 1e9);
  s.parts[1]->Increment(double(Delta(h.runnable_ns, before.runnable_ns)) / 1e9);
  for (size_t r = 0; r < LOOP_BLOCK_REASONS; ++r)
    s.parts[2 + r]->Increment(double(Delta(h.blocked_ns[r], before.blocked_ns[r])) / 1e9);
}

void LoopMetrics::OnBlockingEvent(const std::string& service, const loop_block_event& e,
                                  uint64_t now_ns) {
  ++stats_.blocking_events;
  Service& s = Of(service, now_ns);
  if (windows_) windows_->AddBlocking(service, now_ns, e.busy_ns);
  uint64_t blocked = 0;
  for (uint64_t b : e.blocked_ns) blocked += b;
  // Named by its largest part (the rule BlockingEvent::kind follows too).
  switch (BlockingKindOf(e.oncpu_ns, blocked, e.runnable_ns)) {
    case BlockingKind::kOnCpu:
      s.blocking_oncpu->Increment();
      break;
    case BlockingKind::kOffCpu:
      s.blocking_offcpu->Increment();
      break;
    case BlockingKind::kRunnable:
      s.blocking_runnable->Increment();
      break;
  }
}

void LoopMetrics::OnBlockingDecided(const std::string& service, const BlockingEvent& e,
                                    uint64_t now_ns) {
  Service& s = Of(service, now_ns);
  for (const BlockingRouteShare& share : e.routes) {
    std::string route = HttpRouteLabel(share.route);
    auto it = s.blocked.find(route);
    if (it == s.blocked.end()) {
      // Routes are bounded by the route tables, but a service's templates
      // can still be many: past the cap, one "_OTHER" series.
      if (s.blocked.size() >= kMaxBlockedRoutes + s.blocked.count(kOtherLabel)) {
        ++stats_.blocked_routes_folded;
        route = kOtherLabel;
        it = s.blocked.find(route);
      }
      if (it == s.blocked.end())
        it = s.blocked
                 .emplace(route, &blocked_.Add({{"service_name", service}, {"http_route", route}}))
                 .first;
    }
    it->second->Increment(double(share.ns) / 1e9);
  }
}

void LoopMetrics::EvictIdle(uint64_t now_ns) {
  if (now_ns < idle_ns_) return;
  for (auto it = services_.begin(); it != services_.end();) {
    if (it->second.last_ns < now_ns - idle_ns_) {
      busy_.Remove(it->second.busy);
      for (auto* c : it->second.parts) time_.Remove(c);
      blocking_.Remove(it->second.blocking_oncpu);
      blocking_.Remove(it->second.blocking_offcpu);
      blocking_.Remove(it->second.blocking_runnable);
      for (auto& [route, c] : it->second.blocked) blocked_.Remove(c);
      it = services_.erase(it);
      ++stats_.series_evicted;
    } else {
      ++it;
    }
  }
  stats_.services = services_.size();
}

}  // namespace perfd
