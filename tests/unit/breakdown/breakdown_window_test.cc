#include "daemon/breakdown/breakdown_window.h"

#include <gtest/gtest.h>

namespace perfd::breakdown {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kS = 1000 * kMs;

DecidedRequest Req(const std::string& route, uint64_t end, uint64_t latency_ms, uint64_t db_ms) {
  DecidedRequest d;
  d.route = route;
  d.end_ns = end;
  d.parts.latency_ns = latency_ms * kMs;
  d.parts.ns[size_t(Part::kDbWait)] = db_ms * kMs;
  d.parts.ns[size_t(Part::kOther)] = (latency_ms - db_ms) * kMs;
  return d;
}

TEST(BreakdownWindow, MeansQuantilesAndTheTail) {
  BreakdownWindow w(300);
  // 99 typical requests (10 ms, 2 of db) and one slow one (100 ms, 90 of db).
  for (int i = 0; i < 99; ++i) w.Add("api", Req("GET /a", 100 * kS + i * kMs, 10, 2));
  w.Add("api", Req("GET /a", 100 * kS + 500 * kMs, 100, 90));
  const auto views = w.Snapshot("api", 60, 101 * kS);
  ASSERT_EQ(views.size(), 1u);
  const RouteBreakdownView& v = views[0];
  EXPECT_EQ(v.requests, 100u);
  EXPECT_NEAR(v.mean_s, (99 * 0.010 + 0.100) / 100, 1e-9);
  const PartFigures& db = v.parts[size_t(Part::kDbWait)];
  EXPECT_NEAR(db.mean_s, (99 * 0.002 + 0.090) / 100, 1e-9);
  EXPECT_NEAR(db.p50_s, 0.002, 1e-9);
  EXPECT_NEAR(v.tail_threshold_s, 0.010, 1e-9);  // nearest-rank p99 of 100 values
  // Tail: the requests at or above p99 (all 100 here share 10 ms but one).
  EXPECT_GE(v.tail_requests, 1u);
  double parts = 0;
  for (const PartFigures& p : v.parts) parts += p.mean_s;
  EXPECT_NEAR(parts, v.mean_s, 1e-9);
  double tail = 0;
  for (const PartFigures& p : v.parts) tail += p.tail_mean_s;
  EXPECT_NEAR(tail, v.tail_mean_s, 1e-6);
}

TEST(BreakdownWindow, TailSeparatesTheSlowest) {
  BreakdownWindow w(300);
  for (int i = 0; i < 200; ++i) w.Add("api", Req("GET /a", 100 * kS + i * kMs, 10, 2));
  for (int i = 0; i < 3; ++i) w.Add("api", Req("GET /a", 100 * kS + 300 * kMs, 100, 90));
  const RouteBreakdownView v = w.Snapshot("api", 60, 101 * kS).at(0);
  EXPECT_NEAR(v.tail_threshold_s, 0.100, 1e-9);
  EXPECT_EQ(v.tail_requests, 3u);
  EXPECT_NEAR(v.parts[size_t(Part::kDbWait)].tail_mean_s, 0.090, 1e-9);
}

TEST(BreakdownWindow, WindowRouteFilterAndEviction) {
  BreakdownWindow w(300);
  w.Add("api", Req("GET /a", 10 * kS, 10, 0));
  w.Add("api", Req("POST /b", 100 * kS, 20, 0));
  EXPECT_EQ(w.Snapshot("api", 60, 101 * kS).size(), 1u);  // /a is out of the window
  EXPECT_EQ(w.Snapshot("api", 300, 101 * kS).size(), 2u);
  EXPECT_EQ(w.Snapshot("api", 300, 101 * kS, "/b").size(), 1u);
  EXPECT_EQ(w.Snapshot("api", 300, 101 * kS, "GET /b").size(), 0u);
  EXPECT_EQ(w.Snapshot("other", 300, 101 * kS).size(), 0u);
  w.EvictIdle(200 * kS, 60 * kS);
  EXPECT_EQ(w.services(), 0u);
}

TEST(BreakdownWindow, RecentRingIsBounded) {
  BreakdownWindow w(300);
  for (size_t i = 0; i < BreakdownWindow::kRecentPerRoute + 100; ++i)
    w.Add("api", Req("GET /a", 100 * kS + i * 1000, 10, 1));
  const RouteBreakdownView v = w.Snapshot("api", 60, 101 * kS).at(0);
  EXPECT_EQ(v.requests, BreakdownWindow::kRecentPerRoute + 100);
  EXPECT_EQ(v.recent, BreakdownWindow::kRecentPerRoute);
}

}  // namespace
}  // namespace perfd::breakdown
