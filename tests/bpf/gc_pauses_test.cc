// GC pauses through CPython's python:gc__start/gc__done USDT probes, on real
// interpreters: a script forces collections of known generations and
// reports what gc.callbacks saw (the callbacks wrap the probes), and every
// collection inside its measured window must arrive once, with its
// generation, and with a duration inside the callbacks' (bpf/py_sampler.bpf.c,
// daemon/python/usdt_notes.h). Interpreters built without the probes
// (pyenv's default builds) must be recognised as such: perfd reports them
// as `no_usdt` rather than as workers without collections.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "daemon/loader/py_sampler.h"
#include "daemon/python/python_target.h"
#include "tests/bpf/interpreters.h"
#include "tests/unit/python_target/live_python.h"

namespace perfd {
namespace {

namespace pt = python::testing;

std::string ScriptPath(const std::string& name) {
  return std::string(PERFD_PY_SCRIPTS_DIR) + "/" + name;
}

// The script's "done" line.
struct Reported {
  uint64_t start_ns = 0, end_ns = 0;
  std::array<uint64_t, 3> count{}, spent_ns{};
};

bool ParseDone(const std::string& line, Reported* r) {
  std::istringstream in(line);
  std::string word;
  in >> word >> r->start_ns >> r->end_ns;
  for (auto& c : r->count) in >> c;
  for (auto& s : r->spent_ns) in >> s;
  return word == "done" && !in.fail();
}

class GcPausesTest : public ::testing::TestWithParam<Interpreter> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (uprobes and BPF)";
    std::string why;
    python_ = FindInterpreter(GetParam(), &why);
    if (python_.empty()) GTEST_SKIP() << why;
  }
  std::string python_;
};

TEST_P(GcPausesTest, EveryCollectionArrivesOnceWithItsGeneration) {
  char dir[] = "/tmp/perfd-gc-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string go = std::string(dir) + "/go";
  pt::Child child({python_, "-I", ScriptPath("gc_pauses.py"), "60", go});
  ASSERT_EQ(child.ReadLine(10000), "ready") << python_ << " did not start";
  const uint32_t pid = static_cast<uint32_t>(child.pid());

  auto inspected = python::InspectPython(pid);
  if (auto* refusal = std::get_if<std::string>(&inspected))
    FAIL() << python_ << " refused by InspectPython: " << *refusal;
  const auto target = std::get<python::PythonTarget>(inspected);
  if (!target.gc_probes) {
    // Debian builds CPython --with-dtrace: its probes must be found.
    ASSERT_EQ(std::string(GetParam().label).rfind("debian", 0), std::string::npos)
        << python_ << ": python:gc__start/gc__done not found in " << target.binary;
    GTEST_SKIP() << target.binary << " has no GC USDT probes: perfd counts it as no_usdt";
  }

  std::unique_ptr<PySampler> sampler;
  try {
    sampler = PySampler::Open(/*frequency_hz=*/1);
    sampler->AddProcess(pid, target.proc);
    sampler->AttachGcProbes(pid, target.binary_file->SelfPath());
  } catch (const LoaderError& e) {
    FAIL() << e.what();
  }
  std::vector<py_gc_pause> pauses;
  sampler->SetGcPauseHandler([&](const py_gc_pause& p) {
    if (p.tgid == pid) pauses.push_back(p);
  });
  PySampler::SampleFn ignore = [](const py_sample&) {};

  FILE* f = fopen(go.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  const std::string done = child.ReadLine(60000);
  Reported want;
  ASSERT_TRUE(ParseDone(done, &want)) << "script said: " << done;
  unlink(go.c_str());
  rmdir(dir);
  ASSERT_GE(want.count[2], 5u) << "the script forces 5 full collections";
  ASSERT_GE(want.count[0], 20u);

  // Wait (bounded) until every collection of the window has arrived.
  std::array<uint64_t, 3> got{}, got_ns{};
  auto tally = [&] {
    got = {};
    got_ns = {};
    for (const py_gc_pause& p : pauses) {
      if (p.start_ns < want.start_ns || p.start_ns > want.end_ns) continue;
      if (p.generation < 0 || p.generation > 2) continue;
      ++got[p.generation];
      got_ns[p.generation] += p.duration_ns;
    }
    return got == want.count;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!tally() && std::chrono::steady_clock::now() < deadline) sampler->Poll(50, ignore);

  for (int g = 0; g < 3; ++g) {
    EXPECT_EQ(got[g], want.count[g]) << "generation " << g;
    // The callbacks run just outside the probes: the probes' time is inside
    // theirs, and for the full collections (milliseconds each) nearly all of it.
    EXPECT_LE(got_ns[g], want.spent_ns[g]) << "generation " << g;
  }
  EXPECT_GE(double(got_ns[2]), 0.8 * double(want.spent_ns[2]))
      << "full collections: probes " << got_ns[2] << " ns, callbacks " << want.spent_ns[2] << " ns";
  for (const py_gc_pause& p : pauses) EXPECT_EQ(p.tid, pid) << "collections run on the main thread";
  const auto k = sampler->Counters();
  EXPECT_EQ(k[PY_CNT_GC_DROPS], 0u);
  std::printf(
      "[ measured ] %s: %llu/%llu/%llu collections (gen 0/1/2); full ones %.2f ms by the "
      "probes vs %.2f ms by gc.callbacks\n",
      GetParam().label, (unsigned long long)got[0], (unsigned long long)got[1],
      (unsigned long long)got[2], got_ns[2] / 1e6, want.spent_ns[2] / 1e6);
  sampler->RemoveProcess(pid);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, GcPausesTest, SupportedInterpreters(), InterpreterTestName);

}  // namespace
}  // namespace perfd
