// The probe answers (HealthAnswer) on plain strings, then the listener over a
// real loopback socket.
#include "daemon/health/health_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ull;

TEST(HealthAnswerTest, NotAliveBeforeTheFirstBeat) {
  HealthState s;
  EXPECT_EQ(HealthAnswer("GET /healthz HTTP/1.1", s, 5 * kSec).status, 503);
  EXPECT_EQ(HealthAnswer("GET /readyz HTTP/1.1", s, 5 * kSec).status, 503);
}

TEST(HealthAnswerTest, AliveButNotReadyUntilSetReady) {
  HealthState s;
  s.Beat(10 * kSec);
  EXPECT_EQ(HealthAnswer("GET /healthz HTTP/1.1", s, 11 * kSec).status, 200);
  const HealthReply r = HealthAnswer("GET /readyz HTTP/1.1", s, 11 * kSec);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("starting"), std::string::npos);
  s.SetReady();
  EXPECT_EQ(HealthAnswer("GET /readyz HTTP/1.1", s, 11 * kSec).status, 200);
}

TEST(HealthAnswerTest, StalledLoopFailsBothProbes) {
  HealthState s;
  s.Beat(10 * kSec);
  s.SetReady();
  const uint64_t late = 10 * kSec + HealthState::kStallNs;
  EXPECT_EQ(HealthAnswer("GET /healthz HTTP/1.1", s, late - 1).status, 200);
  EXPECT_EQ(HealthAnswer("GET /healthz HTTP/1.1", s, late).status, 503);
  EXPECT_EQ(HealthAnswer("GET /readyz HTTP/1.1", s, late).status, 503);
}

TEST(HealthAnswerTest, PathsAndMethods) {
  HealthState s;
  s.Beat(kSec);
  s.SetReady();
  EXPECT_EQ(HealthAnswer("GET /readyz?verbose=1 HTTP/1.1", s, kSec).status, 200);
  EXPECT_EQ(HealthAnswer("HEAD /healthz HTTP/1.1", s, kSec).status, 200);
  EXPECT_EQ(HealthAnswer("GET /metrics HTTP/1.1", s, kSec).status, 404);
  EXPECT_EQ(HealthAnswer("GET / HTTP/1.1", s, kSec).status, 404);
  EXPECT_EQ(HealthAnswer("POST /healthz HTTP/1.1", s, kSec).status, 405);
  EXPECT_EQ(HealthAnswer("garbage", s, kSec).status, 405);
}

// One request over loopback; returns the whole response.
std::string Fetch(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(write(fd, request.data(), request.size()), ssize_t(request.size()));
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(fd);
  return out;
}

TEST(HealthServerTest, ServesProbesOverLoopback) {
  HealthState s;
  std::atomic<uint64_t> now{100 * kSec};
  HealthServer server("127.0.0.1:0", s, [&now] { return now.load(); });
  ASSERT_NE(server.port(), 0);
  const std::string get_ready = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(Fetch(server.port(), get_ready).rfind("HTTP/1.0 503 ", 0), 0u);
  s.Beat(now);
  s.SetReady();
  const std::string ok = Fetch(server.port(), get_ready);
  EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("\r\n\r\nready\n"), std::string::npos) << ok;
  const std::string head = Fetch(server.port(), "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");  // no body
  EXPECT_EQ(Fetch(server.port(), "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.0 404 ", 0), 0u);
  now += HealthState::kStallNs;
  EXPECT_EQ(Fetch(server.port(), "GET /healthz HTTP/1.1\r\n\r\n").rfind("HTTP/1.0 503 ", 0), 0u);
}

TEST(HealthServerTest, ABusyAddressIsAnErrorNamingIt) {
  HealthState s;
  HealthServer first("127.0.0.1:0", s, [] { return uint64_t(1); });
  const std::string addr = "127.0.0.1:" + std::to_string(first.port());
  try {
    HealthServer second(addr, s, [] { return uint64_t(1); });
    FAIL() << "second bind on " << addr << " succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(addr), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace perfd
