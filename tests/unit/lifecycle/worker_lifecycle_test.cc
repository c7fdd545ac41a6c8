// WorkerLifecycle against fakes of the loader and the event thread's
// pipeline: every step lands in one ordered log, so a test states the exact
// sequence a worker's life must follow — above all, that a reused pid's old
// process is detached before the new one is attached (issue 9, finding 6).
#include "daemon/lifecycle/worker_lifecycle.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "daemon/loader/http_probes.h"

namespace perfd {
namespace {

using Log = std::vector<std::string>;

std::string Id(const Worker& w) {
  return std::to_string(w.pid) + "@" + std::to_string(w.start_time);
}

// The kernel side keys by pid, as the real loader does: `tracked` and
// `sampled` are the pids traced right now.
class FakeLoader : public WorkerLoader {
 public:
  explicit FakeLoader(Log& log) : log_(log) {}
  void TrackHttp(uint32_t pid) override {
    log_.push_back("track " + std::to_string(pid));
    if (fail_track) throw LoaderError("tracked_pids update failed");
    tracked.insert(pid);
  }
  void UntrackHttp(uint32_t pid) override {
    log_.push_back("untrack " + std::to_string(pid));
    tracked.erase(pid);
  }
  bool sampling() const override { return sampling_on; }
  void StartSampling(uint32_t pid, const python::PythonTarget&, bool uses_uvloop) override {
    log_.push_back("sample " + std::to_string(pid) + (uses_uvloop ? " uvloop" : ""));
    sampled.insert(pid);
  }
  void UvloopSeen(uint32_t pid) override { log_.push_back("uvloop " + std::to_string(pid)); }
  void StopSampling(uint32_t pid) override {
    log_.push_back("unsample " + std::to_string(pid));
    sampled.erase(pid);
  }
  void Upkeep(uint64_t scans) override { log_.push_back("upkeep " + std::to_string(scans)); }

  bool sampling_on = true;
  bool fail_track = false;
  std::set<uint32_t> tracked, sampled;

 private:
  Log& log_;
};

class FakePipeline : public WorkerPipeline {
 public:
  explicit FakePipeline(Log& log) : log_(log) {}
  void OnAttached(const Worker& w, const py_offsets* sampled) override {
    log_.push_back("attached " + Id(w) + (sampled ? " sampled" : ""));
    routed[w.pid] = w.service;
  }
  void OnSampled(const Worker& w, const py_offsets&) override {
    log_.push_back("sampled later " + Id(w));
  }
  void OnDetached(const Worker& w, uint64_t) override {
    log_.push_back("detached " + Id(w));
    routed.erase(w.pid);
  }
  std::map<uint32_t, std::string> routed;  // pid → service, like the request router

 private:
  Log& log_;
};

Worker W(uint32_t pid, uint64_t start, std::string service) {
  Worker w;
  w.pid = pid;
  w.start_time = start;
  w.service = std::move(service);
  return w;
}

// An addition whose interpreter the discovery thread verified (or refused,
// with `refusal`).
ObservedChange Added(const Worker& w, std::string refusal = "", bool uvloop = false) {
  PythonFacts facts;
  if (refusal.empty()) {
    python::PythonTarget t;
    t.major = 3;
    t.minor = 11;
    facts.target = t;
  } else {
    facts.target = refusal;
  }
  facts.uses_uvloop = uvloop;
  return {{WorkerChange::Kind::kAdded, w}, facts};
}
ObservedChange Removed(const Worker& w) {
  return {{WorkerChange::Kind::kRemoved, w}, std::nullopt};
}

// What the discovery thread queued, without scans: no upkeep is due.
Observations Batch(std::vector<ObservedChange> changes, std::vector<UvloopSighting> uvloop = {}) {
  return {std::move(changes), std::move(uvloop), 0, {}};
}

class WorkerLifecycleTest : public ::testing::Test {
 protected:
  Log log_;
  FakeLoader loader_{log_};
  FakePipeline pipeline_{log_};
  WorkerLifecycle lifecycle_{loader_, pipeline_};
};

const Worker kOld = W(100, 5000, "old");
const Worker kNew = W(100, 7000, "new");

TEST_F(WorkerLifecycleTest, AttachIsTrackVerifySampleThenPipeline) {
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  EXPECT_EQ(log_, (Log{"track 100", "sample 100", "attached 100@5000 sampled"}));
  ASSERT_EQ(lifecycle_.Workers().size(), 1u);
  EXPECT_EQ(lifecycle_.Workers()[0].start_time, 5000u);
  EXPECT_EQ(lifecycle_.python_verified(), 1u);
}

TEST_F(WorkerLifecycleTest, PidReusedWithinOneScanDetachesTheOldBeforeAttachingTheNew) {
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  log_.clear();
  // One scan: the old process exited and a new worker got its pid.
  lifecycle_.Apply(Batch({Removed(kOld), Added(kNew)}), 1);
  EXPECT_EQ(log_, (Log{"untrack 100", "unsample 100", "detached 100@5000", "track 100",
                       "sample 100", "attached 100@7000 sampled"}));
  // The new worker is listed, traced, sampled and routed to its service.
  ASSERT_EQ(lifecycle_.Workers().size(), 1u);
  EXPECT_EQ(lifecycle_.Workers()[0].start_time, 7000u);
  EXPECT_EQ(loader_.tracked, std::set<uint32_t>{100});
  EXPECT_EQ(loader_.sampled, std::set<uint32_t>{100});
  EXPECT_EQ(pipeline_.routed.at(100), "new");
}

TEST_F(WorkerLifecycleTest, BatchOverSeveralScansKeepsTheirOrder) {
  // The event thread took nothing between three scans: added, then exited
  // and reused, all in one batch.
  lifecycle_.Apply(Batch({Added(kOld), Removed(kOld), Added(kNew)}), 0);
  EXPECT_EQ(loader_.tracked, std::set<uint32_t>{100});
  EXPECT_EQ(loader_.sampled, std::set<uint32_t>{100});
  EXPECT_EQ(pipeline_.routed.at(100), "new");
  ASSERT_EQ(lifecycle_.Workers().size(), 1u);
  EXPECT_EQ(lifecycle_.Workers()[0].start_time, 7000u);
}

TEST_F(WorkerLifecycleTest, AdditionOnAnAttachedPidDetachesWhatIsThereFirst) {
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  log_.clear();
  lifecycle_.Apply(Batch({Added(kNew)}), 1);  // the removal never came
  EXPECT_EQ(log_, (Log{"untrack 100", "unsample 100", "detached 100@5000", "track 100",
                       "sample 100", "attached 100@7000 sampled"}));
}

TEST_F(WorkerLifecycleTest, RemovalOfAProcessNoLongerAttachedChangesNothing) {
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  lifecycle_.Apply(Batch({Added(kNew)}), 1);
  log_.clear();
  // A late removal of the old identity must not detach the new process.
  lifecycle_.Apply(Batch({Removed(kOld)}), 2);
  EXPECT_TRUE(log_.empty()) << ::testing::PrintToString(log_);
  EXPECT_EQ(loader_.tracked, std::set<uint32_t>{100});
  EXPECT_EQ(pipeline_.routed.at(100), "new");
  // Nor does a removal of a pid never attached.
  lifecycle_.Apply(Batch({Removed(W(200, 1, "x"))}), 3);
  EXPECT_TRUE(log_.empty()) << ::testing::PrintToString(log_);
}

TEST_F(WorkerLifecycleTest, ExitDetachesProbesThenPipeline) {
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  log_.clear();
  lifecycle_.Apply(Batch({Removed(kOld)}), 1);
  EXPECT_EQ(log_, (Log{"untrack 100", "unsample 100", "detached 100@5000"}));
  EXPECT_TRUE(lifecycle_.Workers().empty());
  EXPECT_TRUE(loader_.tracked.empty());
  EXPECT_TRUE(loader_.sampled.empty());
}

TEST_F(WorkerLifecycleTest, RefusedInterpreterKeepsHttpTracing) {
  lifecycle_.Apply(Batch({Added(kOld, "not CPython"), Added(W(101, 1, "old"), "not CPython")}), 0);
  EXPECT_EQ(log_, (Log{"track 100", "attached 100@5000", "track 101", "attached 101@1"}));
  EXPECT_EQ(lifecycle_.python_unverified(), 2u);
  EXPECT_EQ(lifecycle_.python_verified(), 0u);
  EXPECT_EQ(loader_.tracked, (std::set<uint32_t>{100, 101}));
}

TEST_F(WorkerLifecycleTest, SamplingOffNeverSamples) {
  loader_.sampling_on = false;
  lifecycle_.Apply(Batch({Added(kOld), Removed(kOld)}), 0);
  EXPECT_EQ(log_, (Log{"track 100", "attached 100@5000", "untrack 100", "detached 100@5000"}));
}

TEST_F(WorkerLifecycleTest, TrackingFailureIsCountedAndTheWorkerStillListed) {
  loader_.fail_track = true;
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  EXPECT_EQ(lifecycle_.errors(), 1u);
  EXPECT_EQ(lifecycle_.Workers().size(), 1u);
  EXPECT_EQ(log_, (Log{"track 100", "sample 100", "attached 100@5000 sampled"}));
}

TEST_F(WorkerLifecycleTest, UpkeepOnlyAfterScansAndAfterTheChanges) {
  lifecycle_.Apply(Batch({}), 0);
  EXPECT_TRUE(log_.empty());
  lifecycle_.Apply({{Added(kOld)}, {}, 3, {}}, 0);
  EXPECT_EQ(log_, (Log{"track 100", "sample 100", "attached 100@5000 sampled", "upkeep 3"}));
}

TEST_F(WorkerLifecycleTest, UvloopAtAttachAndSeenLater) {
  lifecycle_.Apply(Batch({Added(kOld, "", /*uvloop=*/true), Added(W(101, 1, "b"))}), 0);
  EXPECT_EQ(log_, (Log{"track 100", "sample 100 uvloop", "attached 100@5000 sampled", "track 101",
                       "sample 101", "attached 101@1 sampled"}));
  log_.clear();
  lifecycle_.Apply(Batch({}, {{101, 1}}), 1);
  EXPECT_EQ(log_, Log{"uvloop 101"});
}

TEST_F(WorkerLifecycleTest, UvloopSightingOfAReplacedProcessIsIgnored) {
  lifecycle_.Apply(Batch({Added(kOld)}), 0);
  log_.clear();
  // Seen with uvloop, but in the same batch the pid went to a new process.
  lifecycle_.Apply(Batch({Removed(kOld), Added(kNew)}, {{100, 5000}}), 1);
  EXPECT_EQ(log_, (Log{"untrack 100", "unsample 100", "detached 100@5000", "track 100",
                       "sample 100", "attached 100@7000 sampled"}));
}

// An interpreter caught where no frame chain could be followed (starting
// up) is refused at attach for now, HTTP traced; verified at a later scan,
// the same process is sampled from then on. A verification of a process
// that is gone, replaced or already sampled changes nothing.
TEST_F(WorkerLifecycleTest, TransientRefusalVerifiedLaterStartsSampling) {
  const std::string transient = "pid 100: live walk failed: no thread's frame chain";
  lifecycle_.Apply(Batch({Added(kOld, transient)}), 0);
  EXPECT_EQ(log_, (Log{"track 100", "attached 100@5000"}));
  EXPECT_EQ(lifecycle_.python_unverified(), 1u);
  log_.clear();

  Observations late = Batch({});
  late.verified_late.push_back({100, 5000, Added(kOld).python.value()});
  late.verified_late[0].facts.uses_uvloop = true;
  lifecycle_.Apply(late, 1);
  EXPECT_EQ(log_, (Log{"sample 100 uvloop", "sampled later 100@5000"}));
  EXPECT_EQ(lifecycle_.python_verified(), 1u);
  EXPECT_EQ(lifecycle_.python_unverified(), 0u);
  log_.clear();
  lifecycle_.Apply(late, 2);  // already sampled
  EXPECT_TRUE(log_.empty()) << ::testing::PrintToString(log_);

  // The pid went to a new process: the old one's verification is ignored.
  lifecycle_.Apply(Batch({Removed(kOld), Added(kNew, transient)}), 3);
  log_.clear();
  lifecycle_.Apply(late, 4);
  EXPECT_TRUE(log_.empty()) << ::testing::PrintToString(log_);
  // Nor does the old process get sampled after it is detached.
  lifecycle_.Apply(Batch({Removed(kNew)}), 5);
  log_.clear();
  lifecycle_.Apply(late, 6);
  EXPECT_TRUE(log_.empty()) << ::testing::PrintToString(log_);
}

}  // namespace
}  // namespace perfd
