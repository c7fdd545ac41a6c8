// Discovery against the real /proc. A process named "uvicorn" is made by
// re-executing this test binary through a symlink called "uvicorn": the
// kernel then reports argv ["<tmp>/uvicorn", "x.y:app"] and comm "uvicorn",
// exactly what a uvicorn console script looks like. (Plain `sleep` cannot be
// used: it rejects "x.y:app" as a duration and exits at once.)
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "daemon/discovery/discovery.h"

namespace {

constexpr const char* kSleeperEnv = "PERFD_DISCOVERY_TEST_SLEEPER";

// Runs before gtest's main: the re-executed copy just waits to be killed.
const bool kIsSleeper = [] {
  if (getenv(kSleeperEnv) != nullptr) {
    for (;;) pause();
  }
  return false;
}();

}  // namespace

namespace perfd {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/perfd_real_proc.XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadCmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Starts `self` (via `program`) with argv {program, args...} and waits until
// the exec is visible in /proc.
pid_t SpawnSleeper(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv_storage = {program};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed or killed test
    setenv(kSleeperEnv, "1", 1);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  const std::string expected = program + std::string(1, '\0');
  for (int i = 0; i < 500 && ReadCmdline(pid).rfind(expected, 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

void Reap(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Kills the children still listed when a test ends, even by a failed ASSERT.
struct Children {
  ~Children() {
    for (pid_t pid : pids) Reap(pid);
  }
  std::vector<pid_t> pids;
};

TEST(RealProcTest, FakeUvicornIsFoundAndRemovedAfterKill) {
  ASSERT_FALSE(kIsSleeper);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string uvicorn = dir.path() + "/uvicorn";
  std::filesystem::create_symlink(std::filesystem::read_symlink("/proc/self/exe"), uvicorn);

  ProcReader reader;  // the real /proc
  Discovery discovery(Config{}, reader);
  discovery.Scan();  // baseline: whatever already runs on this machine

  Children children;
  const pid_t pid = SpawnSleeper(uvicorn, {"x.y:app"});
  ASSERT_GT(pid, 0);
  children.pids.push_back(pid);
  auto diff = discovery.Scan();
  const Worker* found = nullptr;
  for (const auto& w : diff.added()) {
    if (w.pid == static_cast<uint32_t>(pid)) found = &w;
  }
  ASSERT_NE(found, nullptr) << "cmdline: " << ReadCmdline(pid);
  EXPECT_EQ(found->app_spec, "x.y:app");
  EXPECT_EQ(found->server, "uvicorn");
  EXPECT_EQ(found->service, "x");
  EXPECT_EQ(found->argv, (std::vector<std::string>{uvicorn, "x.y:app"}));
  EXPECT_GT(found->start_time, 0u);

  Reap(pid);
  children.pids.clear();
  diff = discovery.Scan();
  bool removed = false;
  for (const auto& w : diff.removed()) removed |= w.pid == static_cast<uint32_t>(pid);
  EXPECT_TRUE(removed);
  for (const auto& w : discovery.Workers()) EXPECT_NE(w.pid, static_cast<uint32_t>(pid));
}

// Not a benchmark with a tight bound (CI machines vary); it reports the cost
// of a scan with ~300 extra processes and fails only if it is absurd.
TEST(RealProcTest, SteadyStateScanCost) {
  constexpr int kChildren = 300;
  Children children;
  for (int i = 0; i < kChildren; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) pause();
    }
    ASSERT_GT(pid, 0);
    children.pids.push_back(pid);
  }
  ProcReader reader;
  Discovery discovery(Config{}, reader);
  const auto first = std::chrono::steady_clock::now();
  discovery.Scan();
  const auto first_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - first)
                            .count();
  const size_t processes = discovery.last_scan().processes;
  std::vector<int64_t> steady;
  for (int i = 0; i < 20; ++i) {
    discovery.Scan();
    steady.push_back(discovery.last_scan().duration.count());
  }
  std::sort(steady.begin(), steady.end());
  const int64_t median = steady[steady.size() / 2];
  std::cout << "[ scan cost ] processes=" << processes << " first_scan_us=" << first_us
            << " steady_median_us=" << median << " steady_max_us=" << steady.back() << "\n";
  RecordProperty("processes", static_cast<int>(processes));
  RecordProperty("steady_median_us", static_cast<int>(median));
  EXPECT_GE(processes, static_cast<size_t>(kChildren));
  EXPECT_LT(median, 1000000) << "a steady-state scan should take milliseconds";
}

}  // namespace
}  // namespace perfd
