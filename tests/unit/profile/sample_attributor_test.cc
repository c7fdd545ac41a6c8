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
      : attr_([this](const std::string& svc, const std::string& route, const ProfileSample& s) {
          got_[svc + " " + route] += 1;
          stacks_[route].push_back(s.stack_id);
        }) {
    attr_.SetService(kPid, "api");
  }
  void Sample(uint64_t ts, uint64_t root, uint32_t tid = kPid, uint32_t stack = 1) {
    attr_.OnSample({kPid, tid, ts, root, 0, stack});
  }
  SampleAttributor attr_;
  std::map<std::string, int> got_;
  std::map<std::string, std::vector<uint32_t>> stacks_;
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
