// DbRequestJoin: calls joined to the request of their owner connection that
// was in flight when they were sent; everything else unjoined, never guessed.
#include "daemon/pipeline/db_request_join.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace perfd {
namespace {

struct Observer : db::DbObserver {
  struct Req {
    std::string route;
    uint64_t start, end;
    std::vector<db::DbCall> calls;
  };
  void OnRequestCalls(const std::string& service, const std::string& method,
                      const std::string& route, uint64_t s, uint64_t e,
                      const std::vector<db::DbCall>& calls, const db::RequestAnalysis&,
                      const WorkerPod* pod) override {
    EXPECT_EQ(service, "api");
    pods.push_back(pod ? pod->k8s_pod : "-");
    requests.push_back({method + " " + route, s, e, calls});
  }
  void OnUnjoinedCall(const std::string& service, const db::DbCall& c,
                      const WorkerPod* pod) override {
    EXPECT_EQ(service, "api");
    pods.push_back(pod ? pod->k8s_pod : "-");
    unjoined.push_back(c);
  }
  void OnEncryptedConnection(const std::string&, const std::string& system,
                             const WorkerPod*) override {
    encrypted.push_back(system);
  }
  std::vector<Req> requests;
  std::vector<db::DbCall> unjoined;
  std::vector<std::string> encrypted;
  std::vector<std::string> pods;  // per request/unjoined call: its pod's name, "-" for none
};

class DbRequestJoinTest : public ::testing::Test {
 protected:
  DbRequestJoinTest() : router_(config_), join_(router_) {
    Worker w;
    w.pid = 10;
    w.service = "api";
    router_.AddWorker(w);
    join_.AddObserver(&obs_);
  }
  void Start(uint64_t conn, uint64_t ts, const std::string& route = "/items") {
    RoutedRequest r{service_, route, method_, 10, conn};
    r.start_ns = ts;
    join_.OnStart(r);
  }
  void Complete(uint64_t conn, uint64_t start, uint64_t end, const std::string& route = "/items") {
    RoutedRequest r{service_, route, method_, 10, conn};
    r.start_ns = start;
    r.end_ns = end;
    r.status = 200;
    join_.OnComplete(r);
  }
  static db::DbCall Call(uint64_t start, uint64_t end, const std::string& fp = "SELECT 1") {
    db::DbCall c;
    c.pid = 10;
    c.start_ns = start;
    c.end_ns = end;
    c.fingerprint = fp;
    return c;
  }

  Config config_;
  RequestRouter router_;
  DbRequestJoin join_;
  Observer obs_;
  std::string service_ = "api", method_ = "GET";
};

TEST_F(DbRequestJoinTest, ConcurrentRequestsGetOnlyTheirOwnCalls) {
  Start(1, 100);
  Start(2, 110);
  join_.OnCall(Call(150, 160, "a"), 2);
  join_.OnCall(Call(120, 170, "b"), 1);
  join_.OnCall(Call(130, 140, "c"), 1);  // completes after b, sent before
  Complete(2, 110, 200);
  Complete(1, 100, 210);
  ASSERT_EQ(obs_.requests.size(), 2u);
  ASSERT_EQ(obs_.requests[0].calls.size(), 1u);
  EXPECT_EQ(obs_.requests[0].calls[0].fingerprint, "a");
  ASSERT_EQ(obs_.requests[1].calls.size(), 2u);
  EXPECT_EQ(obs_.requests[1].calls[0].fingerprint, "b");  // send order
  EXPECT_EQ(obs_.requests[1].calls[1].fingerprint, "c");
  EXPECT_TRUE(obs_.unjoined.empty());
  EXPECT_EQ(join_.stats().joined, 3u);
}

TEST_F(DbRequestJoinTest, RequestsWithoutCallsAreReportedToo) {
  Start(1, 100);
  Complete(1, 100, 150);
  ASSERT_EQ(obs_.requests.size(), 1u);
  EXPECT_TRUE(obs_.requests[0].calls.empty());
  EXPECT_EQ(obs_.requests[0].route, "GET /items");
}

TEST_F(DbRequestJoinTest, UnownedAndIdleOwnerCallsAreUnjoined) {
  join_.OnCall(Call(50, 60), 0);  // startup: no request
  Start(1, 100);
  Complete(1, 100, 150);
  join_.OnCall(Call(160, 170), 1);  // a background task after the response
  join_.OnCall(Call(90, 95), 1);    // before the request started
  EXPECT_EQ(obs_.unjoined.size(), 3u);
  EXPECT_EQ(join_.stats().no_owner, 1u);
  EXPECT_EQ(join_.stats().owner_idle, 2u);
  EXPECT_TRUE(obs_.requests[0].calls.empty());
}

TEST_F(DbRequestJoinTest, KeepAliveConnectionServesRequestsInOrder) {
  Start(1, 100);
  join_.OnCall(Call(110, 120, "first"), 1);
  Complete(1, 100, 130);
  Start(1, 140);
  join_.OnCall(Call(150, 160, "second"), 1);
  Complete(1, 140, 170);
  ASSERT_EQ(obs_.requests.size(), 2u);
  ASSERT_EQ(obs_.requests[0].calls.size(), 1u);
  EXPECT_EQ(obs_.requests[0].calls[0].fingerprint, "first");
  ASSERT_EQ(obs_.requests[1].calls.size(), 1u);
  EXPECT_EQ(obs_.requests[1].calls[0].fingerprint, "second");
}

// The HTTP tracker completes a keep-alive request only when the next one
// arrives: the next request's calls must not go to the previous one.
TEST_F(DbRequestJoinTest, LateCompletionOfThePreviousRequest) {
  Start(1, 100, "/pid");
  Start(1, 200, "/n1");  // /pid's response was written; its completion comes later
  join_.OnCall(Call(210, 220, "n1 query"), 1);
  Complete(1, 100, 150, "/pid");
  join_.OnCall(Call(230, 240, "n1 query"), 1);
  Complete(1, 200, 250, "/n1");
  ASSERT_EQ(obs_.requests.size(), 2u);
  EXPECT_TRUE(obs_.requests[0].calls.empty());
  EXPECT_EQ(obs_.requests[1].calls.size(), 2u);
}

// Pipelined requests read in one read share a start: the first is served first.
TEST_F(DbRequestJoinTest, PipelinedRequestsSharingAStart) {
  Start(1, 100, "/a");
  Start(1, 100, "/b");
  join_.OnCall(Call(110, 120, "a's"), 1);
  Complete(1, 100, 130, "/a");
  Complete(1, 100, 140, "/b");
  ASSERT_EQ(obs_.requests.size(), 2u);
  EXPECT_EQ(obs_.requests[0].calls.size(), 1u);
  EXPECT_TRUE(obs_.requests[1].calls.empty());
}

TEST_F(DbRequestJoinTest, CallsOfUnknownPidsAreCountedOnly) {
  db::DbCall c = Call(1, 2);
  c.pid = 999;
  join_.OnCall(c, 0);
  join_.OnEncrypted(999, "postgresql");
  join_.OnEncrypted(10, "redis");
  EXPECT_TRUE(obs_.unjoined.empty());
  EXPECT_EQ(join_.stats().no_service, 2u);
  ASSERT_EQ(obs_.encrypted.size(), 1u);
  EXPECT_EQ(obs_.encrypted[0], "redis");
}

TEST_F(DbRequestJoinTest, CallsPerRequestAreCapped) {
  Start(1, 100);
  for (size_t i = 0; i < DbRequestJoin::kMaxCallsPerRequest + 5; ++i)
    join_.OnCall(Call(101 + i, 102 + i), 1);
  Complete(1, 100, 100000);
  EXPECT_EQ(obs_.requests[0].calls.size(), DbRequestJoin::kMaxCallsPerRequest);
  EXPECT_EQ(join_.stats().calls_over_cap, 5u);
}

// The worker's pod (kubernetes.*) reaches DB observers with its requests and
// unjoined calls, for the k8s_* metric labels.
TEST(DbRequestJoinPodTest, PodTravelsWithRequestsAndUnjoinedCalls) {
  Config config;
  RequestRouter router(config);
  DbRequestJoin join(router);
  Observer obs;
  join.AddObserver(&obs);
  Worker w;
  w.pid = 10;
  w.service = "api";
  w.pod_uid = "u";
  w.k8s_namespace = "prod";
  w.k8s_pod = "api-1";
  router.AddWorker(w);
  const std::string service = "api", route = "/items", method = "GET";
  RoutedRequest r{service, route, method, 10, 1};
  r.pod = router.PodOf(10);
  ASSERT_NE(r.pod, nullptr);
  r.start_ns = 100;
  join.OnStart(r);
  r.end_ns = 200;
  r.status = 200;
  join.OnComplete(r);
  db::DbCall c;
  c.pid = 10;
  c.start_ns = 300;
  c.end_ns = 310;
  join.OnCall(c, 0);
  EXPECT_EQ(obs.pods, (std::vector<std::string>{"api-1", "api-1"}));
  // Outside a pod: none.
  w.pod_uid.clear();
  router.AddWorker(w);
  EXPECT_EQ(router.PodOf(10), nullptr);
}

}  // namespace
}  // namespace perfd
