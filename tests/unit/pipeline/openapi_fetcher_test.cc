// The real fetcher (sockets, deadline, parser, result counters, fetcher
// thread) against a local TCP server playing a worker. Production fetches go
// through FetchFromProcess (listen addresses + setns); here the Fetch seam
// points FetchFromAddress at 127.0.0.1 so no root or second process is needed.
#include "daemon/pipeline/openapi_fetcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace perfd {
namespace {

using Clock = std::chrono::steady_clock;

// Accepts connections on 127.0.0.1 (or on the unix socket `unix_path`),
// reads one request head, writes `response`, then writes `flood` again and
// again (a peer that never stops) or, with `hold` set, keeps the connection
// open without writing.
class FakeWorker {
 public:
  FakeWorker(std::string response, std::string flood = "", bool hold = false,
             const std::string& unix_path = "")
      : response_(std::move(response)), flood_(std::move(flood)), hold_(hold) {
    if (!unix_path.empty()) {
      listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un u{};
      u.sun_family = AF_UNIX;
      std::snprintf(u.sun_path, sizeof(u.sun_path), "%s", unix_path.c_str());
      if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&u), sizeof(u)) != 0 ||
          listen(listen_fd_, 8) != 0) {
        throw std::runtime_error("cannot listen on " + unix_path);
      }
      address_ = "unix:" + unix_path;
    } else {
      listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(a);
      if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
          listen(listen_fd_, 8) != 0 ||
          getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error("cannot listen on 127.0.0.1");
      }
      port_ = ntohs(a.sin_port);
      address_ = "tcp:127.0.0.1:" + std::to_string(port_);
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeWorker() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  uint64_t flood_bytes() const { return flood_bytes_; }
  // Connections accepted so far.
  uint64_t connections() const { return connections_; }

 private:
  // Waits for `events` on fd in 20-ms steps so a stop request is noticed.
  bool WaitFor(int fd, short events) {
    while (!stop_) {
      pollfd p{fd, events, 0};
      int n = poll(&p, 1, 20);
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
    return false;
  }

  void Serve() {
    while (WaitFor(listen_fd_, POLLIN)) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      Answer(fd);
      close(fd);
    }
  }

  void Answer(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (!WaitFor(fd, POLLIN)) return;
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      request.append(buf, n);
    }
    if (!SendAll(fd, response_)) return;
    // Up to 1 GiB: enough to take the old decoder to gigabytes, and a bound
    // for the test if the fetcher never hangs up.
    while (!flood_.empty() && flood_bytes_ < (uint64_t{1} << 30)) {
      if (!SendAll(fd, flood_)) return;
      flood_bytes_ += flood_.size();
    }
    if (hold_) {
      // Until the client gives up (POLLIN with EOF) or the test ends.
      while (WaitFor(fd, POLLIN) && recv(fd, buf, sizeof(buf), 0) > 0) {
      }
    }
  }

  bool SendAll(int fd, const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      if (!WaitFor(fd, POLLOUT)) return false;
      ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += n;
    }
    return true;
  }

  const std::string response_;
  const std::string flood_;
  const bool hold_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::string address_;
  std::atomic<uint64_t> connections_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> flood_bytes_{0};
  std::thread thread_;
};

constexpr const char* kDoc =
    R"({"openapi":"3.1.0","paths":{"/items/{item_id}":{},"/users/{user_id}":{}}})";

// Waits until the fetcher has counted `n` results in total.
std::map<std::string, uint64_t> WaitForResults(const OpenApiFetcher& f, uint64_t n,
                                               std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (true) {
    auto results = f.Results();
    uint64_t total = 0;
    for (const auto& [k, v] : results) total += v;
    if (total >= n || Clock::now() > until) return results;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

OpenApiFetcher::Fetch At(const std::string& address) {
  return [address](uint32_t, const std::string& path, uint32_t timeout_ms) {
    return FetchFromAddress(address, path, timeout_ms);
  };
}

TEST(OpenApiFetcherTest, HostileChunkSizeIsCountedAndSkipped) {
  FakeWorker worker(
      "HTTP/1.1 200 OK\r\nserver: uvicorn\r\ntransfer-encoding: chunked\r\n\r\n"
      "ffffffffffffffec\r\n",
      std::string(65536, 'A'));
  constexpr uint32_t kTimeoutMs = 2000;
  bool installed = false;
  const auto start = Clock::now();
  OpenApiFetcher fetcher(
      "/openapi.json", kTimeoutMs,
      [&](const std::string&, std::vector<std::string>, uint64_t) { installed = true; },
      At(worker.address()));
  fetcher.Request("shop", 1);
  auto results = WaitForResults(fetcher, 1, std::chrono::milliseconds(kTimeoutMs + 2000));
  const auto elapsed = Clock::now() - start;

  EXPECT_EQ(results["malformed_response"], 1u);
  EXPECT_EQ(results.size(), 1u);
  EXPECT_LT(elapsed, std::chrono::milliseconds(kTimeoutMs));
  EXPECT_FALSE(installed);  // the service keeps heuristic routes
  // The fetcher hung up after the chunk-size line instead of draining the
  // flood (the old decoder read until 16 MiB, then chunked forever).
  EXPECT_LT(worker.flood_bytes(), uint64_t{16} << 20);
}

TEST(OpenApiFetcherTest, DirectFetchOfHostileChunkSizeReturnsAtOnce) {
  FakeWorker worker("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffec\r\n",
                    std::string(65536, 'A'));
  const auto start = Clock::now();
  FetchResult r = FetchFromAddress(worker.address(), "/openapi.json", 2000);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(r.outcome, FetchOutcome::kMalformedResponse) << r.error;
  EXPECT_NE(r.error.find("chunk size"), std::string::npos) << r.error;
  EXPECT_TRUE(r.body.empty());
}

TEST(OpenApiFetcherTest, ValidDocumentsAreInstalled) {
  const std::string doc = kDoc;
  FakeWorker plain("HTTP/1.1 200 OK\r\nserver: uvicorn\r\ncontent-length: " +
                   std::to_string(doc.size()) + "\r\ncontent-type: application/json\r\n\r\n" + doc);
  FakeWorker chunked("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n" +
                     doc.substr(0, 16) + "\r\n" +
                     [&] {
                       char size[16];
                       std::snprintf(size, sizeof(size), "%zx", doc.size() - 16);
                       return std::string(size);
                     }() +
                     "\r\n" + doc.substr(16) + "\r\n0\r\n\r\n");
  for (const FakeWorker* w : {&plain, &chunked}) {
    std::vector<std::string> got;
    OpenApiFetcher fetcher(
        "/openapi.json", 2000,
        [&](const std::string& service, std::vector<std::string> paths, uint64_t) {
          EXPECT_EQ(service, "shop");
          got = std::move(paths);
        },
        At(w->address()));
    fetcher.Request("shop", 1);
    auto results = WaitForResults(fetcher, 1, std::chrono::milliseconds(4000));
    EXPECT_EQ(results["ok"], 1u);
    EXPECT_EQ(got, (std::vector<std::string>{"/items/{item_id}", "/users/{user_id}"}));
  }
}

TEST(OpenApiFetcherTest, OversizedDocumentIsCountedTooLarge) {
  FakeWorker worker("HTTP/1.1 200 OK\r\ncontent-length: 17000000\r\n\r\n", std::string(65536, '{'));
  OpenApiFetcher fetcher(
      "/openapi.json", 2000, [](const std::string&, std::vector<std::string>, uint64_t) {},
      At(worker.address()));
  fetcher.Request("shop", 1);
  auto results = WaitForResults(fetcher, 1, std::chrono::milliseconds(4000));
  EXPECT_EQ(results["too_large"], 1u);
}

TEST(OpenApiFetcherTest, NotFoundIsAnHttpError) {
  FakeWorker worker(
      "HTTP/1.1 404 Not Found\r\ncontent-length: 22\r\n\r\n{\"detail\":\"Not Found\"}");
  FetchResult r = FetchFromAddress(worker.address(), "/openapi.json", 2000);
  EXPECT_EQ(r.outcome, FetchOutcome::kHttpError) << r.error;
  EXPECT_EQ(r.status, 404);
}

TEST(OpenApiFetcherTest, StalledResponseTimesOut) {
  FakeWorker worker("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{", "", /*hold=*/true);
  const auto start = Clock::now();
  FetchResult r = FetchFromAddress(worker.address(), "/openapi.json", 200);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.outcome, FetchOutcome::kTimedOut) << r.error;
  EXPECT_GE(elapsed, std::chrono::milliseconds(190));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
}

TEST(OpenApiFetcherTest, ConnectionClosedMidBodyIsMalformed) {
  FakeWorker worker("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"paths\":");
  FetchResult r = FetchFromAddress(worker.address(), "/openapi.json", 2000);
  EXPECT_EQ(r.outcome, FetchOutcome::kMalformedResponse) << r.error;
}

TEST(OpenApiFetcherTest, ExceptionsAreCountedAndTheThreadGoesOn) {
  std::vector<std::string> installed;
  OpenApiFetcher fetcher(
      "/openapi.json", 2000,
      [&](const std::string& service, std::vector<std::string>, uint64_t) {
        installed.push_back(service);
      },
      [](uint32_t pid, const std::string&, uint32_t) -> FetchResult {
        if (pid == 1) throw std::runtime_error("boom");
        if (pid == 2) throw 42;  // not even a std::exception
        return {FetchOutcome::kOk, 200, R"({"paths":{"/a":{}}})", ""};
      });
  fetcher.Request("throws", 1);
  fetcher.Request("throws-int", 2);
  fetcher.Request("fine", 3);
  auto results = WaitForResults(fetcher, 3, std::chrono::milliseconds(4000));
  EXPECT_EQ(results["internal_error"], 2u);
  EXPECT_EQ(results["ok"], 1u);
  EXPECT_EQ(installed, (std::vector<std::string>{"fine"}));
}

// A /proc stand-in for FetchFromProcess: <dir>/<pid>/{fd/, net/tcp, ns/net,
// root} listing the given TCP listeners on 127.0.0.1 as the worker's.
class FakeProc {
 public:
  static constexpr uint32_t kPid = 4242;
  // ns_net: what <pid>/ns/net is: a symlink to a real namespace, or "" for a
  // regular file (setns fails on it).
  FakeProc(const std::vector<uint16_t>& ports, const std::string& ns_net) {
    char tmpl[] = "/tmp/perfd-fakeproc-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    const std::string pid = dir_ + "/" + std::to_string(kPid);
    for (const char* d : {"", "/fd", "/net", "/ns"}) mkdir((pid + d).c_str(), 0755);
    std::ofstream tcp(pid + "/net/tcp");
    tcp << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode\n";
    for (size_t i = 0; i < ports.size(); ++i) {
      const unsigned inode = 1000 + i;
      symlink(("socket:[" + std::to_string(inode) + "]").c_str(),
              (pid + "/fd/" + std::to_string(3 + i)).c_str());
      char line[256];
      std::snprintf(line, sizeof(line),
                    "%4zu: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 "
                    "00000000     0        0 %u 1 0000000000000000 100 0 0 10 0\n",
                    i, ports[i], inode);
      tcp << line;
    }
    if (ns_net.empty()) {
      std::ofstream(pid + "/ns/net") << "not a namespace";
    } else {
      symlink(ns_net.c_str(), (pid + "/ns/net").c_str());
    }
    symlink("/", (pid + "/root").c_str());
  }
  ~FakeProc() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

TEST(OpenApiFetcherTest, FakeProcListsTheListeners) {
  FakeWorker worker("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
  FakeProc proc({worker.port()}, "");
  EXPECT_EQ(ListenAddresses(FakeProc::kPid, proc.dir()),
            (std::vector<std::string>{worker.address()}));
}

// Finding 9: when the worker's namespace cannot be entered, fetching from
// perfd's own namespace could reach another service's listener on the same
// address and install its document. The fetch is aborted instead.
TEST(OpenApiFetcherTest, FailedSetnsAbortsTheFetch) {
  FakeWorker worker(std::string("HTTP/1.1 200 OK\r\ncontent-length: ") +
                    std::to_string(std::strlen(kDoc)) + "\r\n\r\n" + kDoc);
  FakeProc proc({worker.port()}, "");  // ns/net is a regular file: setns fails
  FetchResult r = FetchFromProcess(FakeProc::kPid, "/openapi.json", 2000, proc.dir());
  EXPECT_EQ(r.outcome, FetchOutcome::kNetnsFailed) << r.error;
  EXPECT_NE(r.error.find("setns"), std::string::npos) << r.error;
  EXPECT_EQ(worker.connections(), 0u);  // nothing was sent anywhere
}

TEST(OpenApiFetcherTest, FailedSetnsIsCountedFinalAndNothingInstalled) {
  FakeWorker worker(std::string("HTTP/1.1 200 OK\r\ncontent-length: ") +
                    std::to_string(std::strlen(kDoc)) + "\r\n\r\n" + kDoc);
  FakeProc proc({worker.port()}, "");
  bool installed = false;
  OpenApiFetcher fetcher(
      "/openapi.json", 2000,
      [&](const std::string&, std::vector<std::string>, uint64_t) { installed = true; },
      [&proc](uint32_t pid, const std::string& path, uint32_t timeout_ms) {
        return FetchFromProcess(pid, path, timeout_ms, proc.dir());
      });
  fetcher.Request("shop", FakeProc::kPid);
  auto results = WaitForResults(fetcher, 1, std::chrono::milliseconds(4000));
  EXPECT_EQ(results["netns_failed"], 1u);
  EXPECT_EQ(results.size(), 1u);
  EXPECT_FALSE(installed);
}

// Finding 9: one deadline for the whole fetch. Eight listeners that accept and
// never answer: the fetch ends at its deadline after the first of them, the
// others are never even connected to (the old fetcher gave each its own
// timeout, 8x as long, while every other service waited).
TEST(OpenApiFetcherTest, SilentListenersShareOneDeadline) {
  if (geteuid() != 0) GTEST_SKIP() << "setns into a namespace needs root";
  std::vector<std::unique_ptr<FakeWorker>> silent;
  std::vector<uint16_t> ports;
  for (int i = 0; i < 8; ++i) {
    silent.push_back(std::make_unique<FakeWorker>("", "", /*hold=*/true));
    ports.push_back(silent.back()->port());
  }
  FakeProc proc(ports, "/proc/self/ns/net");
  FetchResult r = FetchFromProcess(FakeProc::kPid, "/openapi.json", 300, proc.dir());
  EXPECT_EQ(r.outcome, FetchOutcome::kTimedOut) << r.error;
  uint64_t connected = 0;
  for (const auto& w : silent) connected += w->connections() > 0 ? 1 : 0;
  EXPECT_LE(connected, 1u);  // wait for nothing more: the accept may lag
}

// Finding 9: unix listeners are connected as the worker sees them, never
// through a symlink (perfd is root; the path is the worker's to choose).
TEST(OpenApiFetcherTest, SymlinkedUnixSocketIsRefused) {
  char tmpl[] = "/tmp/perfd-fetch-unix-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    FakeWorker worker(std::string("HTTP/1.1 200 OK\r\ncontent-length: ") +
                          std::to_string(std::strlen(kDoc)) + "\r\n\r\n" + kDoc,
                      "", false, dir + "/app.sock");
    ASSERT_EQ(symlink((dir + "/app.sock").c_str(), (dir + "/link.sock").c_str()), 0);
    FetchResult r = FetchFromAddress("unix:" + dir + "/link.sock", "/openapi.json", 2000);
    EXPECT_EQ(r.outcome, FetchOutcome::kPathRefused) << r.error;
    EXPECT_EQ(worker.connections(), 0u);
    // The socket itself, no symlink on the way: fetched.
    FetchResult ok = FetchFromAddress("unix:" + dir + "/app.sock", "/openapi.json", 2000);
    EXPECT_EQ(ok.outcome, FetchOutcome::kOk) << ok.error;
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(OpenApiFetcherTest, RefusedSocketPathIsCountedAndFinal) {
  OpenApiFetcher fetcher(
      "/openapi.json", 2000, [](const std::string&, std::vector<std::string>, uint64_t) {},
      [](uint32_t, const std::string&, uint32_t) -> FetchResult {
        return {FetchOutcome::kPathRefused, 0, "", "unix:/run/x.sock: a symlink on the way"};
      });
  fetcher.Request("shop", 1);
  auto results = WaitForResults(fetcher, 1, std::chrono::milliseconds(4000));
  EXPECT_EQ(results["socket_path_refused"], 1u);
}

// Finding 9: a service whose listener is silent is retried behind services
// not tried yet. The old queue waited for the head job's backoff, so a new
// service sat behind every retry of a silent one.
TEST(OpenApiFetcherTest, NewServiceGoesBeforeRetriesOfASilentOne) {
  std::atomic<int> silent_calls{0};
  OpenApiFetcher fetcher(
      "/openapi.json", 2000, [](const std::string&, std::vector<std::string>, uint64_t) {},
      [&](uint32_t pid, const std::string&, uint32_t) -> FetchResult {
        if (pid == 1) {
          ++silent_calls;
          return {FetchOutcome::kTimedOut, 0, "", "silent"};
        }
        return {FetchOutcome::kOk, 200, R"({"paths":{"/a":{}}})", ""};
      },
      /*retry_backoff_ms=*/60000);  // the retry is due long after the test ends
  fetcher.Request("silent", 1);
  WaitForResults(fetcher, 1, std::chrono::milliseconds(4000));  // its first try
  fetcher.Request("fine", 2);
  auto results = WaitForResults(fetcher, 2, std::chrono::milliseconds(4000));
  EXPECT_EQ(results["timed_out"], 1u);
  EXPECT_EQ(results["ok"], 1u);  // not stuck behind the retry's 60 s backoff
  EXPECT_EQ(silent_calls, 1);
}

// Finding 9 (and 1, end to end in tests/e2e/test_hostile_openapi.py): a
// document with more paths than the route table keeps is read as a stream;
// the paths past the cap are only counted, and handed on as omitted.
TEST(OpenApiFetcherTest, PathsPastTheCapAreCountedNotKept) {
  std::string doc = R"({"openapi":"3.0.2","paths":{)";
  const size_t n = 5000;
  for (size_t i = 0; i < n; ++i) doc += (i ? ",\"/p" : "\"/p") + std::to_string(i) + "\":{}";
  doc += "}}";
  size_t kept = 0;
  uint64_t omitted = 0;
  OpenApiFetcher fetcher(
      "/openapi.json", 2000,
      [&](const std::string&, std::vector<std::string> paths, uint64_t o) {
        kept = paths.size();
        omitted = o;
      },
      [&doc](uint32_t, const std::string&, uint32_t) -> FetchResult {
        return {FetchOutcome::kOk, 200, doc, ""};
      });
  fetcher.Request("big", 1);
  auto results = WaitForResults(fetcher, 1, std::chrono::milliseconds(4000));
  EXPECT_EQ(results["ok"], 1u);
  EXPECT_EQ(kept, 2000u);  // kMaxOpenApiTemplates
  EXPECT_EQ(omitted, n - 2000);
}

}  // namespace
}  // namespace perfd
