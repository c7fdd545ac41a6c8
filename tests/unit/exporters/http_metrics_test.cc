// HttpMetrics' bounds: unknown methods and statuses folded into "_OTHER",
// the global series cap (overflow series, counted), idle series removed
// from the registry (time injected through the requests' timestamps).
#include "daemon/exporters/http_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <set>
#include <string>

#include "daemon/exporters/cardinality_stats.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;

struct Fixture {
  explicit Fixture(SeriesLimits limits = {}, PodLabels pods = {})
      : metrics(registry, limits, pods) {}

  void Request(const std::string& service, const std::string& route, const std::string& method,
               int status, uint64_t end_s, bool aborted = false, const WorkerPod* pod = nullptr) {
    RoutedRequest r{service, route, method};
    r.pod = pod;
    r.start_ns = end_s * kSec - 1000000;
    metrics.OnStart(r);
    r.status = status;
    r.aborted = aborted;
    r.end_ns = end_s * kSec;
    metrics.OnComplete(r);
  }

  // family name -> label sets exported ("k=v,k=v").
  std::map<std::string, std::set<std::string>> Exported() const {
    std::map<std::string, std::set<std::string>> out;
    for (const auto& family : registry.Collect()) {
      auto& sets = out[family.name];
      for (const auto& metric : family.metric) {
        std::string s;
        for (const auto& label : metric.label) s += label.name + "=" + label.value + ",";
        sets.insert(s);
      }
    }
    return out;
  }

  prometheus::Registry registry;
  HttpMetrics metrics;
};

const char* kDuration = "http_server_request_duration_seconds";

TEST(HttpMetricsTest, UnknownMethodsAndStatusesAreOther) {
  Fixture f;
  f.Request("shop", "/a", "BREW", 200, 100);
  f.Request("shop", "/a", "GET", 999, 100);
  f.Request("shop", "/a", "GET", 200, 100);
  auto sets = f.Exported()[kDuration];
  EXPECT_EQ(sets, (std::set<std::string>{
                      "http_request_method=GET,http_response_status_code=200,http_route=/"
                      "a,service_name=shop,",
                      "http_request_method=GET,http_response_status_code=_OTHER,http_route=/"
                      "a,service_name=shop,",
                      "http_request_method=_OTHER,http_response_status_code=200,http_route=/"
                      "a,service_name=shop,",
                  }));
  EXPECT_EQ(f.metrics.stats().methods_folded, 1u);
  EXPECT_EQ(f.metrics.stats().statuses_folded, 1u);
}

TEST(HttpMetricsTest, SeriesOverTheCapGoToOneOverflowSeries) {
  SeriesLimits limits;
  limits.max_series = 10;  // 5 routes: one active gauge + one duration set each
  Fixture f(limits);
  for (int i = 0; i < 50; ++i) f.Request("shop", "/r" + std::to_string(i), "GET", 200, 100);
  auto exported = f.Exported();
  // 5 own sets, plus the overflow one.
  EXPECT_EQ(exported[kDuration].size(), 6u);
  EXPECT_EQ(exported[kDuration].count(
                "http_request_method=_OTHER,http_response_status_code=200,http_route=_OTHER,"
                "service_name=_OTHER,"),
            1u);
  EXPECT_EQ(exported["http_server_active_requests"].size(), 6u);
  HttpMetricsStats s = f.metrics.stats();
  EXPECT_EQ(s.series, 12u);
  // Each of the 45 requests over the cap: its gauge at start and its
  // histogram at completion.
  EXPECT_EQ(s.series_over_cap, 90u);
  // Nothing is lost: the overflow histogram counted the 45.
  for (const auto& family : f.registry.Collect()) {
    if (family.name != kDuration) continue;
    uint64_t total = 0;
    for (const auto& m : family.metric) total += m.histogram.sample_count;
    EXPECT_EQ(total, 50u);
  }
  // The in-flight gauges went back to zero, the overflow one included.
  for (const auto& family : f.registry.Collect()) {
    if (family.name != "http_server_active_requests") continue;
    for (const auto& m : family.metric) EXPECT_EQ(m.gauge.value, 0);
  }
}

TEST(HttpMetricsTest, PodLabelsWhenOn) {
  const WorkerPod a{"prod", "shop-1"}, b{"prod", "shop-2"};
  Fixture off;
  off.Request("shop", "/a", "GET", 200, 100, false, &a);
  EXPECT_EQ(off.Exported()[kDuration],
            (std::set<std::string>{"http_request_method=GET,http_response_status_code=200,"
                                   "http_route=/a,service_name=shop,"}));

  Fixture on({}, PodLabels{true, "node-1"});
  on.Request("shop", "/a", "GET", 200, 100, false, &a);
  on.Request("shop", "/a", "GET", 200, 100, false, &b);
  on.Request("shop", "/a", "GET", 200, 100);  // a worker outside any pod
  on.Request("shop", "/a", "GET", 0, 100, /*aborted=*/true, &a);
  const std::string tail = "http_request_method=GET,http_response_status_code=200,http_route=/a,";
  EXPECT_EQ(on.Exported()[kDuration],
            (std::set<std::string>{
                tail + "k8s_namespace_name=prod,k8s_node_name=node-1,k8s_pod_name=shop-1,"
                       "service_name=shop,",
                tail + "k8s_namespace_name=prod,k8s_node_name=node-1,k8s_pod_name=shop-2,"
                       "service_name=shop,",
                tail + "k8s_namespace_name=,k8s_node_name=node-1,k8s_pod_name=,service_name=shop,",
            }));
  EXPECT_EQ(on.Exported()["perfd_http_server_aborted_requests_total"],
            (std::set<std::string>{"http_request_method=GET,http_route=/a,k8s_namespace_name=prod,"
                                   "k8s_node_name=node-1,k8s_pod_name=shop-1,service_name=shop,"}));
  // In-flight gauges came back to zero per pod.
  for (const auto& family : on.registry.Collect()) {
    if (family.name != "http_server_active_requests") continue;
    EXPECT_EQ(family.metric.size(), 3u);
    for (const auto& m : family.metric) EXPECT_EQ(m.gauge.value, 0);
  }
}

TEST(HttpMetricsTest, PodLabelsCountAgainstTheSeriesCap) {
  SeriesLimits limits;
  limits.max_series = 4;
  Fixture f(limits, PodLabels{true, "n"});
  std::vector<WorkerPod> pods;
  for (int i = 0; i < 10; ++i) pods.push_back({"ns", "p" + std::to_string(i)});
  for (const auto& p : pods) f.Request("shop", "/a", "GET", 200, 100, false, &p);
  auto exported = f.Exported()[kDuration];
  EXPECT_EQ(exported.size(), 3u);  // 2 pods' own sets + the overflow one
  EXPECT_EQ(exported.count("http_request_method=_OTHER,http_response_status_code=200,"
                           "http_route=_OTHER,k8s_namespace_name=_OTHER,k8s_node_name=n,"
                           "k8s_pod_name=_OTHER,service_name=_OTHER,"),
            1u);
  for (const auto& family : f.registry.Collect()) {
    if (family.name != "http_server_active_requests") continue;
    for (const auto& m : family.metric) EXPECT_EQ(m.gauge.value, 0);
  }
}

TEST(HttpMetricsTest, IdleSeriesAreRemoved) {
  SeriesLimits limits;
  limits.idle_ns = 900 * kSec;
  Fixture f(limits);
  f.Request("old", "/a", "GET", 200, 1000);
  f.Request("old", "/a", "GET", 0, 1000, /*aborted=*/true);
  f.Request("new", "/a", "GET", 200, 1500);
  f.metrics.EvictIdle(1899 * kSec);
  EXPECT_EQ(f.metrics.stats().series, 5u);
  f.metrics.EvictIdle(1900 * kSec);
  auto exported = f.Exported();
  EXPECT_EQ(exported[kDuration],
            (std::set<std::string>{"http_request_method=GET,http_response_status_code=200,"
                                   "http_route=/a,service_name=new,"}));
  EXPECT_EQ(exported.count("perfd_http_server_aborted_requests_total"), 0u);
  EXPECT_EQ(f.metrics.stats().series, 2u);
  EXPECT_EQ(f.metrics.stats().series_evicted, 3u);
  // The same labels come back as a new series.
  f.Request("old", "/a", "GET", 200, 2000);
  EXPECT_EQ(f.Exported()[kDuration].size(), 2u);
}

TEST(HttpMetricsTest, InFlightGaugesAreNotEvicted) {
  SeriesLimits limits;
  limits.idle_ns = 10 * kSec;
  Fixture f(limits);
  const std::string service = "shop", route = "/slow", method = "GET";
  RoutedRequest r{service, route, method};
  r.start_ns = 100 * kSec;
  f.metrics.OnStart(r);
  f.metrics.EvictIdle(1000 * kSec);
  EXPECT_EQ(f.metrics.stats().series, 1u);
  r.end_ns = 1001 * kSec;
  r.status = 200;
  f.metrics.OnComplete(r);
  f.metrics.EvictIdle(1011 * kSec);
  EXPECT_EQ(f.metrics.stats().series, 0u);
}

TEST(HttpMetricsTest, EvictionMakesRoomUnderTheCap) {
  SeriesLimits limits;
  limits.max_series = 2;
  limits.idle_ns = 10 * kSec;
  Fixture f(limits);
  f.Request("shop", "/a", "GET", 200, 100);
  f.metrics.EvictIdle(200 * kSec);
  f.Request("shop", "/b", "GET", 200, 300);
  EXPECT_EQ(f.metrics.stats().series_over_cap, 0u);
  EXPECT_EQ(f.Exported()[kDuration].size(), 1u);
}

// Every sample AddCardinalityStats makes is in the one table of names.
TEST(CardinalityStatsTest, NamesAreInTheSelfMetricsTable) {
  std::vector<SelfSample> samples;
  AddCardinalityStats(AggregatorStats{}, HttpMetricsStats{}, &samples);
  EXPECT_FALSE(samples.empty());
  SelfMetrics self;
  EXPECT_NO_THROW(self.Publish(samples));
}

}  // namespace
}  // namespace perfd
