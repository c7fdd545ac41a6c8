// GetTop's gc over a real GcWindows: pauses per generation in the window,
// and which of the service's current workers are measured, so "unknown"
// is told apart from "no pauses".
#include <gtest/gtest.h>

#include <map>

#include "daemon/api/grpc_service.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kNow = 10000 * kSec + 500 * kMs;

class FakeGcProbes : public GcProbeDirectory {
 public:
  GcProbeState GcProbeOf(uint32_t pid) const override {
    auto it = states.find(pid);
    return it == states.end() ? GcProbeState::kNotSampled : it->second;
  }
  std::map<uint32_t, GcProbeState> states;
};

class GcServiceTest : public ::testing::Test {
 protected:
  GcServiceTest()
      : aggregator_(600),
        windows_(600),
        service_(aggregator_, workers_, 600, ApiClocks{[] { return kNow; }, [] { return 1; }}) {
    workers_.Set({MakeWorker(1, "shop"), MakeWorker(2, "shop"), MakeWorker(3, "shop"),
                  MakeWorker(4, "shop"), MakeWorker(5, "shop"), MakeWorker(9, "other")});
  }

  v1::GetTopResponse Top(const std::string& service, uint32_t window = 0) {
    v1::GetTopRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    v1::GetTopResponse response;
    EXPECT_TRUE(service_.GetTop(nullptr, &request, &response).ok());
    return response;
  }

  Aggregator aggregator_;
  FakeWorkerDirectory workers_;
  GcWindows windows_;
  FakeGcProbes probes_;
  PerfdService service_;
};

TEST_F(GcServiceTest, PausesPerGenerationAndWorkersByProbeState) {
  service_.SetGcWindows(&windows_, &probes_);
  probes_.states = {{1, GcProbeState::kAttached},
                    {2, GcProbeState::kAttached},
                    {3, GcProbeState::kNoUsdt},
                    {4, GcProbeState::kFailed},
                    {9, GcProbeState::kAttached}};  // pid 5: not sampled
  windows_.AddPause("shop", 0, 1 * kMs, kNow - 5 * kSec);
  windows_.AddPause("shop", 0, 2 * kMs, kNow - 4 * kSec);
  windows_.AddPause("shop", 2, 40 * kMs, kNow - 3 * kSec);
  windows_.AddPause("shop", 5, 3 * kMs, kNow - 2 * kSec);
  windows_.AddPause("shop", 1, 9 * kMs, kNow - 90 * kSec);  // outside 60 s
  windows_.AddPause("other", 1, 7 * kMs, kNow - 2 * kSec);

  const v1::GetTopResponse top = Top("shop");
  ASSERT_TRUE(top.has_gc());
  const v1::GcStats& gc = top.gc();
  EXPECT_EQ(gc.workers_attached(), 2u);
  EXPECT_EQ(gc.workers_no_usdt(), 1u);
  EXPECT_EQ(gc.workers_failed(), 1u);
  EXPECT_EQ(gc.workers_unsampled(), 1u);
  EXPECT_EQ(gc.pauses(), 4u);
  EXPECT_DOUBLE_EQ(gc.total_seconds(), 0.046);
  EXPECT_DOUBLE_EQ(gc.max_seconds(), 0.040);
  ASSERT_EQ(gc.generations_size(), 3);  // only generations with pauses
  EXPECT_EQ(gc.generations(0).generation(), "0");
  EXPECT_EQ(gc.generations(0).pauses(), 2u);
  EXPECT_DOUBLE_EQ(gc.generations(0).total_seconds(), 0.003);
  EXPECT_DOUBLE_EQ(gc.generations(0).max_seconds(), 0.002);
  EXPECT_EQ(gc.generations(1).generation(), "2");
  EXPECT_EQ(gc.generations(1).pauses(), 1u);
  EXPECT_EQ(gc.generations(2).generation(), "_OTHER");
  EXPECT_DOUBLE_EQ(gc.generations(2).total_seconds(), 0.003);

  // The window given is the window used: 120 s holds the gen-1 pause too.
  const v1::GcStats wide = Top("shop", 120).gc();
  EXPECT_EQ(wide.pauses(), 5u);
  ASSERT_EQ(wide.generations_size(), 4);
  EXPECT_EQ(wide.generations(1).generation(), "1");
}

TEST_F(GcServiceTest, NoProbesIsReportedAsSuchNotAsZeroPauses) {
  service_.SetGcWindows(&windows_, &probes_);
  for (uint32_t pid = 1; pid <= 5; ++pid) probes_.states[pid] = GcProbeState::kNoUsdt;
  const v1::GetTopResponse top = Top("shop");
  ASSERT_TRUE(top.has_gc());
  EXPECT_EQ(top.gc().workers_attached(), 0u);
  EXPECT_EQ(top.gc().workers_no_usdt(), 5u);
  EXPECT_EQ(top.gc().pauses(), 0u);
  EXPECT_EQ(top.gc().generations_size(), 0);
}

TEST_F(GcServiceTest, ServiceWithoutWorkersCountsNone) {
  service_.SetGcWindows(&windows_, &probes_);
  // Known through the aggregator only: its workers are gone.
  aggregator_.RecordComplete("old", "GET", "/", 200, false, kNow - 2 * kMs, kNow - kMs);
  windows_.AddPause("old", 0, kMs, kNow - 3 * kSec);
  const v1::GcStats gc = Top("old").gc();
  EXPECT_EQ(
      gc.workers_attached() + gc.workers_no_usdt() + gc.workers_failed() + gc.workers_unsampled(),
      0u);
  EXPECT_EQ(gc.pauses(), 1u);  // pauses of the window stay
}

TEST_F(GcServiceTest, UnsetWithoutGcWindows) {
  EXPECT_FALSE(Top("shop").has_gc());
  service_.SetGcWindows(&windows_, nullptr);  // both or neither
  EXPECT_FALSE(Top("shop").has_gc());
}

}  // namespace
}  // namespace perfd
