// Feeds routed requests into the windowed Aggregator behind the gRPC API.
#pragma once

#include "daemon/aggregator/aggregator.h"
#include "daemon/pipeline/request_router.h"

namespace perfd {

class AggregatorObserver : public RequestObserver {
 public:
  explicit AggregatorObserver(Aggregator& agg) : agg_(agg) {}
  void OnStart(const RoutedRequest& r) override { agg_.RecordStart(r.service, r.method, r.route); }
  void OnComplete(const RoutedRequest& r) override {
    agg_.RecordComplete(r.service, r.method, r.route, r.status, r.aborted, r.latency_start_ns(),
                        r.end_ns, r.queue_ns());
  }

 private:
  Aggregator& agg_;
};

}  // namespace perfd
