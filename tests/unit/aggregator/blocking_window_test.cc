// BlockingWindow: events grouped into (route, kind, site) at query time over
// perfctl's window, the bounds (window_max_seconds, max events per service)
// and idle services dropped.
#include "daemon/aggregator/blocking_window.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;

BlockingEvent Event(const std::string& route, BlockingKind kind, const std::string& site,
                    uint64_t end_ns, uint64_t busy_ns, uint32_t stack_id = 0) {
  BlockingEvent e;
  e.pid = 10;
  e.tid = 10;
  e.start_ns = end_ns - busy_ns;
  e.busy_ns = busy_ns;
  e.kind = kind;
  e.route = route;
  e.routes = {{route, busy_ns}};
  e.site = site;
  e.stack_id = stack_id;
  return e;
}

const BlockingSite* Find(const BlockingWindowSnapshot& s, const std::string& route,
                         BlockingKind kind, const std::string& site) {
  for (const auto& x : s.sites) {
    if (x.route == route && x.kind == kind && x.site == site) return &x;
  }
  return nullptr;
}

TEST(BlockingWindow, GroupsByRouteKindAndSiteAndSumsEveryPart) {
  BlockingWindow w(600);
  const std::string hash = "hash_password (auth.py:12)";
  BlockingEvent a = Event("POST /login", BlockingKind::kOnCpu, hash, 100 * kSec, 30 * kMs, 7);
  a.oncpu_ns = 25 * kMs;
  a.runnable_ns = 5 * kMs;
  a.victims = 2;
  a.victim_wait_ns = 40 * kMs;
  BlockingEvent b = Event("POST /login", BlockingKind::kOnCpu, hash, 101 * kSec, 50 * kMs, 9);
  b.oncpu_ns = 40 * kMs;
  b.blocked_ns[LOOP_BLOCK_LOCK] = 10 * kMs;
  b.victims = 1;
  b.victim_wait_ns = 20 * kMs;
  BlockingEvent c = Event("POST /login", BlockingKind::kOnCpu, hash, 102 * kSec, 20 * kMs, 8);
  c.oncpu_ns = 20 * kMs;
  // The same site off-CPU, another route, and one without a stack.
  BlockingEvent sleep = Event("POST /login", BlockingKind::kOffCpu, "time.sleep (views.py:3)",
                              103 * kSec, 200 * kMs, 11);
  sleep.blocked_ns[LOOP_BLOCK_SLEEP] = 190 * kMs;
  sleep.oncpu_ns = 10 * kMs;
  BlockingEvent other = Event("GET /report", BlockingKind::kOnCpu, hash, 104 * kSec, 25 * kMs, 7);
  BlockingEvent bare = Event("(unattributed)", BlockingKind::kRunnable, "", 105 * kSec, 21 * kMs);
  bare.runnable_ns = 21 * kMs;
  for (const auto* e : {&a, &b, &c, &sleep, &other, &bare}) w.Add("api", *e);
  w.Add("other", a);

  const BlockingWindowSnapshot s = w.Snapshot("api", 60, 110 * kSec);
  EXPECT_TRUE(s.found);
  EXPECT_EQ(s.events, 6u);
  EXPECT_EQ(s.total_ns, (30 + 50 + 20 + 200 + 25 + 21) * kMs);
  ASSERT_EQ(s.sites.size(), 4u);
  // By total, largest first.
  EXPECT_EQ(s.sites[0].site, "time.sleep (views.py:3)");
  EXPECT_EQ(s.sites[1].route, "POST /login");
  EXPECT_EQ(s.sites[1].kind, BlockingKind::kOnCpu);
  EXPECT_EQ(s.sites[2].route, "GET /report");
  EXPECT_EQ(s.sites[3].route, "(unattributed)");

  const BlockingSite& login = s.sites[1];
  EXPECT_EQ(login.site, hash);
  EXPECT_EQ(login.events, 3u);
  EXPECT_EQ(login.total_ns, 100 * kMs);
  EXPECT_EQ(login.max_ns, 50 * kMs);
  EXPECT_EQ(login.stack_id, 9u) << "the stack of the longest event";
  EXPECT_EQ(login.oncpu_ns, 85 * kMs);
  EXPECT_EQ(login.runnable_ns, 5 * kMs);
  EXPECT_EQ(login.blocked_ns[LOOP_BLOCK_LOCK], 10 * kMs);
  EXPECT_EQ(login.blocked_ns[LOOP_BLOCK_SLEEP], 0u);
  EXPECT_EQ(login.victims, 3u);
  EXPECT_EQ(login.victim_wait_ns, 60 * kMs);
  EXPECT_EQ(login.last_end_ns, 102 * kSec);

  const BlockingSite& slept = s.sites[0];
  EXPECT_EQ(slept.kind, BlockingKind::kOffCpu);
  EXPECT_EQ(slept.blocked_ns[LOOP_BLOCK_SLEEP], 190 * kMs);
  EXPECT_EQ(slept.stack_id, 11u);
  EXPECT_EQ(s.sites[3].site, "");
  EXPECT_EQ(s.sites[3].stack_id, 0u);
  EXPECT_EQ(s.sites[3].runnable_ns, 21 * kMs);

  EXPECT_FALSE(w.Snapshot("nobody", 60, 110 * kSec).found);
  EXPECT_EQ(w.Snapshot("other", 60, 110 * kSec).events, 1u);
  EXPECT_EQ(w.services(), 2u);
}

TEST(BlockingWindow, WindowCountsEventsThatEndedInIt) {
  BlockingWindow w(600);
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "f (a.py:1)", 100 * kSec, 30 * kMs));
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "f (a.py:1)", 150 * kSec, 40 * kMs));
  // 60 s ending at 155 s: (95 s, 155 s].
  EXPECT_EQ(w.Snapshot("api", 60, 155 * kSec).events, 2u);
  // 10 s: only the second.
  BlockingWindowSnapshot recent = w.Snapshot("api", 10, 155 * kSec);
  ASSERT_EQ(recent.sites.size(), 1u);
  EXPECT_EQ(recent.sites[0].total_ns, 40 * kMs);
  // An event that ended exactly at the window's start is out, one at now in.
  EXPECT_EQ(w.Snapshot("api", 50, 150 * kSec).events, 1u);
  // Nothing in the window: not found, no sites.
  BlockingWindowSnapshot later = w.Snapshot("api", 10, 300 * kSec);
  EXPECT_FALSE(later.found);
  EXPECT_TRUE(later.sites.empty());
  EXPECT_EQ(later.events, 0u);
  // Events after now (a clock read before the last Add) are not counted.
  EXPECT_EQ(w.Snapshot("api", 60, 120 * kSec).events, 1u);
}

TEST(BlockingWindow, RouteFilterKeepsOnlyThatRoutesEvents) {
  BlockingWindow w(600);
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "f (a.py:1)", 100 * kSec, 30 * kMs));
  w.Add("api", Event("GET /b", BlockingKind::kOnCpu, "f (a.py:1)", 101 * kSec, 40 * kMs));
  w.Add("api", Event("GET /b", BlockingKind::kOffCpu, "g (b.py:2)", 102 * kSec, 50 * kMs));
  BlockingWindowSnapshot b = w.Snapshot("api", 60, 110 * kSec, "GET /b");
  EXPECT_EQ(b.events, 2u);
  EXPECT_EQ(b.total_ns, 90 * kMs);
  ASSERT_EQ(b.sites.size(), 2u);
  EXPECT_EQ(b.sites[0].site, "g (b.py:2)");
  EXPECT_EQ(b.sites[1].site, "f (a.py:1)");
  EXPECT_EQ(b.sites[1].route, "GET /b");
  // A route with nothing: the service still had events in the window.
  BlockingWindowSnapshot none = w.Snapshot("api", 60, 110 * kSec, "GET /c");
  EXPECT_TRUE(none.found);
  EXPECT_TRUE(none.sites.empty());
  EXPECT_EQ(none.events, 0u);
}

TEST(BlockingWindow, OutOfOrderEventsAreKeptInEndOrder) {
  BlockingWindow w(600);
  // Two workers' events decided out of end order.
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "late", 120 * kSec, 30 * kMs));
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "early", 90 * kSec, 30 * kMs));
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "middle", 100 * kSec, 30 * kMs));
  // (85 s, 105 s]: early and middle, though "late" was added first.
  BlockingWindowSnapshot s = w.Snapshot("api", 20, 105 * kSec);
  ASSERT_EQ(s.sites.size(), 2u);
  EXPECT_NE(Find(s, "GET /a", BlockingKind::kOnCpu, "early"), nullptr);
  EXPECT_NE(Find(s, "GET /a", BlockingKind::kOnCpu, "middle"), nullptr);
  // (95 s, 125 s]: middle and late.
  s = w.Snapshot("api", 30, 125 * kSec);
  ASSERT_EQ(s.sites.size(), 2u);
  EXPECT_NE(Find(s, "GET /a", BlockingKind::kOnCpu, "late"), nullptr);
  EXPECT_EQ(Find(s, "GET /a", BlockingKind::kOnCpu, "early"), nullptr);
}

TEST(BlockingWindow, MaxEventsDropsTheOldestAndCountsThem) {
  BlockingWindow w(600, 3);
  for (uint64_t i = 1; i <= 5; ++i) {
    w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "f" + std::to_string(i), i * 10 * kSec,
                       (20 + i) * kMs));
  }
  w.Add("b", Event("GET /a", BlockingKind::kOnCpu, "f", 50 * kSec, 20 * kMs));
  EXPECT_EQ(w.dropped(), 2u);
  BlockingWindowSnapshot s = w.Snapshot("api", 600, 60 * kSec);
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(Find(s, "GET /a", BlockingKind::kOnCpu, "f1"), nullptr);
  EXPECT_EQ(Find(s, "GET /a", BlockingKind::kOnCpu, "f2"), nullptr);
  EXPECT_NE(Find(s, "GET /a", BlockingKind::kOnCpu, "f3"), nullptr);
}

TEST(BlockingWindow, EventsOlderThanTheMaximumWindowGoUncounted) {
  BlockingWindow w(60);
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "old", 10 * kSec, 30 * kMs));
  // Still there while it is within 60 s of the newest event.
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "new", 70 * kSec, 30 * kMs));
  EXPECT_EQ(w.Snapshot("api", 60, 60 * kSec).events, 1u);
  // A newer event pushes it out of every window: gone, and not a drop.
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "newer", 71 * kSec, 30 * kMs));
  EXPECT_FALSE(w.Snapshot("api", 60, 60 * kSec).found);
  EXPECT_EQ(w.dropped(), 0u);
  // A window asked past the maximum is the maximum.
  EXPECT_EQ(w.Snapshot("api", 600, 130 * kSec).events, 1u);
}

TEST(BlockingWindow, EvictIdleDropsServicesWhoseNewestEventIsOld) {
  BlockingWindow w(600);
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "f", 100 * kSec, 30 * kMs));
  w.Add("api", Event("GET /a", BlockingKind::kOnCpu, "f", 150 * kSec, 30 * kMs));
  w.Add("old", Event("GET /a", BlockingKind::kOnCpu, "f", 50 * kSec, 30 * kMs));
  w.EvictIdle(180 * kSec, 40 * kSec);  // api's newest (150 s) is within 40 s of 180 s
  EXPECT_EQ(w.services(), 1u);
  EXPECT_EQ(w.Snapshot("api", 600, 180 * kSec).events, 2u);
  w.EvictIdle(300 * kSec, 40 * kSec);
  EXPECT_EQ(w.services(), 0u);
  EXPECT_FALSE(w.Snapshot("api", 600, 300 * kSec).found);
}

}  // namespace
}  // namespace perfd
