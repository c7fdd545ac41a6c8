#include "daemon/exporters/breakdown_metrics.h"

#include "daemon/aggregator/bounded_labels.h"
#include "daemon/profile/route_label.h"

namespace perfd {

BreakdownMetrics::BreakdownMetrics(prometheus::Registry& registry, uint64_t idle_ns)
    : time_(prometheus::BuildCounter()
                .Name("perfd_http_server_request_time_seconds_total")
                .Help("Where requests' time went, by part (queued, cpu_<category>, db_wait, "
                      "loop_wait, gc, other): per request the parts sum to its latency; divide "
                      "by http_server_request_duration_seconds_count for the mean per request")
                .Register(registry)),
      idle_ns_(idle_ns) {}

void BreakdownMetrics::OnRequest(const std::string& service, const breakdown::DecidedRequest& r,
                                 uint64_t now_ns) {
  Service& s = services_[service];
  s.last_ns = now_ns;
  std::string route = HttpRouteLabel(r.route);
  auto it = s.routes.find(route);
  if (it == s.routes.end()) {
    if (s.routes.size() >= kMaxRoutes + s.routes.count(kOtherLabel)) {
      ++stats_.routes_folded;
      route = kOtherLabel;
      it = s.routes.find(route);
    }
    if (it == s.routes.end()) it = s.routes.emplace(route, Parts{}).first;
  }
  Parts& parts = it->second;
  for (size_t i = 0; i < breakdown::kNumParts; ++i) {
    if (r.parts.ns[i] == 0) continue;
    if (!parts[i])
      parts[i] = &time_.Add({{"service_name", service},
                             {"http_route", route},
                             {"part", std::string(breakdown::PartName(i))}});
    parts[i]->Increment(double(r.parts.ns[i]) / 1e9);
  }
}

void BreakdownMetrics::EvictIdle(uint64_t now_ns) {
  if (now_ns < idle_ns_) return;
  for (auto it = services_.begin(); it != services_.end();) {
    if (it->second.last_ns < now_ns - idle_ns_) {
      for (auto& [route, parts] : it->second.routes)
        for (auto* c : parts)
          if (c) time_.Remove(c);
      it = services_.erase(it);
      ++stats_.series_evicted;
    } else {
      ++it;
    }
  }
}

}  // namespace perfd
