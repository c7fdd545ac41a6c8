// Database call metrics in OpenTelemetry database semantic-convention names,
// Prometheus form:
//   db_client_operation_duration_seconds{service_name, db_system_name,
//     db_operation_name, db_collection_name, http_route, db_query_id}
//   perfd_db_queries_per_request{service_name, http_route}
//   perfd_db_n_plus_one_requests_total{service_name, http_route}
//   perfd_db_connections_encrypted_total{service_name, db_system_name}
// http_route is the route template ("/users/{id}") or "(no request)" for
// calls no request claimed.
//
// Cardinality (docs/METRICS.md): db_query_id is the 16-hex-digit
// fingerprint id for a service's top_k fingerprints by call time
// (QueryIdRanker), "housekeeping" for driver housekeeping, else "other"; an
// "other" series folds its collection into "_OTHER", so per service and
// route there are at most top_k + housekeeping operations + "other"
// operations series. An operation name that is not a short upper-case word
// is "_OTHER". Past max_series label sets in all, new ones go to one
// overflow series per family with every label "_OTHER"; series idle for
// idle_ns are removed. Query text never becomes a label (privacy).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "daemon/db/db_observer.h"
#include "daemon/db/n_plus_one.h"
#include "daemon/exporters/http_metrics.h"
#include "daemon/exporters/query_id_ranker.h"

namespace perfd {

// OpenTelemetry's recommended buckets for db.client.operation.duration.
const prometheus::Histogram::BucketBoundaries& DbDurationBuckets();
const prometheus::Histogram::BucketBoundaries& QueriesPerRequestBuckets();

struct DbMetricsLimits {
  SeriesLimits series;                    // max label sets over the four families, idle eviction
  size_t top_k = 20;                      // fingerprints per service with their own db_query_id
  size_t max_tracked_fingerprints = 500;  // per service, scored for the top K
  // kubernetes.metric_labels: k8s_namespace_name, k8s_pod_name and
  // k8s_node_name on every family, as on the HTTP ones (http_metrics.h).
  PodLabels pod_labels;
};

struct DbMetricsStats {
  size_t series = 0;
  uint64_t series_over_cap = 0;    // observations counted in an overflow series
  uint64_t operations_folded = 0;  // calls whose operation name was not a plain word
  uint64_t series_evicted = 0;
  uint64_t untracked_calls = 0;  // calls of fingerprints past max_tracked (labelled "other")
};

// Event thread only (scrapes read the families, which lock themselves).
class DbMetrics : public db::DbObserver {
 public:
  explicit DbMetrics(prometheus::Registry& registry, DbMetricsLimits limits = {});

  using db::DbObserver::OnEncryptedConnection;
  using db::DbObserver::OnRequestCalls;
  using db::DbObserver::OnUnjoinedCall;
  void OnRequestCalls(const std::string& service, const std::string& method,
                      const std::string& route, uint64_t req_start_ns, uint64_t req_end_ns,
                      const std::vector<db::DbCall>& calls, const db::RequestAnalysis& analysis,
                      const WorkerPod* pod) override;
  void OnUnjoinedCall(const std::string& service, const db::DbCall& call,
                      const WorkerPod* pod) override;
  void OnEncryptedConnection(const std::string& service, const std::string& system,
                             const WorkerPod* pod) override;

  // The db_query_id a call of this service gets now.
  std::string QueryId(const std::string& service, const db::DbCall& call) const;
  void EvictIdle(uint64_t now_ns);
  DbMetricsStats stats() const;

 private:
  template <typename M>
  struct Series {
    M* metric;
    uint64_t last_ns;
  };
  bool Room();
  void RecordCall(const std::string& service, const std::string& route, const db::DbCall& call,
                  const WorkerPod* pod);
  // What the pod adds to a series' key ("" when pod labels are off), and to
  // its labels; room false: the overflow series' ("_OTHER" namespace, pod).
  std::string PodKey(const WorkerPod* pod, bool room) const;
  prometheus::Labels WithPod(prometheus::Labels labels, const WorkerPod* pod, bool room) const;

  const DbMetricsLimits limits_;
  QueryIdRanker ranker_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& per_request_;
  prometheus::Family<prometheus::Counter>& n_plus_one_;
  prometheus::Family<prometheus::Counter>& encrypted_;
  std::unordered_map<std::string, Series<prometheus::Histogram>> duration_cache_;
  std::unordered_map<std::string, Series<prometheus::Histogram>> per_request_cache_;
  std::unordered_map<std::string, Series<prometheus::Counter>> n_plus_one_cache_;
  std::unordered_map<std::string, Series<prometheus::Counter>> encrypted_cache_;
  uint64_t latest_ns_ = 0;  // newest call or request end seen (encrypted counts have no time)
  DbMetricsStats stats_;
};

}  // namespace perfd
