// Request metrics in OpenTelemetry HTTP semantic-convention names, Prometheus
// form: http_server_request_duration_seconds{service_name, http_route,
// http_request_method, http_response_status_code}, measured from the
// request's arrival in the worker's socket to its last byte written, and
// perfd_http_server_request_queue_seconds (same labels and buckets): the part
// of it before the worker's first read. Aborted requests have no
// status and no meaningful duration; they are counted in
// perfd_http_server_aborted_requests_total so nothing is silently lost.
//
// Series are bounded over days of churn: unknown methods and out-of-range
// statuses are labelled "_OTHER" (OpenTelemetry's rule for methods); past
// max_series label sets in all, new ones are counted in one overflow series
// per family whose service, route and method are "_OTHER" (status kept, so
// error ratios stay right); series with no request for idle_ns are removed
// from their family (Family::Remove), which frees them and makes room.
//
// With kubernetes.metric_labels (PodLabels.enabled) every series also has
// k8s_namespace_name, k8s_pod_name and k8s_node_name (OpenTelemetry's
// k8s.* resource attributes in Prometheus form); a worker outside a pod has
// empty namespace and pod (Prometheus reads an empty label as absent). The
// overflow series has "_OTHER" namespace and pod.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "daemon/pipeline/request_router.h"

namespace perfd {

// OpenTelemetry's recommended buckets for http.server.request.duration.
const prometheus::Histogram::BucketBoundaries& HttpDurationBuckets();

// The caps (config aggregation.*, docs/CONFIG.md).
struct SeriesLimits {
  // Label sets over the three families (a duration set also holds its queue
  // histogram); each histogram set is 17 Prometheus samples.
  size_t max_series = 10000;
  uint64_t idle_ns = 900 * 1000000000ULL;
};

// kubernetes.metric_labels: whether series carry the k8s_* labels.
struct PodLabels {
  bool enabled = false;
  std::string node_name;  // k8s_node_name
};

struct HttpMetricsStats {
  size_t series = 0;             // label sets exported now
  uint64_t series_over_cap = 0;  // observations counted in an overflow series
  uint64_t methods_folded = 0;   // requests with an unknown method
  uint64_t statuses_folded = 0;  // completions with a status outside 100..599
  uint64_t series_evicted = 0;   // label sets removed as idle
};

// Used by the event thread only (Prometheus scrapes read the families,
// which lock themselves).
class HttpMetrics : public RequestObserver {
 public:
  explicit HttpMetrics(prometheus::Registry& registry, SeriesLimits limits = {},
                       PodLabels pod_labels = {});

  void OnStart(const RoutedRequest& req) override;
  void OnComplete(const RoutedRequest& req) override;

  // Removes series whose last request (start or end, CLOCK_MONOTONIC ns)
  // is idle_ns or more before now_ns; in-flight gauges only at zero.
  void EvictIdle(uint64_t now_ns);
  HttpMetricsStats stats() const;

 private:
  struct Histograms {
    prometheus::Histogram* duration;
    prometheus::Histogram* queue;
    uint64_t last_ns;
  };
  struct Counter {
    prometheus::Counter* counter;
    uint64_t last_ns;
  };
  struct Gauge {
    prometheus::Gauge* gauge;
    uint64_t last_ns;
  };
  // True when a new label set may be added; else counts the overflow.
  bool Room();
  const std::string& Method(const RoutedRequest& r, bool count);
  // The key part and labels the pod adds ("" and none when off).
  std::string PodKey(const RoutedRequest& r, bool room) const;
  prometheus::Labels Labels(const std::string& service, const std::string& route,
                            const std::string& method, const RoutedRequest& r, bool room) const;

  const SeriesLimits limits_;
  const PodLabels pod_labels_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& queue_;
  prometheus::Family<prometheus::Counter>& aborted_;
  prometheus::Family<prometheus::Gauge>& active_;
  // Label lookups hash a map per call; cache the metric per label tuple.
  std::unordered_map<std::string, Histograms> duration_cache_;
  std::unordered_map<std::string, Counter> aborted_cache_;
  std::unordered_map<std::string, Gauge> active_cache_;
  HttpMetricsStats stats_;
};

}  // namespace perfd
