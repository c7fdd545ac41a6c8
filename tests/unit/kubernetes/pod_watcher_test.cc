// PodWatcher + ApiClient against a scripted HTTP server on loopback (plain
// HTTP: the TLS path is covered end to end by tests/e2e/test_kubernetes.py):
// list then watch, 410 Gone → list again, a refused list is counted and
// retried, the Bearer token is re-read from its file for every request.
#include "daemon/kubernetes/pod_watcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perfd::k8s {
namespace {

// One connection at a time; each request is answered by `respond` (given
// the request head), which returns the whole raw response.
class ScriptedServer {
 public:
  using Respond = std::function<std::string(const std::string& head)>;
  explicit ScriptedServer(Respond respond) : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        heads_.push_back(head);
      }
      const std::string out = respond_(head);
      (void)!::write(c, out.data(), out.size());
      ::close(c);
    }
  }
  Respond respond_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::thread thread_;
};

std::string Response(int code, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) +
         " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const char* kList =
    R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[)"
    R"({"metadata":{"uid":"u1","name":"api-1","namespace":"prod","labels":{"app":"shop"}}}]})";
const char* kGone =
    R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410}})";

bool WaitFor(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

std::string TempFile(const std::string& content) {
  char path[] = "/tmp/perfd-token-XXXXXX";
  const int fd = ::mkstemp(path);
  ::close(fd);
  std::ofstream(path) << content;
  return path;
}

size_t Count(const std::vector<std::string>& heads, const std::string& what) {
  size_t n = 0;
  for (const auto& h : heads) n += h.find(what) != std::string::npos;
  return n;
}

TEST(PodWatcherTest, ListWatchGoneRelistWithTheCurrentToken) {
  const std::string token = TempFile("first\n");
  ScriptedServer server([](const std::string& head) {
    if (head.find("watch=1") == std::string::npos) return Response(200, kList);
    return Response(200, std::string(kGone) + "\n");  // every watch: 410
  });
  PodMap map(10, {"app"});
  PodWatcher watcher({server.url(), token, ""}, "node-1", map);
  watcher.Start();
  ASSERT_TRUE(watcher.WaitSynced(std::chrono::seconds(20)));
  EXPECT_EQ(map.Find("u1")->labels.at("app"), "shop");
  ASSERT_TRUE(WaitFor([&] { return Count(server.heads(), "watch=1") >= 1; }));
  std::ofstream(token) << "second\n";  // the kubelet rotated it
  ASSERT_TRUE(WaitFor([&] { return Count(server.heads(), "Bearer second") >= 2; }));
  watcher.Stop();
  const auto heads = server.heads();
  // Only this node's pods; the watch resumes from the list's version.
  EXPECT_EQ(Count(heads, "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1"), heads.size());
  EXPECT_GE(Count(heads, "&resourceVersion=10"), 1u);
  EXPECT_GE(watcher.failures()["gone"], 1u);
  EXPECT_EQ(watcher.failures().count("list"), 0u);
  ::unlink(token.c_str());
}

TEST(PodWatcherTest, RefusedListIsCountedAndRetried) {
  std::atomic<int> lists{0};
  ScriptedServer server([&](const std::string& head) {
    if (head.find("watch=1") != std::string::npos) return Response(200, "");  // ends at once
    if (lists++ == 0) return Response(403, R"({"kind":"Status","code":403,"reason":"Forbidden"})");
    return Response(200, kList);
  });
  PodMap map(10, {"app"});
  PodWatcher watcher({server.url(), "", ""}, "node-1", map);
  watcher.Start();
  // The retry comes after a 1 s backoff.
  ASSERT_TRUE(watcher.WaitSynced(std::chrono::seconds(20)));
  watcher.Stop();
  EXPECT_EQ(watcher.failures()["list"], 1u);
  EXPECT_TRUE(map.Find("u1").has_value());
  // No token file: no Authorization header at all.
  EXPECT_EQ(Count(server.heads(), "Authorization"), 0u);
}

TEST(PodWatcherTest, UnreachableServerIsNotFatalAndStops) {
  PodMap map(10, {"app"});
  PodWatcher watcher({"http://127.0.0.1:1", "", ""}, "node-1", map);
  watcher.Start();
  ASSERT_TRUE(WaitFor([&] { return watcher.failures()["list"] >= 1; }));
  watcher.Stop();  // returns although the watcher is in its backoff
  EXPECT_FALSE(map.synced());
}

}  // namespace
}  // namespace perfd::k8s
