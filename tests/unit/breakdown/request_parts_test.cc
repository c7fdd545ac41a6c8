#include "daemon/breakdown/request_parts.h"

#include <gtest/gtest.h>

#include <numeric>

namespace perfd::breakdown {
namespace {

constexpr uint64_t kMs = 1000000;

uint64_t Part(const RequestParts& r, breakdown::Part p) { return r.ns[size_t(p)]; }
uint64_t Sum(const RequestParts& r) { return std::accumulate(r.ns.begin(), r.ns.end(), 0ull); }

TEST(ClaimIntervals, CountsEachInstantOnceAndSkipsWhatIsTaken) {
  std::vector<Interval> taken;
  // Two overlapping calls: [10, 30) ∪ [20, 40) = 30.
  EXPECT_EQ(ClaimIntervals({{10, 30}, {20, 40}}, 0, 100, &taken), 30u);
  // [0, 50) minus [10, 40) = 20; clipped to [5, 100): [5,10) + [40,50) = 15.
  EXPECT_EQ(ClaimIntervals({{0, 50}}, 5, 100, &taken), 15u);
  // Everything in [5, 50) is taken now.
  EXPECT_EQ(ClaimIntervals({{5, 50}, {12, 13}}, 0, 100, &taken), 0u);
  // Past the end of the window: nothing.
  EXPECT_EQ(ClaimIntervals({{100, 200}}, 0, 100, &taken), 0u);
  // An empty or inverted interval counts nothing.
  EXPECT_EQ(ClaimIntervals({{60, 60}, {70, 65}}, 0, 100, &taken), 0u);
}

TEST(ComputeParts, KnownPartsSumToTheLatency) {
  RequestEvidence e;
  e.arrival_ns = 0;
  e.start_ns = 2 * kMs;  // queued 2 ms
  e.end_ns = 60 * kMs;
  e.db = {{20 * kMs, 40 * kMs}};    // 20 ms until the reply arrived
  e.loop = {{40 * kMs, 43 * kMs}};  // then 3 ms until the loop read it
  e.gc = {{50 * kMs, 51 * kMs}};    // a 1 ms pause of its own
  e.sample_period_ns = 1 * kMs;
  e.cpu_samples[size_t(python::Category::kAuth)] = 10;
  e.cpu_samples[size_t(python::Category::kValidation)] = 5;
  const RequestParts r = ComputeParts(e);
  EXPECT_EQ(r.latency_ns, 60 * kMs);
  EXPECT_EQ(Part(r, Part::kQueued), 2 * kMs);
  EXPECT_EQ(Part(r, Part::kDbWait), 20 * kMs);
  EXPECT_EQ(Part(r, Part::kLoopWait), 3 * kMs);
  EXPECT_EQ(Part(r, Part::kGc), 1 * kMs);
  EXPECT_EQ(Part(r, Part::kCpuAuth), 10 * kMs);
  EXPECT_EQ(Part(r, Part::kCpuValidation), 5 * kMs);
  EXPECT_EQ(Part(r, Part::kOther), 60 * kMs - 2 * kMs - 20 * kMs - 3 * kMs - 1 * kMs - 15 * kMs);
  EXPECT_EQ(Sum(r), r.latency_ns);
  EXPECT_FALSE(r.cpu_clamped);
}

TEST(ComputeParts, PrecedenceGcThenDbThenLoop) {
  RequestEvidence e;
  e.start_ns = e.arrival_ns = 0;
  e.end_ns = 100;
  e.gc = {{10, 20}};
  e.db = {{0, 50}};     // the GC pause inside it stays GC
  e.loop = {{40, 70}};  // a blocking event while the call was in flight stays db
  const RequestParts r = ComputeParts(e);
  EXPECT_EQ(Part(r, Part::kGc), 10u);
  EXPECT_EQ(Part(r, Part::kDbWait), 40u);
  EXPECT_EQ(Part(r, Part::kLoopWait), 20u);
  EXPECT_EQ(Part(r, Part::kOther), 30u);
  EXPECT_EQ(Sum(r), 100u);
}

TEST(ComputeParts, SampledCpuAboveWhatIsLeftIsScaledToFit) {
  RequestEvidence e;
  e.start_ns = e.arrival_ns = 0;
  e.end_ns = 10 * kMs;
  e.db = {{0, 6 * kMs}};
  e.sample_period_ns = 2 * kMs;
  e.cpu_samples[size_t(python::Category::kApp)] = 3;        // 6 ms
  e.cpu_samples[size_t(python::Category::kFramework)] = 1;  // 2 ms; 8 ms > 4 ms left
  const RequestParts r = ComputeParts(e);
  EXPECT_TRUE(r.cpu_clamped);
  EXPECT_EQ(Part(r, Part::kCpuApp), 3 * kMs);
  EXPECT_EQ(Part(r, Part::kCpuFramework), 1 * kMs);
  EXPECT_EQ(Part(r, Part::kOther), 0u);
  EXPECT_EQ(Sum(r), 10 * kMs);
}

TEST(ComputeParts, UnknownArrivalMeansNoQueueAndEmptyRequestsAreZero) {
  RequestEvidence e;
  e.arrival_ns = 5;  // an unknown arrival is passed as the first read by the caller
  e.start_ns = 5;
  e.end_ns = 5;
  EXPECT_EQ(ComputeParts(e).latency_ns, 0u);
  EXPECT_EQ(Sum(ComputeParts(e)), 0u);
  e.end_ns = 15;
  const RequestParts r = ComputeParts(e);
  EXPECT_EQ(Part(r, Part::kQueued), 0u);
  EXPECT_EQ(Part(r, Part::kOther), 10u);
}

TEST(PartNames, AreTheLabelsInOrder) {
  const char* want[] = {
      "queued",        "cpu_auth", "cpu_validation", "cpu_serialization", "cpu_db_driver",
      "cpu_framework", "cpu_app",  "db_wait",        "loop_wait",         "gc",
      "other"};
  for (size_t i = 0; i < kNumParts; ++i) EXPECT_EQ(PartName(i), want[i]);
  EXPECT_EQ(CpuPart(int(python::Category::kDb)), Part::kCpuDbDriver);
}

}  // namespace
}  // namespace perfd::breakdown
