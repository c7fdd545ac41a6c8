#include "daemon/exporters/http_metrics.h"

namespace perfd {

const prometheus::Histogram::BucketBoundaries& HttpDurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};
  return b;
}

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : duration_(prometheus::BuildHistogram()
                    .Name("http_server_request_duration_seconds")
                    .Help("Duration of HTTP server requests, first request byte queued to the "
                          "worker's socket to last response byte written")
                    .Register(registry)),
      queue_(prometheus::BuildHistogram()
                 .Name("perfd_http_server_request_queue_seconds")
                 .Help("Part of http_server_request_duration_seconds before the worker's first "
                       "read of the request: time it waited in the socket")
                 .Register(registry)),
      aborted_(prometheus::BuildCounter()
                   .Name("perfd_http_server_aborted_requests_total")
                   .Help("Requests whose connection closed (or worker died) before the "
                         "response completed")
                   .Register(registry)),
      active_(prometheus::BuildGauge()
                  .Name("http_server_active_requests")
                  .Help("Requests read but not yet answered")
                  .Register(registry)) {}

namespace {
std::string Key(const std::string& a, const std::string& b, const std::string& c,
                const std::string& d = "") {
  std::string k;
  k.reserve(a.size() + b.size() + c.size() + d.size() + 3);
  k.append(a).push_back('\0');
  k.append(b).push_back('\0');
  k.append(c).push_back('\0');
  k.append(d);
  return k;
}
}  // namespace

void HttpMetrics::OnStart(const RoutedRequest& r) {
  const std::string &service = r.service, &route = r.route, &method = r.method;
  auto key = Key(service, route, method);
  auto it = active_cache_.find(key);
  if (it == active_cache_.end())
    it = active_cache_
             .emplace(key, &active_.Add({{"service_name", service},
                                         {"http_route", route},
                                         {"http_request_method", method}}))
             .first;
  it->second->Increment();
}

void HttpMetrics::OnComplete(const RoutedRequest& r) {
  auto base = Key(r.service, r.route, r.method);
  if (auto it = active_cache_.find(base); it != active_cache_.end() && it->second->Value() > 0)
    it->second->Decrement();
  if (r.aborted) {
    auto it = aborted_cache_.find(base);
    if (it == aborted_cache_.end())
      it = aborted_cache_
               .emplace(base, &aborted_.Add({{"service_name", r.service},
                                             {"http_route", r.route},
                                             {"http_request_method", r.method}}))
               .first;
    it->second->Increment();
    return;
  }
  const std::string status = std::to_string(r.status);
  auto key = Key(r.service, r.route, r.method, status);
  auto it = duration_cache_.find(key);
  if (it == duration_cache_.end()) {
    const prometheus::Labels labels = {{"service_name", r.service},
                                       {"http_route", r.route},
                                       {"http_request_method", r.method},
                                       {"http_response_status_code", status}};
    it = duration_cache_
             .emplace(key, Histograms{&duration_.Add(labels, HttpDurationBuckets()),
                                      &queue_.Add(labels, HttpDurationBuckets())})
             .first;
  }
  it->second.duration->Observe(static_cast<double>(r.latency_ns()) / 1e9);
  it->second.queue->Observe(static_cast<double>(r.queue_ns()) / 1e9);
}

}  // namespace perfd
