#include "daemon/profile/sample_attributor.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "daemon/profile/cpu_profile.h"

namespace perfd {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint32_t kPid = 100;

class AttributorTest : public ::testing::Test {
 protected:
  AttributorTest()
      : attr_([this](const std::string& svc, const std::string& route, const ProfileSample& s,
                     JoinKind join) {
          got_[svc + " " + route] += 1;
          stacks_[route].push_back(s.stack_id);
          joins_[route].push_back(join);
        }) {
    attr_.SetService(kPid, "api");
  }
  void Sample(uint64_t ts, uint64_t root, uint32_t tid = kPid, uint32_t stack = 1) {
    attr_.OnSample({kPid, tid, ts, root, 0, stack});
  }
  // A sample with request identity on: its context was tagged with `conn`.
  void Tagged(uint64_t ts, uint64_t conn, uint32_t tid = kPid, uint64_t root = 0xA0,
              uint32_t stack = 1, uint32_t pid = kPid) {
    ProfileSample s{pid, tid, ts, root, 0, stack};
    s.identity = true;
    s.conn_id = conn;
    attr_.OnSample(s);
  }
  SampleAttributor attr_;
  std::map<std::string, int> got_;
  std::map<std::string, std::vector<uint32_t>> stacks_;
  std::map<std::string, std::vector<JoinKind>> joins_;
};

TEST_F(AttributorTest, RootSamplesJoinTheOnlyRequestCoveringThem) {
  // uvloop: the status line is written outside the task (py_root 0).
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  Sample(11 * kMs, 0xA0);
  Sample(19 * kMs, 0xA0);
  attr_.OnRequestComplete(kPid, 7, "GET /a", 10 * kMs, 20 * kMs, 0);
  attr_.Tick(500 * kMs);  // grace period
  EXPECT_TRUE(got_.empty());
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(got_["api GET /a"], 2);
  EXPECT_EQ(attr_.pending(), 0u);
}

TEST_F(AttributorTest, RootGroupWaitsForAnInFlightRequest) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  Sample(11 * kMs, 0xA0);
  attr_.Tick(5000 * kMs);
  EXPECT_TRUE(got_.empty());
  attr_.OnRequestComplete(kPid, 7, "GET /slow", 10 * kMs, 6000 * kMs, 0);
  Sample(5999 * kMs, 0xA0);
  attr_.Tick(7100 * kMs);
  EXPECT_EQ(got_["api GET /slow"], 2);
}

TEST_F(AttributorTest, ConcurrentRequestsLeaveLoopSamplesUnattributed) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  attr_.OnRequestStart(kPid, 8, 11 * kMs);
  Sample(12 * kMs, 0xA0);
  attr_.OnRequestComplete(kPid, 7, "GET /a", 10 * kMs, 30 * kMs, 0);
  attr_.OnRequestComplete(kPid, 8, "GET /b", 11 * kMs, 31 * kMs, 0);
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(got_["api (unattributed)"], 1);
}

TEST_F(AttributorTest, RootGroupSpanningTwoRequestsIsDecidedPerSample) {
  // The root address was reused by the next task of the connection.
  Sample(11 * kMs, 0xA0, kPid, 1);
  Sample(25 * kMs, 0xA0, kPid, 2);
  attr_.OnRequestComplete(kPid, 7, "GET /a", 10 * kMs, 20 * kMs, 0);
  attr_.OnRequestComplete(kPid, 8, "GET /b", 22 * kMs, 30 * kMs, 0);
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(stacks_["GET /a"], std::vector<uint32_t>{1});
  EXPECT_EQ(stacks_["GET /b"], std::vector<uint32_t>{2});
}

TEST_F(AttributorTest, LoopSamplesWaitForTheRequestWithTheirRoot) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  Sample(11 * kMs, 0xA0);
  Sample(12 * kMs, 0xA0);
  Sample(12 * kMs, 0xB0);  // another task
  EXPECT_TRUE(got_.empty());
  attr_.OnRequestComplete(kPid, 7, "/users/{id}", 10 * kMs, 20 * kMs, 0xA0);
  EXPECT_EQ(got_["api /users/{id}"], 2);
  EXPECT_EQ(attr_.pending(), 1u);
}

TEST_F(AttributorTest, ReusedRootAddressKeepsLaterSamplesForTheNextRequest) {
  Sample(11 * kMs, 0xA0, kPid, 1);
  Sample(25 * kMs, 0xA0, kPid, 2);  // after the first request ended: next task
  attr_.OnRequestComplete(kPid, 7, "/a", 10 * kMs, 20 * kMs, 0xA0);
  attr_.OnRequestComplete(kPid, 8, "/b", 22 * kMs, 30 * kMs, 0xA0);
  EXPECT_EQ(stacks_["/a"], std::vector<uint32_t>{1});
  EXPECT_EQ(stacks_["/b"], std::vector<uint32_t>{2});
}

TEST_F(AttributorTest, LoopSamplesOutsideTasksHaveNoRequest) {
  Sample(5 * kMs, 0);
  EXPECT_EQ(got_["api (no request)"], 1);
}

TEST_F(AttributorTest, UnclaimedRootSamplesExpireAsNoRequest) {
  Sample(1000 * kMs, 0xC0);
  attr_.OnRequestStart(kPid, 9, 999 * kMs);  // never completes
  attr_.Tick(1000 * kMs + 29000 * kMs);
  EXPECT_TRUE(got_.empty());
  attr_.Tick(1000 * kMs + 30000 * kMs);
  EXPECT_EQ(got_["api (no request)"], 1);
  EXPECT_EQ(attr_.pending(), 0u);
}

TEST_F(AttributorTest, ThreadSampleGoesToTheOnlyCoveringRequest) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  Sample(15 * kMs, 0, /*tid=*/kPid + 1);
  attr_.OnRequestComplete(kPid, 7, "/sync", 10 * kMs, 20 * kMs, 0xA0);
  attr_.Tick(500 * kMs);  // inside the grace period: not yet
  EXPECT_TRUE(got_.empty());
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(got_["api /sync"], 1);
}

TEST_F(AttributorTest, ThreadSampleWaitsWhileAnEarlierRequestIsInFlight) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  Sample(15 * kMs, 0, kPid + 1);
  attr_.Tick(2000 * kMs);
  EXPECT_TRUE(got_.empty());  // request 7 may still own it
  attr_.OnRequestComplete(kPid, 7, "/slow", 10 * kMs, 2500 * kMs, 0);
  attr_.Tick(2600 * kMs);
  EXPECT_EQ(got_["api /slow"], 1);
}

TEST_F(AttributorTest, OverlappingRequestsMakeThreadSamplesAmbiguous) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  attr_.OnRequestStart(kPid, 8, 12 * kMs);
  Sample(15 * kMs, 0, kPid + 1);
  attr_.OnRequestComplete(kPid, 7, "/a", 10 * kMs, 20 * kMs, 0);
  attr_.OnRequestComplete(kPid, 8, "/b", 12 * kMs, 30 * kMs, 0);
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(got_["api (unattributed)"], 1);
}

TEST_F(AttributorTest, ThreadSampleWithoutRequestHasNoRequest) {
  Sample(15 * kMs, 0, kPid + 1);
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(got_["api (no request)"], 1);
}

TEST_F(AttributorTest, DropProcessResolvesEverythingItHolds) {
  attr_.OnRequestStart(kPid, 7, 10 * kMs);
  Sample(11 * kMs, 0xA0);
  Sample(12 * kMs, 0, kPid + 1);
  attr_.DropProcess(kPid, 13 * kMs);  // request 7 never completed: no interval
  EXPECT_EQ(got_["api (no request)"], 2);
  EXPECT_EQ(attr_.pending(), 0u);
}

TEST_F(AttributorTest, IntervalsArePrunedWhenNoThreadSampleNeedsThem) {
  for (int i = 0; i < 1000; ++i) attr_.OnRequestComplete(kPid, i, "/x", i * kMs, i * kMs + 1, 0);
  attr_.Tick(100000 * kMs);
  // A thread sample now is covered by nothing old.
  Sample(100000 * kMs, 0, kPid + 1);
  attr_.Tick(102000 * kMs);
  EXPECT_EQ(got_["api (no request)"], 1);
}

}  // namespace
}  // namespace perfd

namespace perfd {
namespace {

// ---- exact join (request identity) --------------------------------------

TEST_F(AttributorTest, InterleavedTasksOfOverlappingRequestsJoinExactly) {
  // Three requests of one worker overlap completely; their tasks interleave
  // on the loop thread. The interval join could only say "(unattributed)".
  attr_.OnRequestStart(kPid, 1, 10 * kMs);
  attr_.OnRequestStart(kPid, 2, 11 * kMs);
  attr_.OnRequestStart(kPid, 3, 12 * kMs);
  for (uint64_t t = 13; t < 40; t += 3) {
    Tagged(t * kMs, 1, kPid, 0xA0, 1);
    Tagged((t + 1) * kMs, 2, kPid, 0xB0, 2);
    Tagged((t + 2) * kMs, 3, kPid, 0xC0, 3);
  }
  attr_.OnRequestComplete(kPid, 2, "GET /b", 11 * kMs, 45 * kMs, 0);
  attr_.OnRequestComplete(kPid, 1, "GET /a", 10 * kMs, 50 * kMs, 0);
  attr_.OnRequestComplete(kPid, 3, "POST /c", 12 * kMs, 55 * kMs, 0);
  attr_.Tick(56 * kMs);  // covered samples need no grace period
  EXPECT_EQ(got_["api GET /a"], 9);
  EXPECT_EQ(got_["api GET /b"], 9);
  EXPECT_EQ(got_["api POST /c"], 9);
  EXPECT_EQ(got_.count("api (unattributed)"), 0u);
  for (uint32_t st : stacks_["GET /a"]) EXPECT_EQ(st, 1u);
  for (uint32_t st : stacks_["POST /c"]) EXPECT_EQ(st, 3u);
  for (JoinKind j : joins_["GET /b"]) EXPECT_EQ(j, JoinKind::kExact);
  EXPECT_EQ(attr_.pending(), 0u);
}

TEST_F(AttributorTest, WorkerThreadAndChildTaskSamplesFollowTheirTag) {
  // A sync dependency in an anyio thread and a gathered child task (own
  // root frame) both run in contexts copied from the request's.
  attr_.OnRequestStart(kPid, 5, 10 * kMs);
  attr_.OnRequestStart(kPid, 6, 10 * kMs);
  Tagged(12 * kMs, 5, kPid + 1, 0);  // worker thread: no coroutine root
  Tagged(13 * kMs, 5, kPid, 0xD0);   // child task
  Tagged(14 * kMs, 6, kPid + 2, 0);
  attr_.OnRequestComplete(kPid, 5, "GET /dep", 10 * kMs, 20 * kMs, 0);
  attr_.OnRequestComplete(kPid, 6, "GET /other", 10 * kMs, 20 * kMs, 0);
  attr_.Tick(21 * kMs);
  EXPECT_EQ(got_["api GET /dep"], 2);
  EXPECT_EQ(got_["api GET /other"], 1);
}

TEST_F(AttributorTest, KeepAliveRequestsOfOneConnectionSplitByTime) {
  attr_.OnRequestStart(kPid, 9, 10 * kMs);
  Tagged(11 * kMs, 9);
  attr_.OnRequestComplete(kPid, 9, "GET /first", 10 * kMs, 12 * kMs, 0);
  attr_.OnRequestStart(kPid, 9, 30 * kMs);
  Tagged(31 * kMs, 9);
  Tagged(32 * kMs, 9);
  attr_.OnRequestComplete(kPid, 9, "GET /second", 30 * kMs, 33 * kMs, 0);
  attr_.Tick(34 * kMs);
  EXPECT_EQ(got_["api GET /first"], 1);
  EXPECT_EQ(got_["api GET /second"], 2);
}

TEST_F(AttributorTest, PipelinedRequestWaitsForItsPredecessor) {
  // Both request lines arrived in one read (same start); HTTP/1.1 serves
  // them in order, so a sample while the first is unanswered is the first's.
  attr_.OnRequestStart(kPid, 4, 10 * kMs);
  attr_.OnRequestStart(kPid, 4, 10 * kMs);
  Tagged(11 * kMs, 4);
  attr_.OnRequestComplete(kPid, 4, "GET /one", 10 * kMs, 12 * kMs, 0);
  Tagged(13 * kMs, 4);
  attr_.OnRequestComplete(kPid, 4, "GET /two", 10 * kMs, 14 * kMs, 0);
  attr_.Tick(15 * kMs);
  EXPECT_EQ(got_["api GET /one"], 1);
  EXPECT_EQ(got_["api GET /two"], 1);
}

TEST_F(AttributorTest, SampleWaitsWhileItsRequestIsInFlight) {
  attr_.OnRequestStart(kPid, 3, 10 * kMs);
  Tagged(11 * kMs, 3);
  attr_.Tick(5000 * kMs);
  EXPECT_TRUE(got_.empty());
  EXPECT_EQ(attr_.pending(), 1u);
  attr_.OnRequestComplete(kPid, 3, "GET /slow", 10 * kMs, 6000 * kMs, 0);
  attr_.Tick(6001 * kMs);
  EXPECT_EQ(got_["api GET /slow"], 1);
}

TEST_F(AttributorTest, TailAfterTheLastWriteBelongsToTheLatestRequestAfterGrace) {
  // A background task that runs after the response was written.
  attr_.OnRequestStart(kPid, 3, 10 * kMs);
  attr_.OnRequestComplete(kPid, 3, "POST /order", 10 * kMs, 20 * kMs, 0);
  Tagged(25 * kMs, 3);
  attr_.Tick(30 * kMs);
  EXPECT_TRUE(got_.empty());  // a next request of the connection may still show up
  attr_.Tick(1100 * kMs);
  EXPECT_EQ(got_["api POST /order"], 1);
  EXPECT_EQ(joins_["POST /order"][0], JoinKind::kExact);
}

TEST_F(AttributorTest, ReusedContextAddressDoesNotMatter) {
  // The kernel retags a context address at every copy; a reused address
  // arrives with the new connection, and the old one's requests are not
  // consulted for it.
  attr_.OnRequestStart(kPid, 1, 10 * kMs);
  attr_.OnRequestStart(kPid, 2, 10 * kMs);
  Tagged(11 * kMs, 1, kPid, 0xA0);
  attr_.OnRequestComplete(kPid, 1, "GET /a", 10 * kMs, 12 * kMs, 0);
  // Same root frame address and context, now a task of connection 2.
  Tagged(13 * kMs, 2, kPid, 0xA0);
  attr_.OnRequestComplete(kPid, 2, "GET /b", 10 * kMs, 14 * kMs, 0);
  attr_.Tick(15 * kMs);
  EXPECT_EQ(got_["api GET /a"], 1);
  EXPECT_EQ(got_["api GET /b"], 1);
}

TEST_F(AttributorTest, UntaggedSamplesAreNeverGuessed) {
  attr_.OnRequestStart(kPid, 1, 10 * kMs);
  Tagged(11 * kMs, 0, kPid, 0);      // loop callback outside tasks
  Tagged(11 * kMs, 0, kPid, 0xA0);   // a task of no request (server housekeeping)
  Tagged(11 * kMs, 1, kPid, 0);      // tagged transport context, outside a task
  Tagged(12 * kMs, 0, kPid + 1, 0);  // a thread in an untagged context
  attr_.OnRequestComplete(kPid, 1, "GET /a", 10 * kMs, 20 * kMs, 0);
  attr_.Tick(3000 * kMs);
  EXPECT_EQ(got_["api (no request)"], 3);
  EXPECT_EQ(got_["api (unattributed)"], 1);
  EXPECT_EQ(got_.count("api GET /a"), 0u);
}

TEST_F(AttributorTest, TagOfAConnectionWithoutRequestsExpiresUnattributed) {
  Tagged(11 * kMs, 42);
  attr_.Tick(2000 * kMs);  // grace passed: no request of conn 42 started before it
  EXPECT_EQ(got_["api (unattributed)"], 1);
}

TEST_F(AttributorTest, ReusedPidStartsWithNothingOfTheOldProcess) {
  attr_.OnRequestStart(kPid, 1, 10 * kMs);
  attr_.OnRequestComplete(kPid, 1, "GET /old", 10 * kMs, 20 * kMs, 0);
  attr_.DropProcess(kPid, 30 * kMs);
  // A new process with the same pid (and, by chance, the same conn id).
  attr_.SetService(kPid, "api");
  Tagged(15 * kMs, 1);
  attr_.Tick(2000 * kMs);
  EXPECT_EQ(got_["api (unattributed)"], 1);
  EXPECT_EQ(got_.count("api GET /old"), 0u);
}

TEST_F(AttributorTest, ExitingProcessDecidesItsTaggedSamples) {
  attr_.OnRequestStart(kPid, 1, 10 * kMs);
  Tagged(11 * kMs, 1);
  attr_.OnRequestComplete(kPid, 1, "GET /a", 10 * kMs, 20 * kMs, 0);
  Tagged(21 * kMs, 1);
  attr_.DropProcess(kPid, 22 * kMs);
  EXPECT_EQ(got_["api GET /a"], 2);
  EXPECT_EQ(attr_.pending(), 0u);
}

}  // namespace
}  // namespace perfd
