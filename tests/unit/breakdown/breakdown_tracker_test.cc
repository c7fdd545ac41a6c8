#include "daemon/breakdown/breakdown_tracker.h"

#include <gtest/gtest.h>

#include <map>

#include "daemon/profile/cpu_profile.h"

namespace perfd::breakdown {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kDelay = 3000 * kMs;
constexpr uint32_t kPid = 10;

struct Fixture : ::testing::Test {
  std::vector<std::pair<std::string, DecidedRequest>> decided;
  BreakdownTracker tracker{[this](const std::string& s, const DecidedRequest& r) {
                             decided.push_back({s, r});
                           },
                           1 * kMs, kDelay};
  std::string service = "api", route = "/orders", method = "POST";

  void Complete(uint64_t conn, uint64_t arrival, uint64_t start, uint64_t end,
                std::vector<db::DbCall> calls = {}) {
    RoutedRequest r{service, route, method};
    r.pid = kPid;
    r.conn_id = conn;
    r.arrival_ns = arrival;
    r.start_ns = start;
    r.end_ns = end;
    tracker.OnRequest(r, calls, end);
  }
  void Sample(uint64_t conn, uint64_t ts, python::Category c, uint32_t tid = kPid) {
    ProfileSample s;
    s.pid = kPid;
    s.tid = tid;
    s.ts_ns = ts;
    s.category = int(c);
    s.identity = true;
    s.conn_id = conn;
    tracker.OnAttributedSample(s);
  }
  uint64_t Part(size_t i, breakdown::Part p) const {
    return decided.at(i).second.parts.ns[size_t(p)];
  }
};

TEST_F(Fixture, JoinsSamplesCallsPausesAndBlockingEventsOfItsOwn) {
  db::DbCall call;
  call.start_ns = 10 * kMs;
  call.reply_arrival_ns = 28 * kMs;
  call.end_ns = 30 * kMs;
  Sample(1, 5 * kMs, python::Category::kAuth);
  Sample(1, 6 * kMs, python::Category::kAuth);
  Sample(1, 45 * kMs, python::Category::kApp, 11);  // inside its GC pause: GC, not CPU
  Sample(2, 7 * kMs, python::Category::kApp);       // another connection's
  py_gc_pause gc{};
  gc.tgid = kPid;
  gc.tid = 11;
  gc.conn_id = 1;
  gc.start_ns = 44 * kMs;
  gc.duration_ns = 2 * kMs;
  tracker.OnGcPause(gc);
  BlockingEvent other;
  other.pid = kPid;
  other.start_ns = 31 * kMs;
  other.busy_ns = 4 * kMs;
  other.route = "GET /slow";
  other.blocker_conns = {2};
  tracker.OnBlockingEvent(other);
  BlockingEvent own = other;
  own.start_ns = 36 * kMs;
  own.busy_ns = 2 * kMs;
  own.blocker_conns = {1};
  tracker.OnBlockingEvent(own);
  BlockingEvent unknown = other;
  unknown.blocker_conns.clear();
  unknown.route = kUnattributedRoute;
  tracker.OnBlockingEvent(unknown);

  Complete(1, 1 * kMs, 2 * kMs, 50 * kMs, {call});
  tracker.Tick(50 * kMs + kDelay - 1);
  EXPECT_TRUE(decided.empty()) << "decided before its evidence could arrive";
  tracker.Tick(50 * kMs + kDelay);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].first, "api");
  EXPECT_EQ(decided[0].second.route, "POST /orders");
  EXPECT_EQ(Part(0, Part::kQueued), 1 * kMs);
  EXPECT_EQ(Part(0, Part::kCpuAuth), 2 * kMs);
  EXPECT_EQ(Part(0, Part::kCpuApp), 0u);
  EXPECT_EQ(Part(0, Part::kDbWait), 18 * kMs);
  EXPECT_EQ(Part(0, Part::kLoopWait), 2 * kMs + 4 * kMs);  // reply read late + other's event
  EXPECT_EQ(Part(0, Part::kGc), 2 * kMs);
  uint64_t sum = 0;
  for (uint64_t v : decided[0].second.parts.ns) sum += v;
  EXPECT_EQ(sum, 49 * kMs);
  EXPECT_EQ(tracker.stats().blocking_unattributed, 1u);
  EXPECT_EQ(tracker.pending(), 0u);
}

TEST_F(Fixture, SamplesBeforeTheRequestAreUnclaimedLaterOnesWaitForTheNext) {
  Sample(1, 1 * kMs, python::Category::kApp);   // before the request: a previous tail
  Sample(1, 20 * kMs, python::Category::kApp);  // its own
  Sample(1, 40 * kMs, python::Category::kApp);  // the next request's
  Complete(1, 10 * kMs, 10 * kMs, 30 * kMs);
  Complete(1, 35 * kMs, 35 * kMs, 50 * kMs);
  tracker.Tick(50 * kMs + kDelay);
  ASSERT_EQ(decided.size(), 2u);
  EXPECT_EQ(Part(0, Part::kCpuApp), 1 * kMs);
  EXPECT_EQ(Part(1, Part::kCpuApp), 1 * kMs);
  EXPECT_EQ(tracker.stats().samples_unclaimed, 1u);
}

TEST_F(Fixture, DueTimeCountsFromArrivalHereForLateCompletions) {
  // The last request of a keep-alive connection completes when it idles.
  RoutedRequest r{service, route, method};
  r.pid = kPid;
  r.conn_id = 1;
  r.start_ns = r.arrival_ns = 1 * kMs;
  r.end_ns = 2 * kMs;
  tracker.OnRequest(r, {}, 10000 * kMs);
  tracker.Tick(2 * kMs + kDelay);
  EXPECT_TRUE(decided.empty());
  tracker.Tick(10000 * kMs + kDelay);
  EXPECT_EQ(decided.size(), 1u);
}

TEST_F(Fixture, DropProcessDecidesAtOnce) {
  Complete(1, 1, 1, 5 * kMs + 1);
  tracker.DropProcess(kPid);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(Part(0, Part::kOther), 5 * kMs);
  EXPECT_EQ(tracker.pending(), 0u);
}

TEST_F(Fixture, OffCpuStacksAndUntaggedSamplesAreNotCpu) {
  ProfileSample off;
  off.pid = kPid;
  off.ts_ns = 2 * kMs;
  off.identity = true;
  off.conn_id = 1;
  off.offcpu_ns = 3 * kMs;
  tracker.OnAttributedSample(off);
  ProfileSample untagged = off;
  untagged.offcpu_ns = 0;
  untagged.conn_id = 0;
  tracker.OnAttributedSample(untagged);
  Complete(1, 1, 1, 5 * kMs + 1);
  tracker.Tick(5 * kMs + 1 + kDelay);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(Part(0, Part::kOther), 5 * kMs);
}

}  // namespace
}  // namespace perfd::breakdown
