// Request identity on real interpreters (pyenv 3.10-3.13, Debian's 3.11):
// tests/bpf/py_scripts/identity_server.py serves two overlapping requests,
// /a and /b, each burning CPU in its own task, in child tasks and in a worker
// thread, in functions named for the request. With the real HTTP probes, the
// real sampler and the context-copy probe attached as perfd attaches it,
// every sample of that work must carry its request's connection, and no
// sample may ever carry the other request's. Needs root.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "daemon/loader/http_probes.h"
#include "daemon/loader/py_sampler.h"
#include "daemon/python/code_reader.h"
#include "daemon/python/python_target.h"
#include "daemon/python/symbolizer.h"
#include "tests/bpf/interpreters.h"
#include "tests/unit/python_target/live_python.h"

namespace perfd {
namespace {

namespace pt = python::testing;

constexpr uint32_t kHz = 199;
constexpr const char* kScriptLifetimeS = "30";

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

class RequestIdentityTest : public ::testing::TestWithParam<Interpreter> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (perf events, uprobes, BPF)";
    std::string why;
    python_ = FindInterpreter(GetParam(), &why);
    if (python_.empty()) GTEST_SKIP() << why;
  }
  std::string python_;
};

TEST_P(RequestIdentityTest, OverlappingRequestsKeepTheirOwnConnection) {
  const std::string script = std::string(PERFD_PY_SCRIPTS_DIR) + "/identity_server.py";
  pt::Child child({python_, "-I", script, kScriptLifetimeS});
  std::string ready = child.ReadLine(10000);
  int port = 0;
  ASSERT_EQ(std::sscanf(ready.c_str(), "ready %d", &port), 1) << "script said: " << ready;
  const uint32_t pid = static_cast<uint32_t>(child.pid());

  auto inspected = python::InspectPython(pid);
  ASSERT_TRUE(std::holds_alternative<python::PythonTarget>(inspected))
      << std::get<std::string>(inspected);
  python::PythonTarget target = std::get<python::PythonTarget>(inspected);
  const auto* hook = std::get_if<python::ContextHook>(&target.context_hook);
  ASSERT_NE(hook, nullptr) << std::get<std::string>(target.context_hook);
  ASSERT_EQ(python::VerifyContextLayout(pid, target), "");

  std::unique_ptr<PySampler> sampler;
  std::unique_ptr<HttpProbes> probes;
  try {
    sampler = PySampler::Open(kHz);
    HttpProbes::SharedPyMaps shared{sampler->py_procs_fd(), sampler->py_ctx_conns_fd(),
                                    sampler->py_deliveries_fd()};
    probes = HttpProbes::Open(shared);
    probes->TrackPid(pid);
    sampler->AddProcess(pid, target.proc);
    sampler->AttachContextHook(pid, target.binary_file->SelfPath(), hook->file_offset);
    sampler->EnableContextTracking(pid);
  } catch (const LoaderError& e) {
    FAIL() << e.what();
  }

  // Both requests in flight at once, on two connections.
  int ca = Connect(port), cb = Connect(port);
  ASSERT_GE(ca, 0);
  ASSERT_GE(cb, 0);
  const std::string ra = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
                    rb = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(ca, ra.data(), ra.size()), static_cast<ssize_t>(ra.size()));
  ASSERT_EQ(write(cb, rb.data(), rb.size()), static_cast<ssize_t>(rb.size()));

  std::map<std::string, uint64_t> conn_of;  // "a"/"b" → conn_id of its request line
  HttpProbes::EventFn on_event = [&](const perfd_http_event_header& h,
                                     const char(*lines)[PERFD_LINE_MAX]) {
    if (h.tgid != pid || h.kind != PERFD_EV_READ || !lines) return;
    for (int i = 0; i < h.nlines; ++i) {
      std::string line(lines[i], h.line_len[i]);
      if (line.rfind("GET /", 0) == 0) conn_of[line.substr(5, 1)] = h.conn_id;
    }
  };
  python::Symbolizer symbolizer;
  python::ProcessMemoryReader mem(static_cast<pid_t>(pid));
  struct Seen {
    std::string leaf;
    uint64_t conn_id;
    uint8_t flags;
  };
  std::vector<Seen> seen;
  PySampler::SampleFn on_sample = [&](const py_sample& s) {
    if (s.h.tgid != pid || s.h.nframes == 0) return;
    python::Symbol sym = symbolizer.Resolve(mem, pid, target.proc.off, s.frames[0]);
    // The leaf is spin(); the request's function is its caller.
    if (s.h.nframes > 1 && sym.ok && sym.qualname == "spin")
      sym = symbolizer.Resolve(mem, pid, target.proc.off, s.frames[1]);
    if (sym.ok) seen.push_back({sym.qualname, s.h.conn_id, s.h.flags});
  };
  // Each request takes ~0.6 s of CPU; both responses end the wait.
  std::string got_a, got_b;
  auto read_some = [](int fd, std::string* out) {
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) out->append(buf, static_cast<size_t>(n));
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((got_a.find("ok") == std::string::npos || got_b.find("ok") == std::string::npos) &&
         std::chrono::steady_clock::now() < deadline) {
    probes->Poll(20, on_event);
    sampler->Poll(0, on_sample);
    sampler->SyncThreads(pid);  // the executor's thread starts lazily, as perfd's scans find it
    read_some(ca, &got_a);
    read_some(cb, &got_b);
  }
  close(ca);
  close(cb);
  sampler->RemoveProcess(pid);
  while (probes->Poll(50, on_event) > 0 || sampler->Poll(0, on_sample) > 0) {
  }
  ASSERT_NE(got_a.find("ok"), std::string::npos) << "no response to /a";
  ASSERT_NE(got_b.find("ok"), std::string::npos) << "no response to /b";
  ASSERT_EQ(conn_of.size(), 2u) << "request lines not seen by the HTTP probes";
  ASSERT_NE(conn_of["a"], conn_of["b"]);

  // Every interpreter here reaches the hook for asyncio.to_thread's
  // contextvars.copy_context() too: Debian's LTO build through the decoded
  // constructor, pyenv's builds because copy_context() tail-calls
  // PyContext_CopyCurrent.
  for (const char* family : {"burn", "child", "thread"}) {
    size_t total = 0, right = 0, wrong = 0;
    for (const char* req : {"a", "b"}) {
      const std::string fn = std::string(family) + "_" + req;
      const uint64_t mine = conn_of[req], other = conn_of[req[0] == 'a' ? "b" : "a"];
      for (const Seen& s : seen) {
        if (s.leaf != fn) continue;
        ++total;
        EXPECT_TRUE(s.flags & PY_SAMPLE_CTX_TRACKED);
        right += s.conn_id == mine;
        wrong += s.conn_id == other;
      }
    }
    std::printf("[ measured ] %s %s (%s): %zu/%zu samples tagged with their request, %zu wrong\n",
                GetParam().label, family, python::ContextHookKindName(hook->kind), right, total,
                wrong);
    // Never the other request's connection, whatever the hook covers.
    EXPECT_EQ(wrong, 0u) << family;
    ASSERT_GE(total, 20u) << family << ": too few samples to judge";
    EXPECT_GE(right, total * 95 / 100) << family;
  }
  auto k = sampler->ContextCounters();
  EXPECT_GE(k[PY_CTX_CNT_DELIVERED], 2u);
  EXPECT_GE(k[PY_CTX_CNT_INHERITED], 4u);
  EXPECT_EQ(k[PY_CTX_CNT_TABLE_FULL], 0u);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, RequestIdentityTest, SupportedInterpreters(),
                         InterpreterTestName);

}  // namespace
}  // namespace perfd
