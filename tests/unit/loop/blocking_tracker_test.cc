// BlockingTracker: loop events joined with the attributed samples of their
// iteration (route shares, kind, site) and with the requests that waited
// behind them (victims), decided finalize_delay after their end; bounded.
// Synthetic kernel events, samples and requests over a real StackTable.
#include "daemon/loop/blocking_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace perfd {
namespace {

constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kDelay = 2 * kSec;
constexpr uint32_t kPid = 100;
constexpr uint32_t kLoopTid = 100;

struct Decided {
  std::string service;
  BlockingEvent e;
};

class BlockingTrackerTest : public ::testing::Test {
 protected:
  // 10 ms per on-CPU sample (100 Hz) keeps the arithmetic readable.
  BlockingTrackerTest()
      : tracker_(
            stacks_,
            [this](const std::string& service, const BlockingEvent& e) {
              decided_.push_back({service, e});
            },
            kDelay) {
    tracker_.SetService(kPid, "api");
  }

  uint32_t Stack(std::vector<FrameInfo> leaf_first) { return stacks_.Intern(leaf_first, false); }

  static loop_block_event Event(uint64_t start, uint64_t busy, uint32_t tid = kLoopTid,
                                uint32_t pid = kPid) {
    loop_block_event e{};
    e.start_ns = start;
    e.busy_ns = busy;
    e.oncpu_ns = busy;
    e.tgid = pid;
    e.tid = tid;
    return e;
  }

  void Sample(const std::string& route, uint64_t ts, uint32_t stack, uint64_t conn = 0,
              uint64_t offcpu_ns = 0, uint32_t tid = kLoopTid, uint32_t pid = kPid) {
    ProfileSample s;
    s.pid = pid;
    s.tid = tid;
    s.ts_ns = ts;
    s.stack_id = stack;
    s.conn_id = conn;
    s.identity = conn != 0;
    s.offcpu_ns = offcpu_ns;
    s.offcpu_reason = offcpu_ns ? LOOP_BLOCK_IO : 0;
    tracker_.OnAttributedSample("api", route, s);
  }

  void Request(uint64_t conn, uint64_t start, uint64_t end, uint64_t arrival = 0,
               uint32_t pid = kPid) {
    RoutedRequest r{service_, route_, method_};
    r.pid = pid;
    r.conn_id = conn;
    r.status = 200;
    r.start_ns = start;
    r.arrival_ns = arrival;
    r.end_ns = end;
    tracker_.OnComplete(r);
  }

  const std::string service_ = "api", route_ = "/users/{id}", method_ = "GET";
  StackTable stacks_;
  std::vector<Decided> decided_;
  BlockingTracker tracker_;
};

// A sync HTTP call inside an async handler: the loop thread blocked in I/O;
// the kernel's off-CPU stack names the handler (library frames skipped) and
// the request; the others that overlapped it waited.
TEST_F(BlockingTrackerTest, OffCpuEventNamesTheHandlerAndCountsItsVictims) {
  const uint32_t stack = Stack({
      {"socket.recv_into", "/usr/local/lib/python3.11/socket.py", 705, 690},
      {"HTTPAdapter.send", "/usr/lib/python3/dist-packages/requests/adapters.py", 486, 430},
      {"get_user", "/app/main.py", 42, 38},
      {"Handle._run", "/usr/local/lib/python3.11/asyncio/events.py", 80, 78},
  });
  loop_block_event e = Event(10 * kSec, 100 * kMs);
  e.oncpu_ns = 5 * kMs;
  e.blocked_ns[LOOP_BLOCK_IO] = 95 * kMs;
  tracker_.OnLoopEvent(e);
  // The blocker's own request (connection 7): not a victim.
  Request(7, 9990 * kMs, 10200 * kMs);
  Sample("GET /users/{id}", 10 * kSec + 3 * kMs, stack, 7, 90 * kMs);
  // Arrived (queued) during the event, read and answered after it: waited 50 ms.
  Request(8, 10120 * kMs, 10300 * kMs, 10050 * kMs);
  // Unknown connection (identity off): counts as a victim; 50 ms overlap.
  Request(0, 9900 * kMs, 10050 * kMs);
  // After the event, and another worker's: no overlap with this event.
  Request(9, 10100 * kMs, 10300 * kMs);
  Request(10, 9950 * kMs, 10200 * kMs, 0, kPid + 1);

  tracker_.Tick(10100 * kMs + kDelay - 1);
  EXPECT_TRUE(decided_.empty()) << "decided before finalize_delay";
  tracker_.Tick(10100 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  const BlockingEvent& d = decided_[0].e;
  EXPECT_EQ(decided_[0].service, "api");
  EXPECT_EQ(d.pid, kPid);
  EXPECT_EQ(d.tid, kLoopTid);
  EXPECT_EQ(d.start_ns, 10 * kSec);
  EXPECT_EQ(d.busy_ns, 100 * kMs);
  EXPECT_EQ(d.blocked_ns[LOOP_BLOCK_IO], 95 * kMs);
  EXPECT_EQ(d.kind, BlockingKind::kOffCpu);
  EXPECT_EQ(d.route, "GET /users/{id}");
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0].route, "GET /users/{id}");
  EXPECT_EQ(d.routes[0].ns, 100 * kMs);
  EXPECT_EQ(d.site, "get_user (/app/main.py:42)");
  EXPECT_EQ(d.stack_id, stack);
  EXPECT_TRUE(d.has_offcpu_stack);
  EXPECT_EQ(d.oncpu_samples, 0u);
  EXPECT_EQ(d.victims, 2u);
  EXPECT_EQ(d.victim_wait_ns, 100 * kMs);
  EXPECT_EQ(tracker_.stats().decided, 1u);
  EXPECT_EQ(tracker_.stats().offcpu_stacks, 1u);
  EXPECT_EQ(tracker_.stats().offcpu_stacks_orphan, 0u);
  EXPECT_EQ(tracker_.stats().without_evidence, 0u);
  EXPECT_EQ(tracker_.pending_events(), 0u);
}

// A CPU hog shared by two routes (two tasks ran in one iteration): shares in
// proportion to their samples, summing exactly to busy_ns; samples arrive
// before and after the kernel event; other threads and samples outside the
// iteration do not count.
TEST_F(BlockingTrackerTest, OnCpuSharesFollowTheSamplesAndSumToBusy) {
  const uint32_t render10 = Stack({
      {"JSONEncoder.encode", "/usr/local/lib/python3.11/json/encoder.py", 200, 183},
      {"render", "/app/views.py", 10, 5},
      {"list_orders", "/app/main.py", 60, 55},
  });
  const uint32_t render12 = Stack({
      {"render", "/app/views.py", 12, 5},
      {"list_orders", "/app/main.py", 60, 55},
  });
  const uint32_t render10_other_caller = Stack({
      {"render", "/app/views.py", 10, 5},
      {"export", "/app/main.py", 90, 85},
  });
  const uint32_t report = Stack({{"build_report", "/app/reports.py", 33, 30}});
  const uint64_t start = 20 * kSec, busy = 100 * kMs + 1;

  Sample("GET /orders", start + 1 * kMs, render10, 3);
  Sample("GET /orders", start + 11 * kMs, render12, 3);
  Sample("GET /report", start + 21 * kMs, report, 4);
  tracker_.OnLoopEvent(Event(start, busy));
  Sample("GET /orders", start + 31 * kMs, render10, 3);
  Sample("GET /orders", start + 41 * kMs, render10_other_caller, 3);
  // Ignored: another thread inside the interval, the loop thread outside it.
  Sample("GET /other", start + 50 * kMs, report, 5, 0, kLoopTid + 1);
  Sample("GET /other", start - 1, report, 5);
  Sample("GET /other", start + busy + 1, report, 5);
  // A victim, and a request of the blocking connection (not a victim).
  Request(6, start + 10 * kMs, start + 150 * kMs);
  Request(3, start - 5 * kMs, start + 120 * kMs);

  tracker_.Tick(start + busy + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  const BlockingEvent& d = decided_[0].e;
  EXPECT_EQ(d.kind, BlockingKind::kOnCpu);
  EXPECT_EQ(d.oncpu_samples, 5u);
  ASSERT_EQ(d.routes.size(), 2u);
  // 4 of 5 samples: floor(0.8 * busy) = 80000000, 1 of 5: 20000000; the
  // remaining 1 ns goes to the largest share.
  EXPECT_EQ(d.routes[0].route, "GET /orders");
  EXPECT_EQ(d.routes[0].ns, 80 * kMs + 1);
  EXPECT_EQ(d.routes[1].route, "GET /report");
  EXPECT_EQ(d.routes[1].ns, 20 * kMs);
  EXPECT_EQ(d.routes[0].ns + d.routes[1].ns, busy);
  EXPECT_EQ(d.route, "GET /orders");
  // render (4 samples on two lines) beats build_report (1): the site is the
  // function, named by its first line; its most frequent stack is chosen.
  EXPECT_EQ(d.site, "render (/app/views.py:5)");
  EXPECT_EQ(d.stack_id, render10);
  EXPECT_FALSE(d.has_offcpu_stack);
  // Connection 4 (report) is a blocker too; 6 waited 90 ms.
  EXPECT_EQ(d.victims, 1u);
  EXPECT_EQ(d.victim_wait_ns, 90 * kMs + 1);
}

// Off-CPU stacks weigh their stretch; several matching stacks all count; the
// site is the longest one's; on-CPU samples of another route share in.
TEST_F(BlockingTrackerTest, OffCpuStacksWeighTheirStretch) {
  const uint32_t sleep_a = Stack({{"time.sleep", "", 0, 0}, {"slow_a", "/app/a.py", 7, 5}});
  const uint32_t sleep_b = Stack({{"slow_b", "/app/b.py", 9, 8}});
  const uint32_t cpu = Stack({{"parse", "/app/c.py", 3, 1}});
  loop_block_event e = Event(30 * kSec, 100 * kMs);
  e.oncpu_ns = 10 * kMs;
  e.blocked_ns[LOOP_BLOCK_SLEEP] = 90 * kMs;
  tracker_.OnLoopEvent(e);
  Sample("GET /a", 30 * kSec + 1 * kMs, sleep_a, 1, 60 * kMs);
  Sample("GET /b", 30 * kSec + 70 * kMs, sleep_b, 2, 30 * kMs);
  Sample("(no request)", 30 * kSec + 65 * kMs, cpu, 0);
  tracker_.Tick(30100 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  const BlockingEvent& d = decided_[0].e;
  EXPECT_EQ(d.kind, BlockingKind::kOffCpu);
  // Weights 60 : 30 : 10 ms over busy 100 ms.
  ASSERT_EQ(d.routes.size(), 3u);
  EXPECT_EQ(d.routes[0].route, "GET /a");
  EXPECT_EQ(d.routes[0].ns, 60 * kMs);
  EXPECT_EQ(d.routes[1].route, "GET /b");
  EXPECT_EQ(d.routes[1].ns, 30 * kMs);
  EXPECT_EQ(d.routes[2].route, "(no request)");
  EXPECT_EQ(d.routes[2].ns, 10 * kMs);
  EXPECT_EQ(d.site, "slow_a (/app/a.py:7)");
  EXPECT_EQ(d.stack_id, sleep_a);
  EXPECT_EQ(d.oncpu_samples, 1u);
}

// Without an application frame the site is the leaf frame.
TEST_F(BlockingTrackerTest, SiteFallsBackToTheLeafFrame) {
  const uint32_t lib = Stack({
      {"loads", "/usr/local/lib/python3.11/json/__init__.py", 346, 299},
      {"run", "/usr/local/lib/python3.11/site-packages/uvicorn/server.py", 60, 50},
  });
  tracker_.OnLoopEvent(Event(40 * kSec, 50 * kMs));
  Sample("(no request)", 40 * kSec + 5 * kMs, lib);
  tracker_.Tick(40050 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  EXPECT_EQ(decided_[0].e.site, "loads (/usr/local/lib/python3.11/json/__init__.py:299)");
  EXPECT_EQ(decided_[0].e.route, "(no request)");
}

TEST_F(BlockingTrackerTest, WithoutEvidenceTheEventIsUnattributed) {
  const uint32_t stack = Stack({{"handler", "/app/main.py", 1, 1}});
  tracker_.OnLoopEvent(Event(50 * kSec, 40 * kMs));
  // The stack table's overflow stack is never a site.
  tracker_.OnLoopEvent(Event(60 * kSec, 40 * kMs));
  Sample("GET /x", 60 * kSec + 1 * kMs, StackTable::kOverflowStack, 1);
  // An off-CPU stack of another thread: matches nothing.
  Sample("GET /y", 50 * kSec + 1 * kMs, stack, 2, 30 * kMs, kLoopTid + 7);
  tracker_.Tick(60 * kSec + kDelay + kSec);
  ASSERT_EQ(decided_.size(), 2u);
  const BlockingEvent& d = decided_[0].e;
  EXPECT_EQ(d.route, "(unattributed)");
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0].route, "(unattributed)");
  EXPECT_EQ(d.routes[0].ns, 40 * kMs);
  EXPECT_EQ(d.site, "");
  EXPECT_EQ(d.stack_id, 0u);
  EXPECT_FALSE(d.has_offcpu_stack);
  EXPECT_EQ(d.victims, 0u);
  EXPECT_EQ(tracker_.stats().without_evidence, 1u);
  // The overflow sample still names the route, but no stack.
  const BlockingEvent& o = decided_[1].e;
  EXPECT_EQ(o.route, "GET /x");
  EXPECT_EQ(o.oncpu_samples, 1u);
  EXPECT_EQ(o.stack_id, 0u);
  EXPECT_EQ(o.site, "");
  // The other thread's off-CPU stack is an orphan once it is pruned.
  tracker_.Tick(80 * kSec);
  EXPECT_EQ(tracker_.stats().offcpu_stacks, 1u);
  EXPECT_EQ(tracker_.stats().offcpu_stacks_orphan, 1u);
}

// A worker's samples attributed before its first blocking event (the
// tracker learns of the worker from either) are its evidence.
TEST_F(BlockingTrackerTest, SamplesBeforeTheWorkersFirstEventAreKept) {
  const uint32_t other = kPid + 1;
  const uint32_t stack = Stack({{"hog", "/app/main.py", 5, 1}});
  Sample("GET /hog", 10 * kSec + 5 * kMs, stack, 3, 0, kLoopTid, other);
  Sample("GET /hog", 10 * kSec + 15 * kMs, stack, 3, 0, kLoopTid, other);
  tracker_.SetService(other, "api");
  tracker_.OnLoopEvent(Event(10 * kSec, 30 * kMs, kLoopTid, other));
  tracker_.Tick(10 * kSec + 30 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  EXPECT_EQ(decided_[0].e.route, "GET /hog");
  EXPECT_EQ(decided_[0].e.oncpu_samples, 2u);
}

// The kernel's split decides the parts, the evidence only whose they are:
// one on-CPU sample of a victim's code in a sleep's iteration takes the
// on-CPU part (10 ms), not a sample period's worth of the sleep.
TEST_F(BlockingTrackerTest, PartsAreSplitByTheirOwnEvidence) {
  const uint32_t sleeper = Stack({{"handler", "/app/a.py", 7, 5}});
  const uint32_t victim = Stack({{"ping", "/app/b.py", 3, 2}});
  loop_block_event e = Event(10 * kSec, 60 * kMs);
  e.oncpu_ns = 10 * kMs;
  e.blocked_ns[LOOP_BLOCK_SLEEP] = 50 * kMs;
  Sample("GET /sleep", 10 * kSec + 1 * kMs, sleeper, 1, 50 * kMs);
  Sample("GET /ping", 10 * kSec + 55 * kMs, victim, 2);
  tracker_.OnLoopEvent(e);
  // The same with the off-CPU stack alone: the on-CPU part follows it.
  loop_block_event alone = Event(11 * kSec, 60 * kMs);
  alone.oncpu_ns = 10 * kMs;
  alone.blocked_ns[LOOP_BLOCK_SLEEP] = 50 * kMs;
  Sample("GET /sleep", 11 * kSec + 1 * kMs, sleeper, 1, 50 * kMs);
  tracker_.OnLoopEvent(alone);
  tracker_.Tick(12 * kSec + kDelay);
  ASSERT_EQ(decided_.size(), 2u);
  const BlockingEvent& d = decided_[0].e;
  ASSERT_EQ(d.routes.size(), 2u);
  EXPECT_EQ(d.routes[0].route, "GET /sleep");
  EXPECT_EQ(d.routes[0].ns, 50 * kMs);
  EXPECT_EQ(d.routes[1].route, "GET /ping");
  EXPECT_EQ(d.routes[1].ns, 10 * kMs);
  EXPECT_EQ(d.kind, BlockingKind::kOffCpu);
  ASSERT_EQ(decided_[1].e.routes.size(), 1u);
  EXPECT_EQ(decided_[1].e.routes[0].ns, 60 * kMs);
}

TEST_F(BlockingTrackerTest, EventsOfUnknownProcessesAreCountedNotKept) {
  tracker_.OnLoopEvent(Event(10 * kSec, 30 * kMs, 7, 777));
  tracker_.Tick(100 * kSec);
  EXPECT_TRUE(decided_.empty());
  EXPECT_EQ(tracker_.stats().events, 1u);
  EXPECT_EQ(tracker_.stats().unknown_process, 1u);
  EXPECT_EQ(tracker_.pending_events(), 0u);
}

// Events are decided in end order, each only once its delay has passed.
TEST_F(BlockingTrackerTest, TickDecidesInEndOrderAfterTheDelay) {
  tracker_.OnLoopEvent(Event(10 * kSec, 200 * kMs, kLoopTid));                // ends 10.2 s
  tracker_.OnLoopEvent(Event(10 * kSec + 50 * kMs, 50 * kMs, kLoopTid + 1));  // ends 10.1 s
  tracker_.OnLoopEvent(Event(11 * kSec, 50 * kMs, kLoopTid));                 // ends 11.05 s
  EXPECT_EQ(tracker_.pending_events(), 3u);
  tracker_.Tick(10100 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  EXPECT_EQ(decided_[0].e.tid, kLoopTid + 1);
  tracker_.Tick(11 * kSec + kDelay);
  ASSERT_EQ(decided_.size(), 2u);
  EXPECT_EQ(decided_[1].e.start_ns, 10 * kSec);
  tracker_.Tick(11050 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 3u);
  EXPECT_EQ(decided_[2].e.start_ns, 11 * kSec);
  EXPECT_EQ(tracker_.pending_events(), 0u);
}

// A sample attributed long before its kernel event arrives is still kept
// (it is recent), and found when the event comes.
TEST_F(BlockingTrackerTest, SamplesWaitForALateEvent) {
  const uint32_t stack = Stack({{"hog", "/app/main.py", 5, 1}});
  Sample("GET /hog", 10 * kSec + 5 * kMs, stack, 1);
  tracker_.Tick(14 * kSec);  // 10 s is within finalize_delay + 5 s of now
  tracker_.OnLoopEvent(Event(10 * kSec, 30 * kMs));
  tracker_.Tick(15 * kSec);
  ASSERT_EQ(decided_.size(), 1u);
  EXPECT_EQ(decided_[0].e.route, "GET /hog");
  EXPECT_EQ(decided_[0].e.site, "hog (/app/main.py:1)");
  // Older than the oldest pending event and than now - 7 s: pruned.
  Sample("GET /hog", 20 * kSec + 5 * kMs, stack, 1);
  tracker_.Tick(27100 * kMs);
  tracker_.OnLoopEvent(Event(20 * kSec, 30 * kMs));
  tracker_.Tick(28 * kSec);
  ASSERT_EQ(decided_.size(), 2u);
  EXPECT_EQ(decided_[1].e.route, "(unattributed)");
}

// A pending event keeps the samples it may need, even when they are older
// than finalize_delay + 5 s before the newest time seen.
TEST_F(BlockingTrackerTest, PendingEventsKeepTheirSamples) {
  const uint32_t stack = Stack({{"hog", "/app/main.py", 5, 1}});
  tracker_.OnLoopEvent(Event(10 * kSec, 30 * kMs));
  Sample("GET /hog", 10 * kSec + 1 * kMs, stack, 1);
  Sample("GET /hog", 10 * kSec + 2 * kMs, stack, 1);
  // A sample of another thread stamped far later makes "now" 20 s.
  Sample("GET /later", 20 * kSec, stack, 2, 0, kLoopTid + 1);
  // The event is not due yet (ticks run on their own clock); pruning must
  // not take its samples although they are older than 20 s - 7 s.
  tracker_.Tick(11 * kSec);
  EXPECT_TRUE(decided_.empty());
  tracker_.Tick(10030 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 1u);
  EXPECT_EQ(decided_[0].e.route, "GET /hog");
  EXPECT_EQ(decided_[0].e.oncpu_samples, 2u);
}

TEST_F(BlockingTrackerTest, DropProcessDecidesAtOnceAndForgets) {
  const uint32_t stack = Stack({{"hog", "/app/main.py", 5, 1}});
  tracker_.OnLoopEvent(Event(10 * kSec, 30 * kMs));
  Sample("GET /hog", 10 * kSec + 5 * kMs, stack, 1);
  tracker_.DropProcess(kPid, 10030 * kMs);
  ASSERT_EQ(decided_.size(), 1u);
  EXPECT_EQ(decided_[0].e.route, "GET /hog");
  EXPECT_EQ(tracker_.pending_events(), 0u);
  // Gone: its next event is of an unknown process.
  tracker_.OnLoopEvent(Event(11 * kSec, 30 * kMs));
  EXPECT_EQ(tracker_.stats().unknown_process, 1u);
  tracker_.DropProcess(kPid, 12 * kSec);  // twice: harmless
  EXPECT_EQ(decided_.size(), 1u);
}

TEST_F(BlockingTrackerTest, PendingEventsAreCapped) {
  for (size_t i = 0; i < BlockingTracker::kMaxPendingEvents + 3; ++i)
    tracker_.OnLoopEvent(Event(10 * kSec + i * 30 * kMs, 25 * kMs));
  EXPECT_EQ(tracker_.pending_events(), BlockingTracker::kMaxPendingEvents);
  EXPECT_EQ(tracker_.stats().pending_overflow, 3u);
  EXPECT_EQ(tracker_.stats().events, BlockingTracker::kMaxPendingEvents + 3);
  tracker_.DropProcess(kPid, 1000 * kSec);
  EXPECT_EQ(decided_.size(), BlockingTracker::kMaxPendingEvents);
}

// A full buffer lets its oldest sample go: the event that needed only that
// sample has no evidence.
TEST_F(BlockingTrackerTest, SamplesAreCappedOldestFirst) {
  const uint32_t stack = Stack({{"hog", "/app/main.py", 5, 1}});
  Sample("GET /first", 10 * kSec, stack, 1, 20 * kMs);
  for (size_t i = 0; i < BlockingTracker::kMaxSamples; ++i)
    Sample("GET /later", 11 * kSec + i * 1000, stack, 2);
  EXPECT_EQ(tracker_.stats().samples_overflow, 1u);
  EXPECT_EQ(tracker_.stats().offcpu_stacks_orphan, 1u);
  tracker_.OnLoopEvent(Event(10 * kSec - 1 * kMs, 25 * kMs));
  tracker_.OnLoopEvent(Event(11 * kSec, 25 * kMs));
  tracker_.DropProcess(kPid, 12 * kSec);
  ASSERT_EQ(decided_.size(), 2u);
  EXPECT_EQ(decided_[0].e.route, "(unattributed)");
  EXPECT_EQ(decided_[1].e.route, "GET /later");
  EXPECT_EQ(decided_[1].e.oncpu_samples, BlockingTracker::kMaxSamples);
}

// Once the loop thread is known, a busy thread pool's on-CPU samples do not
// take the buffer from it.
TEST_F(BlockingTrackerTest, OtherThreadsAreNotKeptOnceTheLoopThreadIsKnown) {
  const uint32_t stack = Stack({{"hog", "/app/main.py", 5, 1}});
  tracker_.OnLoopEvent(Event(5 * kSec, 30 * kMs));
  tracker_.OnLoopEvent(Event(10 * kSec, 30 * kMs));
  Sample("GET /hog", 10 * kSec + 1 * kMs, stack, 1);
  for (size_t i = 0; i < BlockingTracker::kMaxSamples + 10; ++i)
    Sample("GET /sync", 10 * kSec + i * 1000, stack, 2, 0, kLoopTid + 1 + i % 40);
  EXPECT_EQ(tracker_.stats().samples_overflow, 0u);
  tracker_.Tick(10030 * kMs + kDelay);
  ASSERT_EQ(decided_.size(), 2u);
  EXPECT_EQ(decided_[1].e.route, "GET /hog");
  EXPECT_EQ(decided_[1].e.oncpu_samples, 1u);
}

}  // namespace
}  // namespace perfd
