#include "daemon/discovery/discovery.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/unit/discovery/fake_proc.h"

namespace perfd {
namespace {

using testing::FakeProcess;
using testing::FakeProcTree;
using testing::Proc;
using V = std::vector<std::string>;

// Counts the expensive reads, to check steady-state scans avoid them.
class CountingReader : public ProcReader {
 public:
  using ProcReader::ProcReader;
  std::optional<ProcStat> ReadStat(uint32_t pid, int* error = nullptr) const override {
    ++stat_reads;
    return ProcReader::ReadStat(pid, error);
  }
  std::optional<ProcessInfo> ReadProcess(uint32_t pid, int* error = nullptr) const override {
    ++process_reads;
    return ProcReader::ReadProcess(pid, error);
  }
  mutable int stat_reads = 0;
  mutable int process_reads = 0;
};

std::vector<uint32_t> Pids(const std::vector<Worker>& workers) {
  std::vector<uint32_t> pids;
  for (const auto& w : workers) pids.push_back(w.pid);
  std::sort(pids.begin(), pids.end());
  return pids;
}

const Worker* Find(const std::vector<Worker>& workers, uint32_t pid) {
  for (const auto& w : workers) {
    if (w.pid == pid) return &w;
  }
  return nullptr;
}

const V kUvicornWorkers2 = {
    "/usr/bin/python3", "/usr/bin/uvicorn", "--workers", "2", "--port", "9000", "billing.api:app"};
// As observed: multiprocessing passes the interpreter's flags (-B) along.
const V kSpawn = {"/usr/bin/python3", "-B", "-c",
                  "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, "
                  "pipe_handle=7)",
                  "--multiprocessing-fork"};
const V kTracker = {"/usr/bin/python3", "-B", "-c",
                    "from multiprocessing.resource_tracker import main;main(4)"};
const V kGunicorn = {
    "/usr/bin/python3", "/usr/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2",
    "orders.main:app"};

class DiscoveryTest : public ::testing::Test {
 protected:
  DiscoveryTest() : reader_(tree_.root()) {
    tree_.Add(Proc(1, 0, {"/sbin/init"}));
    tree_.Add(Proc(2, 0, {}));  // kthreadd
    tree_.Add(Proc(50, 1, {"-bash"}));
  }
  // A host with every kind of process discovery must tell apart.
  void AddMixedHost() {
    tree_.Add(Proc(100, 50, {"python3", "-m", "uvicorn", "shop.main:app", "--port", "8000"}));
    tree_.Add(Proc(110, 50, {"grep", "uvicorn"}));
    tree_.Add(Proc(200, 50, kUvicornWorkers2));
    tree_.Add(Proc(201, 200, kTracker));
    tree_.Add(Proc(202, 200, kSpawn));
    tree_.Add(Proc(203, 200, kSpawn));
    tree_.Add(Proc(300, 1, kGunicorn));
    tree_.Add(Proc(301, 300, kGunicorn));
    tree_.Add(Proc(302, 300, kGunicorn));
    tree_.Add(Proc(303, 302, kGunicorn));  // the app forked inside a worker
  }
  FakeProcTree tree_;
  CountingReader reader_;
};

TEST_F(DiscoveryTest, FindsExactlyTheWorkers) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  const auto diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.added()), (std::vector<uint32_t>{100, 202, 203, 301, 302}));
  EXPECT_TRUE(diff.removed().empty());
  const auto workers = discovery.Workers();
  EXPECT_EQ(Pids(workers), (std::vector<uint32_t>{100, 202, 203, 301, 302}));

  const Worker* single = Find(workers, 100);
  EXPECT_EQ(single->service, "shop");
  EXPECT_EQ(single->app_spec, "shop.main:app");
  EXPECT_EQ(single->server, "uvicorn");
  EXPECT_EQ(single->start_time, 1100u);
  EXPECT_EQ(single->argv[0], "python3");
  const Worker* spawned = Find(workers, 202);
  EXPECT_EQ(spawned->service, "billing");
  EXPECT_EQ(spawned->app_spec, "billing.api:app");
  EXPECT_EQ(spawned->argv, kSpawn);  // its own argv, not the supervisor's
  const Worker* forked = Find(workers, 301);
  EXPECT_EQ(forked->service, "orders");
  EXPECT_EQ(forked->server, "gunicorn");
}

// discovery.include picks workers by command line: a spawn child by its
// supervisor's (its own says nothing), and an excluded supervisor's children
// stay out too.
TEST_F(DiscoveryTest, IncludeTracesOnlyMatchingWorkers) {
  AddMixedHost();
  Config config;
  config.discovery_include = "--port 9000|orders";
  Discovery discovery(config, reader_);
  const auto diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.added()), (std::vector<uint32_t>{202, 203, 301, 302}));
  EXPECT_EQ(Pids(discovery.Workers()), (std::vector<uint32_t>{202, 203, 301, 302}));
  // Steady state: the excluded worker is not re-read nor added later.
  reader_.process_reads = 0;
  EXPECT_TRUE(discovery.Scan().changes.empty());
  EXPECT_EQ(reader_.process_reads, 0);

  Config only_shop;
  only_shop.discovery_include = "shop\\.main:app --port 8000$";
  Discovery shop(only_shop, reader_);
  EXPECT_EQ(Pids(shop.Scan().added()), (std::vector<uint32_t>{100}));
}

TEST(WorkerFilterTest, EmptyIncludesAllAndTheSearchIsBounded) {
  EXPECT_TRUE(WorkerFilter("").Includes("anything"));
  const WorkerFilter filter("--port 80[0-9]{2}$");
  EXPECT_TRUE(filter.Includes("uvicorn app:app --port 8001"));
  EXPECT_FALSE(filter.Includes("uvicorn app:app --port 9001"));
  // Past kMaxRuleInputBytes the command line is not searched, and '$' does
  // not match at the cut.
  const std::string padded = "uvicorn app:app " + std::string(kMaxRuleInputBytes, 'x');
  EXPECT_FALSE(filter.Includes(padded + " --port 8001"));
  EXPECT_FALSE(WorkerFilter("x$").Includes(padded + "y"));
  EXPECT_THROW(WorkerFilter("("), ConfigError);
}

TEST_F(DiscoveryTest, SteadyStateScanReadsOnlyStat) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  EXPECT_GT(reader_.process_reads, 0);
  reader_.process_reads = 0;
  reader_.stat_reads = 0;
  for (int i = 0; i < 3; ++i) {
    const auto diff = discovery.Scan();
    EXPECT_TRUE(diff.added().empty());
    EXPECT_TRUE(diff.removed().empty());
  }
  EXPECT_EQ(reader_.process_reads, 0);
  EXPECT_EQ(reader_.stat_reads, 3 * 13);  // 13 processes in the tree
  EXPECT_EQ(discovery.last_scan().classified, 0u);
  EXPECT_EQ(discovery.last_scan().processes, 13u);
}

TEST_F(DiscoveryTest, WorkerRestartRemovesOldAndAddsNew) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  // gunicorn --max-requests: worker 301 exits, master forks 304.
  tree_.Remove(301);
  tree_.Add(Proc(304, 300, kGunicorn));
  // uvicorn supervisor restarts a dead spawn child as 204.
  tree_.Remove(203);
  tree_.Add(Proc(204, 200, kSpawn));
  const auto diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.removed()), (std::vector<uint32_t>{203, 301}));
  EXPECT_EQ(Pids(diff.added()), (std::vector<uint32_t>{204, 304}));
  EXPECT_EQ(Pids(discovery.Workers()), (std::vector<uint32_t>{100, 202, 204, 302, 304}));
}

TEST_F(DiscoveryTest, PidReuseIsTwoDifferentProcesses) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  // 100 exits and the pid goes to an unrelated process: removal only.
  FakeProcess reused = Proc(100, 50, {"sleep", "10"});
  reused.start_time = 99999;
  tree_.Add(reused);
  auto diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.removed()), std::vector<uint32_t>{100});
  EXPECT_TRUE(diff.added().empty());
  // A cached negative verdict is not reused either: pid 110 (grep) becomes
  // a new uvicorn worker with a new start time.
  FakeProcess grep_reused = Proc(110, 50, {"uvicorn", "inventory:app"});
  grep_reused.start_time = 99998;
  tree_.Add(grep_reused);
  diff = discovery.Scan();
  EXPECT_TRUE(diff.removed().empty());
  ASSERT_EQ(diff.added().size(), 1u);
  EXPECT_EQ(diff.added()[0].pid, 110u);
  EXPECT_EQ(diff.added()[0].start_time, 99998u);
  EXPECT_EQ(diff.added()[0].service, "inventory");
  // Same pid reused by another worker: removed and added in one diff.
  FakeProcess again = Proc(110, 50, {"uvicorn", "payments:app"});
  again.start_time = 123456;
  tree_.Add(again);
  diff = discovery.Scan();
  ASSERT_EQ(diff.removed().size(), 1u);
  ASSERT_EQ(diff.added().size(), 1u);
  EXPECT_EQ(diff.removed()[0].service, "inventory");
  EXPECT_EQ(diff.added()[0].service, "payments");
}

TEST_F(DiscoveryTest, PidReusedByANewWorkerWithinOneScanIsRemovalThenAddition) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  // Worker 100 exits and, before the next scan, another worker is started
  // on the same pid: the old identity goes first, then the new one comes.
  FakeProcess reused = Proc(100, 50, {"uvicorn", "cart.main:app"});
  reused.start_time = 424242;
  tree_.Add(reused);
  const auto diff = discovery.Scan();
  ASSERT_EQ(diff.changes.size(), 2u);
  EXPECT_EQ(diff.changes[0].kind, WorkerChange::Kind::kRemoved);
  EXPECT_EQ(diff.changes[0].worker.pid, 100u);
  EXPECT_EQ(diff.changes[0].worker.start_time, 1100u);
  EXPECT_EQ(diff.changes[0].worker.service, "shop");
  EXPECT_EQ(diff.changes[1].kind, WorkerChange::Kind::kAdded);
  EXPECT_EQ(diff.changes[1].worker.pid, 100u);
  EXPECT_EQ(diff.changes[1].worker.start_time, 424242u);
  EXPECT_EQ(diff.changes[1].worker.service, "cart");
  const auto workers = discovery.Workers();
  const Worker* listed = Find(workers, 100);
  ASSERT_NE(listed, nullptr);
  EXPECT_EQ(listed->start_time, 424242u);
}

TEST_F(DiscoveryTest, ExitsAndReusedPidsAreRemovedBeforeAnyAddition) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  // Several at once: a plain exit (203), a reuse by a worker (301 → new
  // gunicorn worker), a fresh worker (304).
  tree_.Remove(203);
  FakeProcess reused = Proc(301, 300, kGunicorn);
  reused.start_time = 99999;
  tree_.Add(reused);
  tree_.Add(Proc(304, 300, kGunicorn));
  const auto diff = discovery.Scan();
  // Exits are found in no particular pid order; additions by ascending pid.
  std::vector<std::string> removed, added;
  for (const auto& c : diff.changes) {
    const std::string id = std::to_string(c.worker.pid) + "@" + std::to_string(c.worker.start_time);
    if (c.kind == WorkerChange::Kind::kRemoved) {
      EXPECT_TRUE(added.empty()) << "removal of " << id << " after an addition";
      removed.push_back(id);
    } else {
      added.push_back(id);
    }
  }
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"203@1203", "301@1301"}));
  EXPECT_EQ(added, (std::vector<std::string>{"301@99999", "304@1304"}));
}

TEST_F(DiscoveryTest, ShellThatExecsUvicornIsFound) {
  // Container entrypoints: "sh -c 'exec uvicorn ...'" keeps pid and start time.
  FakeProcess sh = Proc(400, 1, {"/bin/sh", "-c", "exec uvicorn shop.main:app"});
  sh.start_time = 5000;
  tree_.Add(sh);
  Discovery discovery(Config{}, reader_);
  EXPECT_TRUE(discovery.Scan().added().empty());
  FakeProcess execd = Proc(400, 1, {"/usr/bin/python3", "/usr/bin/uvicorn", "shop.main:app"});
  execd.start_time = 5000;
  execd.comm = "uvicorn";
  tree_.Add(execd);
  EXPECT_EQ(Pids(discovery.Scan().added()), std::vector<uint32_t>{400});
}

TEST_F(DiscoveryTest, PythonThatExecsPythonUvicornIsFound) {
  // A python launcher (or a fork of a python process seen before its exec)
  // that execs "python -m uvicorn": pid, start time AND comm stay the same.
  FakeProcess launcher = Proc(410, 50, {"/usr/bin/python3.11", "launch.py"});
  launcher.start_time = 6000;
  launcher.comm = "python3.11";
  tree_.Add(launcher);
  Discovery discovery(Config{}, reader_);
  EXPECT_TRUE(discovery.Scan().added().empty());
  EXPECT_TRUE(discovery.Scan().added().empty());
  FakeProcess execd =
      Proc(410, 50, {"/usr/bin/python3.11", "-m", "uvicorn", "shop.main:app", "--port", "1"});
  execd.start_time = 6000;
  execd.comm = "python3.11";
  tree_.Add(execd);
  EXPECT_EQ(Pids(discovery.Scan().added()), std::vector<uint32_t>{410});
}

TEST_F(DiscoveryTest, SpawnChildSeenBeforeItsExecIsRechecked) {
  const V sup = {"python3", "-m", "uvicorn", "--workers", "2", "shop.main:app"};
  tree_.Add(Proc(200, 50, sup));
  // Between fork and exec the child has the supervisor's argv and comm.
  tree_.Add(Proc(201, 200, sup));
  Discovery discovery(Config{}, reader_);
  EXPECT_TRUE(discovery.Scan().added().empty());
  // exec: same pid, start time and comm ("python3"), new argv.
  tree_.Add(Proc(201, 200, kSpawn));
  EXPECT_EQ(Pids(discovery.Scan().added()), std::vector<uint32_t>{201});
}

TEST_F(DiscoveryTest, RecheckBudgetRunsOut) {
  // A long-lived fork of a single worker (multiprocessing "fork") is re-read
  // for a few scans only.
  const V worker = {"uvicorn", "shop.main:app"};
  tree_.Add(Proc(100, 50, worker));
  tree_.Add(Proc(101, 100, worker));
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  for (int i = 0; i < 20; ++i) discovery.Scan();
  reader_.process_reads = 0;
  discovery.Scan();
  EXPECT_EQ(reader_.process_reads, 0);
  EXPECT_EQ(Pids(discovery.Workers()), std::vector<uint32_t>{100});
}

TEST_F(DiscoveryTest, ReparentingReclassifiesTheSubtree) {
  // gunicorn USR2: the old master 300 forks+execs a new master 310 with the
  // same argv; 310 forks workers 311. While 300 lives, 310 looks like a
  // worker of 300 and 311 like a fork of a worker.
  tree_.Add(Proc(300, 1, kGunicorn));
  tree_.Add(Proc(310, 300, kGunicorn));
  tree_.Add(Proc(311, 310, kGunicorn));
  Discovery discovery(Config{}, reader_);
  EXPECT_EQ(Pids(discovery.Scan().added()), std::vector<uint32_t>{310});
  // The old master quits; 310 is re-parented to init.
  tree_.Remove(300);
  tree_.Add(Proc(310, 1, kGunicorn));
  const auto diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.removed()), std::vector<uint32_t>{310});
  EXPECT_EQ(Pids(diff.added()), std::vector<uint32_t>{311});
}

TEST_F(DiscoveryTest, NamingPrecedenceAndSanitization) {
  Config config;
  config.services = {{"--port 9000", "billing admin"}};
  tree_.Add(Proc(200, 50, kUvicornWorkers2));
  tree_.Add(Proc(202, 200, kSpawn, {{"PERFD_SERVICE", "ignored"}}));
  tree_.Add(Proc(100, 50, {"uvicorn", "shop.main:app"}, {{"OTEL_SERVICE_NAME", "shop/otel"}}));
  tree_.Add(Proc(101, 50, {"uvicorn", "cart.main:app"},
                 {{"OTEL_SERVICE_NAME", "otel"}, {"PERFD_SERVICE", "cart-svc"}}));
  Discovery discovery(config, reader_);
  discovery.Scan();
  const auto workers = discovery.Workers();
  // The rule matches the supervisor's command line, not the child's stub.
  EXPECT_EQ(Find(workers, 202)->service, "billing_admin");
  EXPECT_EQ(Find(workers, 100)->service, "shop_otel");
  EXPECT_EQ(Find(workers, 101)->service, "cart-svc");
}

TEST_F(DiscoveryTest, ProcessVanishingMidScanIsSkipped) {
  tree_.Add(Proc(100, 50, {"uvicorn", "shop.main:app"}));
  tree_.Add(Proc(120, 50, {"uvicorn", "cart:app"}));
  std::remove((tree_.root() + "/120/cmdline").c_str());  // exited after stat
  Discovery discovery(Config{}, reader_);
  EXPECT_EQ(Pids(discovery.Scan().added()), std::vector<uint32_t>{100});
  tree_.Remove(120);
  const auto diff = discovery.Scan();
  EXPECT_TRUE(diff.added().empty());
  EXPECT_TRUE(diff.removed().empty());
}

TEST_F(DiscoveryTest, WorkersIsSafeDuringScans) {
  AddMixedHost();
  Discovery discovery(Config{}, reader_);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      const auto workers = discovery.Workers();
      ASSERT_TRUE(workers.empty() || workers.size() == 5 || workers.size() == 4);
    }
  });
  for (int i = 0; i < 50; ++i) {
    if (i % 2 == 0) {
      tree_.Remove(100);
    } else {
      FakeProcess p = Proc(100, 50, {"uvicorn", "shop.main:app"});
      p.start_time = 7000 + static_cast<uint64_t>(i);
      tree_.Add(p);
    }
    discovery.Scan();
  }
  stop = true;
  reader.join();
}

// ---- /proc read failures that are not exits (hardening: fd exhaustion) ----

class DiscoveryReadErrorTest : public ::testing::Test {
 protected:
  DiscoveryReadErrorTest() : reader_(tree_.root()) {
    tree_.Add(Proc(1, 0, {"/sbin/init"}));
    tree_.Add(Proc(50, 1, {"-bash"}));
    tree_.Add(Proc(100, 50, {"python3", "-m", "uvicorn", "shop.main:app"}));
    tree_.Add(Proc(200, 50, kUvicornWorkers2));
    tree_.Add(Proc(202, 200, kSpawn));
  }
  FakeProcTree tree_;
  testing::FaultyReader reader_;
};

TEST_F(DiscoveryReadErrorTest, EmfileOnStatKeepsTheWorker) {
  Discovery discovery(Config{}, reader_);
  ASSERT_EQ(Pids(discovery.Scan().added()), (std::vector<uint32_t>{100, 202}));
  reader_.fail[100] = EMFILE;  // perfd is out of fds: says nothing about pid 100
  for (int i = 0; i < 3; ++i) {
    const auto diff = discovery.Scan();
    EXPECT_TRUE(diff.removed().empty()) << "scan " << i;
    EXPECT_TRUE(diff.added().empty()) << "scan " << i;
  }
  EXPECT_EQ(Pids(discovery.Workers()), (std::vector<uint32_t>{100, 202}));
  EXPECT_EQ(discovery.last_scan().read_errors, 1u);
  EXPECT_EQ(discovery.read_errors().at("EMFILE"), 3u);
  // Readable again: still the same worker, no flap.
  reader_.fail.clear();
  const auto diff = discovery.Scan();
  EXPECT_TRUE(diff.removed().empty());
  EXPECT_TRUE(diff.added().empty());
  EXPECT_EQ(discovery.last_scan().read_errors, 0u);
}

TEST_F(DiscoveryReadErrorTest, EnoentOnStatRemovesTheWorker) {
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  reader_.fail[100] = ENOENT;  // /proc/100 listed but gone when read: exited
  const auto diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.removed()), std::vector<uint32_t>{100});
  EXPECT_EQ(Pids(discovery.Workers()), std::vector<uint32_t>{202});
  EXPECT_TRUE(discovery.read_errors().empty());
  reader_.fail[202] = ESRCH;  // exited between open and read
  EXPECT_EQ(Pids(discovery.Scan().removed()), std::vector<uint32_t>{202});
}

TEST_F(DiscoveryReadErrorTest, OtherErrorsAreUnknownToo) {
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  reader_.fail[100] = ENFILE;
  reader_.fail[202] = EACCES;
  EXPECT_TRUE(discovery.Scan().removed().empty());
  reader_.fail[100] = EIO;
  EXPECT_TRUE(discovery.Scan().removed().empty());
  EXPECT_EQ(Pids(discovery.Workers()), (std::vector<uint32_t>{100, 202}));
  const auto errors = discovery.read_errors();
  EXPECT_EQ(errors.at("ENFILE"), 1u);
  EXPECT_EQ(errors.at("EACCES"), 2u);
  EXPECT_EQ(errors.at("other"), 1u);
}

TEST_F(DiscoveryReadErrorTest, FailedPidListingChangesNothing) {
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  reader_.list_error = EMFILE;  // opendir("/proc") failed: an empty list is not "all exited"
  const auto diff = discovery.Scan();
  EXPECT_TRUE(diff.removed().empty());
  EXPECT_EQ(Pids(discovery.Workers()), (std::vector<uint32_t>{100, 202}));
  EXPECT_EQ(discovery.read_errors().at("EMFILE"), 1u);
  reader_.list_error = 0;
  tree_.Remove(100);
  EXPECT_EQ(Pids(discovery.Scan().removed()), std::vector<uint32_t>{100});
}

TEST_F(DiscoveryReadErrorTest, UnreadableParentDefersClassification) {
  // A new spawn child whose supervisor cannot be read right now must not be
  // classified without it (it would not be a worker, then flap to one).
  Discovery discovery(Config{}, reader_);
  discovery.Scan();
  tree_.Add(Proc(203, 200, kSpawn));
  reader_.fail[200] = EMFILE;
  auto diff = discovery.Scan();
  EXPECT_TRUE(diff.added().empty());
  EXPECT_TRUE(diff.removed().empty());
  reader_.fail.clear();
  diff = discovery.Scan();
  EXPECT_EQ(Pids(diff.added()), std::vector<uint32_t>{203});
}

}  // namespace
}  // namespace perfd
