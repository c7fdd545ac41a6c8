// WorkerInspector's identity rule: a fact read on the discovery thread is
// kept only if the pid still belongs to the process the change names (start
// time), since a reused pid would hand the lifecycle facts about another
// process. /proc/<pid>/stat comes from a fake tree; the interpreter is
// inspected for real (this test binary is no CPython: always a refusal).
#include "daemon/lifecycle/worker_inspector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/unit/discovery/fake_proc.h"

namespace perfd {
namespace {

using testing::FakeProcess;
using testing::FakeProcTree;

Worker W(uint32_t pid, uint64_t start) {
  Worker w;
  w.pid = pid;
  w.start_time = start;
  return w;
}

std::string Reason(const ObservedChange& o) {
  EXPECT_TRUE(o.python.has_value());
  if (!o.python) return "";
  const auto* reason = std::get_if<std::string>(&o.python->target);
  EXPECT_NE(reason, nullptr);
  return reason ? *reason : "";
}

class WorkerInspectorTest : public ::testing::Test {
 protected:
  WorkerInspectorTest() : reader_(tree_.root()) {
    FakeProcess self;
    self.pid = uint32_t(getpid());
    self.argv = {"worker_inspector_test"};
    self.start_time = 5000;
    tree_.Add(self);
  }
  FakeProcTree tree_;
  ProcReader reader_;
  const uint32_t pid_ = uint32_t(getpid());
};

TEST_F(WorkerInspectorTest, FactsOfTheSameProcessAreKept) {
  WorkerInspector inspector(reader_, /*python=*/true);
  std::vector<UvloopSighting> seen;
  std::vector<LateVerification> late;
  const auto out = inspector.Observe({{WorkerChange::Kind::kAdded, W(pid_, 5000)}}, &seen, &late);
  ASSERT_EQ(out.size(), 1u);
  const std::string reason = Reason(out[0]);
  EXPECT_EQ(reason.find("exited while"), std::string::npos) << reason;
  EXPECT_FALSE(reason.empty());
}

TEST_F(WorkerInspectorTest, FactsReadAfterThePidWasReusedAreDropped) {
  WorkerInspector inspector(reader_, /*python=*/true);
  std::vector<UvloopSighting> seen;
  std::vector<LateVerification> late;
  // The change names start time 4000; the pid now belongs to start 5000.
  const auto out = inspector.Observe({{WorkerChange::Kind::kAdded, W(pid_, 4000)}}, &seen, &late);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(Reason(out[0]).find("exited while its interpreter was inspected"), std::string::npos)
      << Reason(out[0]);
}

TEST_F(WorkerInspectorTest, ChangesKeepTheirOrderAndRemovalsCarryNoFacts) {
  WorkerInspector inspector(reader_, /*python=*/true);
  std::vector<UvloopSighting> seen;
  std::vector<LateVerification> late;
  const auto out = inspector.Observe(
      {{WorkerChange::Kind::kRemoved, W(pid_, 4000)}, {WorkerChange::Kind::kAdded, W(pid_, 5000)}},
      &seen, &late);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].change.kind, WorkerChange::Kind::kRemoved);
  EXPECT_FALSE(out[0].python.has_value());
  EXPECT_EQ(out[1].change.kind, WorkerChange::Kind::kAdded);
  EXPECT_TRUE(out[1].python.has_value());
  EXPECT_TRUE(seen.empty());
}

TEST_F(WorkerInspectorTest, NothingIsInspectedWithSamplingOff) {
  WorkerInspector inspector(reader_, /*python=*/false);
  std::vector<UvloopSighting> seen;
  std::vector<LateVerification> late;
  const auto out = inspector.Observe({{WorkerChange::Kind::kAdded, W(pid_, 5000)}}, &seen, &late);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].python.has_value());
}

}  // namespace
}  // namespace perfd
