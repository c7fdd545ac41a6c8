// Hand-made GetBreakdown answers for the breakdown and explain view tests.
#pragma once

#include <string>
#include <vector>

#include "cli/breakdown_parts.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

// A route whose parts have these means (ms, in kParts order; missing ones
// 0) and whose mean latency is their sum; tail_ms likewise for the tail
// (empty: no tail). Quantiles: p50 = 0.9 x mean, p99 = 3 x mean, over
// recent = min(requests, 1000) requests.
inline v1::RouteBreakdown SampleRoute(const std::string& route, uint64_t requests,
                                      const std::vector<double>& ms,
                                      const std::vector<double>& tail_ms = {}) {
  v1::RouteBreakdown r;
  r.set_route(route);
  r.set_requests(requests);
  r.set_recent_requests(requests < 1000 ? requests : 1000);
  double mean = 0, tail = 0;
  for (size_t i = 0; i < kNumParts; ++i) {
    const double m = i < ms.size() ? ms[i] / 1e3 : 0.0;
    const double t = i < tail_ms.size() ? tail_ms[i] / 1e3 : 0.0;
    v1::BreakdownPart* p = r.add_parts();
    p->set_part(kParts[i].part);
    p->set_mean_seconds(m);
    p->set_p50_seconds(0.9 * m);
    p->set_p99_seconds(3 * m);
    p->set_tail_mean_seconds(t);
    mean += m;
    tail += t;
  }
  r.set_mean_seconds(mean);
  if (!tail_ms.empty()) {
    r.set_tail_requests(r.recent_requests() / 100);
    r.set_tail_mean_seconds(tail);
    r.set_tail_threshold_seconds(0.8 * tail);
  }
  return r;
}

// A service's answer: window 60 s, sampling every 10 ms, blocking from
// 20 ms, at 1700000000 s (wall clock).
inline v1::GetBreakdownResponse SampleBreakdown(const std::vector<v1::RouteBreakdown>& routes) {
  v1::GetBreakdownResponse b;
  b.set_service("shop");
  b.set_window_seconds(60);
  b.set_timestamp_unix_nanos(1700000000LL * 1000000000LL);
  b.set_sample_period_seconds(0.01);
  b.set_blocking_threshold_seconds(0.02);
  for (const auto& r : routes) *b.add_routes() = r;
  return b;
}

}  // namespace perfd::cli
