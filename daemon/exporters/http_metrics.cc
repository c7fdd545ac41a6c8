#include "daemon/exporters/http_metrics.h"

#include <algorithm>

#include "daemon/aggregator/bounded_labels.h"

namespace perfd {

const prometheus::Histogram::BucketBoundaries& HttpDurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};
  return b;
}

HttpMetrics::HttpMetrics(prometheus::Registry& registry, SeriesLimits limits, PodLabels pod_labels)
    : limits_(limits),
      pod_labels_(std::move(pod_labels)),
      duration_(prometheus::BuildHistogram()
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

const std::string& Other() {
  static const std::string other = kOtherLabel;
  return other;
}

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

prometheus::Labels BaseLabels(const std::string& service, const std::string& route,
                              const std::string& method) {
  return {{"service_name", service}, {"http_route", route}, {"http_request_method", method}};
}

}  // namespace

std::string HttpMetrics::PodKey(const RoutedRequest& r, bool room) const {
  if (!pod_labels_.enabled) return "";
  if (!room) return std::string(1, '\0') + Other() + '\0' + Other();
  if (!r.pod) return std::string(2, '\0');
  return '\0' + r.pod->k8s_namespace + '\0' + r.pod->k8s_pod;
}

prometheus::Labels HttpMetrics::Labels(const std::string& service, const std::string& route,
                                       const std::string& method, const RoutedRequest& r,
                                       bool room) const {
  prometheus::Labels labels = BaseLabels(service, route, method);
  if (!pod_labels_.enabled) return labels;
  const std::string empty;
  labels.emplace("k8s_namespace_name", !room ? Other() : (r.pod ? r.pod->k8s_namespace : empty));
  labels.emplace("k8s_pod_name", !room ? Other() : (r.pod ? r.pod->k8s_pod : empty));
  labels.emplace("k8s_node_name", pod_labels_.node_name);
  return labels;
}

bool HttpMetrics::Room() {
  const size_t series = duration_cache_.size() + aborted_cache_.size() + active_cache_.size();
  if (series < limits_.max_series) return true;
  ++stats_.series_over_cap;
  return false;
}

const std::string& HttpMetrics::Method(const RoutedRequest& r, bool count) {
  if (IsKnownMethod(r.method)) return r.method;
  if (count) ++stats_.methods_folded;
  return Other();
}

void HttpMetrics::OnStart(const RoutedRequest& r) {
  const std::string& method = Method(r, false);
  auto key = Key(r.service, r.route, method) + PodKey(r, true);
  auto it = active_cache_.find(key);
  if (it == active_cache_.end()) {
    const bool room = Room();
    const std::string& service = room ? r.service : Other();
    const std::string& route = room ? r.route : Other();
    const std::string& m = room ? method : Other();
    if (!room) key = Key(service, route, m) + PodKey(r, false);
    it = active_cache_.find(key);
    if (it == active_cache_.end())
      it = active_cache_.emplace(key, Gauge{&active_.Add(Labels(service, route, m, r, room)), 0})
               .first;
  }
  it->second.gauge->Increment();
  it->second.last_ns = std::max(it->second.last_ns, r.start_ns);
}

void HttpMetrics::OnComplete(const RoutedRequest& r) {
  const std::string& method = Method(r, true);
  auto base = Key(r.service, r.route, method) + PodKey(r, true);
  // The start was counted in the overflow gauge when its own had no room.
  auto gauge = active_cache_.find(base);
  if (gauge == active_cache_.end() || gauge->second.gauge->Value() <= 0)
    gauge = active_cache_.find(Key(Other(), Other(), Other()) + PodKey(r, false));
  if (gauge != active_cache_.end() && gauge->second.gauge->Value() > 0) {
    gauge->second.gauge->Decrement();
    gauge->second.last_ns = std::max(gauge->second.last_ns, r.end_ns);
  }
  if (r.aborted) {
    auto it = aborted_cache_.find(base);
    if (it == aborted_cache_.end()) {
      const bool room = Room();
      const std::string& service = room ? r.service : Other();
      const std::string& route = room ? r.route : Other();
      const std::string& m = room ? method : Other();
      if (!room) base = Key(service, route, m) + PodKey(r, false);
      it = aborted_cache_.find(base);
      if (it == aborted_cache_.end())
        it = aborted_cache_
                 .emplace(base, Counter{&aborted_.Add(Labels(service, route, m, r, room)), 0})
                 .first;
    }
    it->second.counter->Increment();
    it->second.last_ns = std::max(it->second.last_ns, r.end_ns);
    return;
  }
  if (!IsValidStatus(r.status)) ++stats_.statuses_folded;
  const std::string status = BoundedStatus(r.status);
  auto key = Key(r.service, r.route, method, status) + PodKey(r, true);
  auto it = duration_cache_.find(key);
  if (it == duration_cache_.end()) {
    const bool room = Room();
    const std::string& service = room ? r.service : Other();
    const std::string& route = room ? r.route : Other();
    const std::string& m = room ? method : Other();
    if (!room) key = Key(service, route, m, status) + PodKey(r, false);
    it = duration_cache_.find(key);
    if (it == duration_cache_.end()) {
      prometheus::Labels labels = Labels(service, route, m, r, room);
      labels.emplace("http_response_status_code", status);
      it = duration_cache_
               .emplace(key, Histograms{&duration_.Add(labels, HttpDurationBuckets()),
                                        &queue_.Add(labels, HttpDurationBuckets()), 0})
               .first;
    }
  }
  it->second.duration->Observe(static_cast<double>(r.latency_ns()) / 1e9);
  it->second.queue->Observe(static_cast<double>(r.queue_ns()) / 1e9);
  it->second.last_ns = std::max(it->second.last_ns, r.end_ns);
}

void HttpMetrics::EvictIdle(uint64_t now_ns) {
  auto idle = [&](uint64_t last_ns) { return last_ns + limits_.idle_ns <= now_ns; };
  for (auto it = duration_cache_.begin(); it != duration_cache_.end();) {
    if (!idle(it->second.last_ns)) {
      ++it;
      continue;
    }
    duration_.Remove(it->second.duration);
    queue_.Remove(it->second.queue);
    it = duration_cache_.erase(it);
    ++stats_.series_evicted;
  }
  for (auto it = aborted_cache_.begin(); it != aborted_cache_.end();) {
    if (!idle(it->second.last_ns)) {
      ++it;
      continue;
    }
    aborted_.Remove(it->second.counter);
    it = aborted_cache_.erase(it);
    ++stats_.series_evicted;
  }
  for (auto it = active_cache_.begin(); it != active_cache_.end();) {
    // A gauge with requests in flight is live however old its last change.
    if (!idle(it->second.last_ns) || it->second.gauge->Value() > 0) {
      ++it;
      continue;
    }
    active_.Remove(it->second.gauge);
    it = active_cache_.erase(it);
    ++stats_.series_evicted;
  }
}

HttpMetricsStats HttpMetrics::stats() const {
  HttpMetricsStats out = stats_;
  out.series = duration_cache_.size() + aborted_cache_.size() + active_cache_.size();
  return out;
}

}  // namespace perfd
