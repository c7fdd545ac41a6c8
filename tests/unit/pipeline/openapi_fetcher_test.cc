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
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace perfd {
namespace {

using Clock = std::chrono::steady_clock;

// Accepts connections on 127.0.0.1, reads one request head, writes
// `response`, then writes `flood` again and again (a peer that never stops)
// or, with `hold` set, keeps the connection open without writing.
class FakeWorker {
 public:
  FakeWorker(std::string response, std::string flood = "", bool hold = false)
      : response_(std::move(response)), flood_(std::move(flood)), hold_(hold) {
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
    address_ = "tcp:127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeWorker() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  const std::string& address() const { return address_; }
  uint64_t flood_bytes() const { return flood_bytes_; }

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
  std::string address_;
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
      [&](const std::string&, std::vector<std::string>) { installed = true; },
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
        [&](const std::string& service, std::vector<std::string> paths) {
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
      "/openapi.json", 2000, [](const std::string&, std::vector<std::string>) {},
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
  EXPECT_EQ(r.outcome, FetchOutcome::kUnreachable) << r.error;
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
      [&](const std::string& service, std::vector<std::string>) { installed.push_back(service); },
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

}  // namespace
}  // namespace perfd
