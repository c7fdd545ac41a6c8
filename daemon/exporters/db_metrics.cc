#include "daemon/exporters/db_metrics.h"

#include <algorithm>
#include <cstdio>

#include "daemon/aggregator/bounded_labels.h"

namespace perfd {
namespace {

constexpr size_t kMaxOperationLength = 32;

const std::string& Other() {
  static const std::string other = kOtherLabel;
  return other;
}

std::string Key(std::initializer_list<const std::string*> parts) {
  std::string k;
  for (const std::string* p : parts) k.append(*p).push_back('\0');
  return k;
}

// "SELECT", "CLIENT SETNAME": what the decoders produce. Anything else
// (a Redis command name is whatever the client sent) is folded.
bool IsPlainOperation(const std::string& op) {
  if (op.size() > kMaxOperationLength) return false;
  return std::all_of(op.begin(), op.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '_';
  });
}

// Finds the series under `key`, else creates it with `labels` when there
// is room, else the overflow series (every label "_OTHER").
template <typename Cache, typename Make>
auto& FindOrAdd(Cache& cache, const std::string& key, bool room, const std::string& overflow_key,
                Make&& make) {
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const std::string& k = room ? key : overflow_key;
  it = cache.find(k);
  if (it == cache.end()) it = cache.emplace(k, make(room)).first;
  return it->second;
}

}  // namespace

const prometheus::Histogram::BucketBoundaries& DbDurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {0.001, 0.005, 0.01, 0.05, 0.1,
                                                            0.5,   1,     5,    10};
  return b;
}

const prometheus::Histogram::BucketBoundaries& QueriesPerRequestBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {0, 1, 2, 5, 10, 20, 50, 100};
  return b;
}

DbMetrics::DbMetrics(prometheus::Registry& registry, DbMetricsLimits limits)
    : limits_(limits),
      ranker_(limits.top_k, limits.max_tracked_fingerprints),
      duration_(prometheus::BuildHistogram()
                    .Name("db_client_operation_duration_seconds")
                    .Help("Duration of database client operations, request sent to reply "
                          "complete, seen on the traced worker's client connection")
                    .Register(registry)),
      per_request_(prometheus::BuildHistogram()
                       .Name("perfd_db_queries_per_request")
                       .Help("Database queries (driver housekeeping excluded) per HTTP request")
                       .Register(registry)),
      n_plus_one_(prometheus::BuildCounter()
                      .Name("perfd_db_n_plus_one_requests_total")
                      .Help("HTTP requests with an N+1 finding: the same statement sent N or "
                            "more times in a row, each after the previous reply")
                      .Register(registry)),
      encrypted_(prometheus::BuildCounter()
                     .Name("perfd_db_connections_encrypted_total")
                     .Help("Database client connections that negotiated TLS (counted, not "
                           "decoded)")
                     .Register(registry)) {}

bool DbMetrics::Room() {
  const size_t series = duration_cache_.size() + per_request_cache_.size() +
                        n_plus_one_cache_.size() + encrypted_cache_.size();
  if (series < limits_.series.max_series) return true;
  ++stats_.series_over_cap;
  return false;
}

std::string DbMetrics::PodKey(const WorkerPod* pod, bool room) const {
  if (!limits_.pod_labels.enabled) return "";
  if (!room) return std::string(1, '\1') + Other() + '\0' + Other();
  if (!pod) return std::string(1, '\1') + '\0';
  return '\1' + pod->k8s_namespace + '\0' + pod->k8s_pod;
}

prometheus::Labels DbMetrics::WithPod(prometheus::Labels labels, const WorkerPod* pod,
                                      bool room) const {
  if (!limits_.pod_labels.enabled) return labels;
  const std::string empty;
  labels.emplace("k8s_namespace_name", !room ? Other() : (pod ? pod->k8s_namespace : empty));
  labels.emplace("k8s_pod_name", !room ? Other() : (pod ? pod->k8s_pod : empty));
  labels.emplace("k8s_node_name", limits_.pod_labels.node_name);
  return labels;
}

std::string DbMetrics::QueryId(const std::string& service, const db::DbCall& call) const {
  if (call.housekeeping) return "housekeeping";
  if (!ranker_.IsTop(service, call.system, call.fingerprint_id)) return "other";
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(call.fingerprint_id));
  return buf;
}

void DbMetrics::RecordCall(const std::string& service, const std::string& route,
                           const db::DbCall& call, const WorkerPod* pod) {
  latest_ns_ = std::max(latest_ns_, call.end_ns);
  if (!call.housekeeping)
    ranker_.Add(service, call.system, call.fingerprint_id, call.duration_ns(), call.end_ns);
  const std::string query_id = QueryId(service, call);
  const std::string system = db::SystemName(call.system);
  const bool plain = IsPlainOperation(call.operation);
  if (!plain) ++stats_.operations_folded;
  const std::string& operation = plain ? call.operation : Other();
  const std::string& collection =
      query_id == "other" && !call.collection.empty() ? Other() : call.collection;
  const std::string key =
      Key({&service, &system, &operation, &collection, &route, &query_id}) + PodKey(pod, true);
  const std::string& o = Other();
  auto& series = FindOrAdd(
      duration_cache_, key, duration_cache_.count(key) > 0 || Room(),
      Key({&o, &o, &o, &o, &o, &o}) + PodKey(pod, false), [&](bool room) {
        prometheus::Labels labels = {{"service_name", room ? service : o},
                                     {"db_system_name", room ? system : o},
                                     {"db_operation_name", room ? operation : o},
                                     {"db_collection_name", room ? collection : o},
                                     {"http_route", room ? route : o},
                                     {"db_query_id", room ? query_id : o}};
        return Series<prometheus::Histogram>{
            &duration_.Add(WithPod(std::move(labels), pod, room), DbDurationBuckets()), 0};
      });
  series.metric->Observe(static_cast<double>(call.duration_ns()) / 1e9);
  series.last_ns = std::max(series.last_ns, call.end_ns);
}

void DbMetrics::OnRequestCalls(const std::string& service, const std::string& /*method*/,
                               const std::string& route, uint64_t /*req_start_ns*/,
                               uint64_t req_end_ns, const std::vector<db::DbCall>& calls,
                               const db::RequestAnalysis& analysis, const WorkerPod* pod) {
  latest_ns_ = std::max(latest_ns_, req_end_ns);
  for (const db::DbCall& call : calls) RecordCall(service, route, call, pod);

  const uint64_t queries = analysis.time.queries;
  const std::string key = Key({&service, &route}) + PodKey(pod, true);
  const std::string& o = Other();
  const std::string overflow = Key({&o, &o}) + PodKey(pod, false);
  auto& per_request = FindOrAdd(
      per_request_cache_, key, per_request_cache_.count(key) > 0 || Room(), overflow,
      [&](bool room) {
        return Series<prometheus::Histogram>{
            &per_request_.Add(
                WithPod({{"service_name", room ? service : o}, {"http_route", room ? route : o}},
                        pod, room),
                QueriesPerRequestBuckets()),
            0};
      });
  per_request.metric->Observe(static_cast<double>(queries));
  per_request.last_ns = std::max(per_request.last_ns, req_end_ns);

  if (analysis.patterns.n_plus_one.empty()) return;
  auto& n1 = FindOrAdd(
      n_plus_one_cache_, key, n_plus_one_cache_.count(key) > 0 || Room(), overflow, [&](bool room) {
        return Series<prometheus::Counter>{
            &n_plus_one_.Add(
                WithPod({{"service_name", room ? service : o}, {"http_route", room ? route : o}},
                        pod, room)),
            0};
      });
  n1.metric->Increment();
  n1.last_ns = std::max(n1.last_ns, req_end_ns);
}

void DbMetrics::OnUnjoinedCall(const std::string& service, const db::DbCall& call,
                               const WorkerPod* pod) {
  static const std::string no_request = "(no request)";
  RecordCall(service, no_request, call, pod);
}

void DbMetrics::OnEncryptedConnection(const std::string& service, const std::string& system,
                                      const WorkerPod* pod) {
  const std::string key = Key({&service, &system}) + PodKey(pod, true);
  const std::string& o = Other();
  auto& series = FindOrAdd(encrypted_cache_, key, encrypted_cache_.count(key) > 0 || Room(),
                           Key({&o, &o}) + PodKey(pod, false), [&](bool room) {
                             return Series<prometheus::Counter>{
                                 &encrypted_.Add(WithPod({{"service_name", room ? service : o},
                                                          {"db_system_name", room ? system : o}},
                                                         pod, room)),
                                 0};
                           });
  series.metric->Increment();
  series.last_ns = std::max(series.last_ns, latest_ns_);
}

void DbMetrics::EvictIdle(uint64_t now_ns) {
  ranker_.EvictIdle(now_ns);
  auto sweep = [&](auto& cache, auto& family) {
    for (auto it = cache.begin(); it != cache.end();) {
      // An encrypted count made before any call has no time yet: stamp it.
      if (it->second.last_ns == 0) it->second.last_ns = now_ns;
      if (it->second.last_ns + limits_.series.idle_ns > now_ns) {
        ++it;
        continue;
      }
      family.Remove(it->second.metric);
      it = cache.erase(it);
      ++stats_.series_evicted;
    }
  };
  sweep(duration_cache_, duration_);
  sweep(per_request_cache_, per_request_);
  sweep(n_plus_one_cache_, n_plus_one_);
  sweep(encrypted_cache_, encrypted_);
}

DbMetricsStats DbMetrics::stats() const {
  DbMetricsStats out = stats_;
  out.series = duration_cache_.size() + per_request_cache_.size() + n_plus_one_cache_.size() +
               encrypted_cache_.size();
  out.untracked_calls = ranker_.stats().untracked_calls;
  return out;
}

}  // namespace perfd
