// DbMetrics: OTel db names and labels, db_query_id for the top K
// fingerprints by time ("other" for the rest, "housekeeping"), queries per
// request (0 counts), the N+1 counter, encrypted connections, the series
// cap and idle eviction; QueryIdRanker on its own.
#include "daemon/exporters/db_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/exporters/query_id_ranker.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;
const char* kDuration = "db_client_operation_duration_seconds";

db::DbCall Call(uint64_t fp, uint64_t start_ns, uint64_t ms, bool housekeeping = false) {
  db::DbCall c;
  c.fingerprint_id = fp;
  c.operation = "SELECT";
  c.collection = "t" + std::to_string(fp);
  c.start_ns = start_ns;
  c.end_ns = start_ns + ms * kMs;
  c.housekeeping = housekeeping;
  return c;
}

struct Fixture {
  explicit Fixture(DbMetricsLimits limits = {}) : metrics(registry, limits) {}

  // family -> label sets ("k=v,...") -> sample count (histograms) or value (counters).
  std::map<std::string, std::map<std::string, double>> Exported() const {
    std::map<std::string, std::map<std::string, double>> out;
    for (const auto& family : registry.Collect()) {
      auto& sets = out[family.name];
      for (const auto& metric : family.metric) {
        std::string s;
        for (const auto& label : metric.label) s += label.name + "=" + label.value + ",";
        sets[s] = family.type == prometheus::MetricType::Histogram
                      ? double(metric.histogram.sample_count)
                      : metric.counter.value;
      }
    }
    return out;
  }

  prometheus::Registry registry;
  DbMetrics metrics;
};

TEST(DbMetricsTest, DurationLabelsAndQueriesPerRequestIncludingZero) {
  Fixture f;
  const uint64_t t = 100 * kSec;
  f.metrics.OnRequestCalls("shop", "GET", "/users/{id}", t, t + 50 * kMs,
                           {Call(0x1f, t, 3), Call(9, t + 5 * kMs, 1, true)});
  f.metrics.OnRequestCalls("shop", "GET", "/health", t, t + kMs, {});
  auto e = f.Exported();
  EXPECT_EQ(e[kDuration].at("db_collection_name=t31,db_operation_name=SELECT,db_query_id="
                            "000000000000001f,db_system_name=postgresql,http_route=/users/"
                            "{id},service_name=shop,"),
            1);
  EXPECT_EQ(e[kDuration].at("db_collection_name=t9,db_operation_name=SELECT,db_query_id="
                            "housekeeping,db_system_name=postgresql,http_route=/users/"
                            "{id},service_name=shop,"),
            1);
  EXPECT_EQ(e["perfd_db_queries_per_request"].at("http_route=/health,service_name=shop,"), 1);
  // Bucket check: the /users request counted 1 query (housekeeping excluded).
  for (const auto& family : f.registry.Collect()) {
    if (family.name != "perfd_db_queries_per_request") continue;
    for (const auto& m : family.metric) {
      const bool health = m.label[0].value == "/health";
      EXPECT_DOUBLE_EQ(m.histogram.sample_sum, health ? 0.0 : 1.0);
      EXPECT_EQ(m.histogram.bucket.at(0).cumulative_count, health ? 1u : 0u);  // le="0"
    }
  }
  EXPECT_TRUE(e["perfd_db_n_plus_one_requests_total"].empty());
}

TEST(DbMetricsTest, TopKFingerprintsGetIdsTheRestAreOther) {
  DbMetricsLimits limits;
  limits.top_k = 2;
  Fixture f(limits);
  uint64_t t = 100 * kSec;
  // fp 1 and 2 are labelled at once (room in the top set); fp 3 is "other"
  // with its collection folded.
  for (uint64_t fp : {1, 2, 3}) f.metrics.OnUnjoinedCall("shop", Call(fp, t, fp == 3 ? 50 : 1));
  EXPECT_EQ(f.metrics.QueryId("shop", Call(1, 0, 0)), "0000000000000001");
  EXPECT_EQ(f.metrics.QueryId("shop", Call(3, 0, 0)), "other");
  EXPECT_EQ(f.Exported()[kDuration].count(
                "db_collection_name=_OTHER,db_operation_name=SELECT,db_query_id=other,db_"
                "system_name=postgresql,http_route=(no request),service_name=shop,"),
            1u);
  // After a period, fp 3 (most time) and fp 2 take the top set.
  for (int i = 0; i < 5; ++i) f.metrics.OnUnjoinedCall("shop", Call(2, t + kSec, 10));
  f.metrics.OnUnjoinedCall("shop", Call(3, t + 11 * kSec, 50));
  EXPECT_EQ(f.metrics.QueryId("shop", Call(3, 0, 0)), "0000000000000003");
  EXPECT_EQ(f.metrics.QueryId("shop", Call(2, 0, 0)), "0000000000000002");
  EXPECT_EQ(f.metrics.QueryId("shop", Call(1, 0, 0)), "other");
  EXPECT_EQ(f.metrics.QueryId("shop", Call(1, 0, 0, true)), "housekeeping");
}

TEST(DbMetricsTest, NPlusOneRequestsAndEncryptedConnectionsAreCounted) {
  Fixture f;
  const uint64_t t = 100 * kSec;
  std::vector<db::DbCall> loop;
  for (int i = 0; i < 20; ++i) loop.push_back(Call(5, t + 2 * i * kMs, 1));
  f.metrics.OnRequestCalls("shop", "GET", "/orders", t, t + kSec, loop);
  f.metrics.OnRequestCalls("shop", "GET", "/orders", t, t + kSec, loop);
  f.metrics.OnRequestCalls("shop", "GET", "/dash", t, t + kSec,
                           {Call(5, t, 20), Call(5, t + kMs, 20), Call(5, t + 2 * kMs, 20),
                            Call(5, t + 3 * kMs, 20), Call(5, t + 4 * kMs, 20)});  // fan-out
  f.metrics.OnEncryptedConnection("shop", "postgresql");
  auto e = f.Exported();
  EXPECT_EQ(e["perfd_db_n_plus_one_requests_total"],
            (std::map<std::string, double>{{"http_route=/orders,service_name=shop,", 2}}));
  EXPECT_EQ(
      e["perfd_db_connections_encrypted_total"].at("db_system_name=postgresql,service_name=shop,"),
      1);
}

TEST(DbMetricsTest, SeriesCapOverflowAndIdleEviction) {
  DbMetricsLimits limits;
  limits.series.max_series = 4;
  limits.series.idle_ns = 900 * kSec;
  Fixture f(limits);
  for (int i = 0; i < 10; ++i) {
    const uint64_t t = 100 * kSec;
    f.metrics.OnRequestCalls("shop", "GET", "/r" + std::to_string(i), t, t + kMs, {Call(1, t, 1)});
  }
  auto e = f.Exported();
  EXPECT_EQ(e[kDuration].size() + e["perfd_db_queries_per_request"].size(), 6u);  // 4 + overflow
  EXPECT_EQ(e[kDuration].at("db_collection_name=_OTHER,db_operation_name=_OTHER,db_query_id=_"
                            "OTHER,db_system_name=_OTHER,http_route=_OTHER,service_name=_OTHER,"),
            8);
  EXPECT_GT(f.metrics.stats().series_over_cap, 0u);
  f.metrics.EvictIdle(999 * kSec);
  EXPECT_EQ(f.metrics.stats().series, 6u);
  f.metrics.EvictIdle(1001 * kSec);
  EXPECT_EQ(f.metrics.stats().series, 0u);
  EXPECT_EQ(f.metrics.stats().series_evicted, 6u);
}

TEST(DbMetricsTest, OddOperationNamesAreFolded) {
  Fixture f;
  db::DbCall c = Call(1, 100 * kSec, 1);
  c.operation = "get\x1b[2J";
  f.metrics.OnUnjoinedCall("shop", c);
  EXPECT_EQ(f.metrics.stats().operations_folded, 1u);
}

TEST(QueryIdRankerTest, TrackedFingerprintsAreBoundedAndForgottenWhenIdle) {
  QueryIdRanker ranker(2, 3, 10 * kSec);
  for (uint64_t fp = 1; fp <= 5; ++fp) ranker.Add("s", db::System::kRedis, fp, kMs, 100 * kSec);
  EXPECT_EQ(ranker.tracked(), 3u);
  EXPECT_EQ(ranker.stats().untracked_calls, 2u);
  EXPECT_FALSE(ranker.IsTop("s", db::System::kRedis, 4));
  EXPECT_FALSE(ranker.IsTop("s", db::System::kPostgresql, 1));  // system is part of the key
  for (int i = 1; i <= 40; ++i) ranker.EvictIdle((100 + 10 * i) * kSec);
  EXPECT_EQ(ranker.tracked(), 0u);
}

TEST(DbMetricsTest, PodLabelsWhenOn) {
  DbMetricsLimits limits;
  limits.pod_labels = PodLabels{true, "node-1"};
  Fixture f(limits);
  const WorkerPod a{"prod", "api-1"};
  const uint64_t t = 100 * kSec;
  f.metrics.OnRequestCalls("shop", "GET", "/u", t, t + kSec, {Call(1, t, 5)},
                           db::AnalyzeRequest({Call(1, t, 5)}, db::NPlusOneDetector()), &a);
  f.metrics.OnUnjoinedCall("shop", Call(1, t, 5));  // a worker outside any pod
  f.metrics.OnEncryptedConnection("shop", "postgresql", &a);
  auto e = f.Exported();
  const std::string pod_a = "k8s_namespace_name=prod,k8s_node_name=node-1,k8s_pod_name=api-1,";
  const std::string no_pod = "k8s_namespace_name=,k8s_node_name=node-1,k8s_pod_name=,";
  EXPECT_EQ(e["perfd_db_queries_per_request"],
            (std::map<std::string, double>{{"http_route=/u," + pod_a + "service_name=shop,", 1}}));
  EXPECT_EQ(e["perfd_db_connections_encrypted_total"],
            (std::map<std::string, double>{
                {"db_system_name=postgresql," + pod_a + "service_name=shop,", 1}}));
  ASSERT_EQ(e[kDuration].size(), 2u);
  for (const auto& [labels, n] : e[kDuration]) {
    EXPECT_TRUE(labels.find(pod_a) != std::string::npos || labels.find(no_pod) != std::string::npos)
        << labels;
  }
}

TEST(DbMetricsTest, NoPodLabelsByDefault) {
  Fixture f;
  const WorkerPod a{"prod", "api-1"};
  f.metrics.OnEncryptedConnection("shop", "postgresql", &a);
  EXPECT_EQ(f.Exported()["perfd_db_connections_encrypted_total"],
            (std::map<std::string, double>{{"db_system_name=postgresql,service_name=shop,", 1}}));
}

}  // namespace
}  // namespace perfd
