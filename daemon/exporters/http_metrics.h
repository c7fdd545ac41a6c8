// Request metrics in OpenTelemetry HTTP semantic-convention names, Prometheus
// form: http_server_request_duration_seconds{service_name, http_route,
// http_request_method, http_response_status_code}, measured from the
// request's arrival in the worker's socket to its last byte written, and
// perfd_http_server_request_queue_seconds (same labels and buckets): the part
// of it before the worker's first read. Aborted requests have no
// status and no meaningful duration; they are counted in
// perfd_http_server_aborted_requests_total so nothing is silently lost.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <unordered_map>

#include "daemon/pipeline/request_router.h"

namespace perfd {

// OpenTelemetry's recommended buckets for http.server.request.duration.
const prometheus::Histogram::BucketBoundaries& HttpDurationBuckets();

class HttpMetrics : public RequestObserver {
 public:
  explicit HttpMetrics(prometheus::Registry& registry);

  void OnStart(const RoutedRequest& req) override;
  void OnComplete(const RoutedRequest& req) override;

 private:
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& queue_;
  prometheus::Family<prometheus::Counter>& aborted_;
  prometheus::Family<prometheus::Gauge>& active_;
  // Label lookups hash a map per call; cache the metric per label tuple.
  struct Histograms {
    prometheus::Histogram* duration;
    prometheus::Histogram* queue;
  };
  std::unordered_map<std::string, Histograms> duration_cache_;
  std::unordered_map<std::string, prometheus::Counter*> aborted_cache_;
  std::unordered_map<std::string, prometheus::Gauge*> active_cache_;
};

}  // namespace perfd
