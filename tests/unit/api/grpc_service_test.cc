#include "daemon/api/grpc_service.h"

#include <gtest/gtest.h>

#include "daemon/api/proto_convert.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kNow = 10000 * kSec + 500 * kMs;  // monotonic "now"
constexpr int64_t kWallNow = 1700000000LL * 1000000000LL;

class PerfdServiceTest : public ::testing::Test {
 protected:
  PerfdServiceTest()
      : aggregator_(600),
        service_(aggregator_, workers_, 600,
                 ApiClocks{[] { return kNow; }, [] { return kWallNow; }}) {}

  // 100 GET /users/{user_id} requests ending within the last 50 s, latency
  // i ms for the i-th; #1-5 are 500s, #6-7 aborted, the rest 200.
  void FeedUsers() {
    for (int i = 1; i <= 100; ++i) {
      const uint64_t end = kNow - static_cast<uint64_t>(i % 50) * kSec;
      const uint64_t start = end - static_cast<uint64_t>(i) * kMs;
      aggregator_.RecordStart("api", "GET", "/users/{user_id}");
      const bool aborted = i == 6 || i == 7;
      const int status = aborted ? 0 : (i <= 5 ? 500 : 200);
      aggregator_.RecordComplete("api", "GET", "/users/{user_id}", status, aborted, start, end);
    }
  }

  grpc::Status Top(const std::string& service, uint32_t window, v1::GetTopResponse* out) {
    v1::GetTopRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    return service_.GetTop(nullptr, &request, out);
  }

  Aggregator aggregator_;
  FakeWorkerDirectory workers_;
  PerfdService service_;
};

TEST_F(PerfdServiceTest, TopReportsCountsStatusesAndQuantiles) {
  FeedUsers();
  v1::GetTopResponse top;
  ASSERT_TRUE(Top("api", 60, &top).ok());
  EXPECT_EQ(top.service(), "api");
  EXPECT_EQ(top.window_seconds(), 60u);
  EXPECT_EQ(top.timestamp_unix_nanos(), kWallNow);
  ASSERT_EQ(top.routes_size(), 1);
  const v1::RouteStats& r = top.routes(0);
  EXPECT_EQ(r.method(), "GET");
  EXPECT_EQ(r.route(), "/users/{user_id}");
  EXPECT_EQ(r.requests(), 100u);
  EXPECT_EQ(r.errors(), 7u);
  EXPECT_EQ(r.aborted(), 2u);
  EXPECT_DOUBLE_EQ(r.error_ratio(), 0.07);
  EXPECT_DOUBLE_EQ(r.requests_per_second(), 100.0 / 60);
  EXPECT_EQ(r.in_flight(), 0u);
  const double a = r.latency().relative_accuracy();
  ASSERT_GT(a, 0);
  EXPECT_NEAR(r.p50_seconds(), 0.050, 0.050 * a);
  EXPECT_NEAR(r.p90_seconds(), 0.090, 0.090 * a);
  EXPECT_NEAR(r.p99_seconds(), 0.099, 0.099 * a);
  EXPECT_NEAR(r.max_seconds(), 0.100, 1e-9);
  EXPECT_EQ(r.status_codes().at("200"), 93u);
  EXPECT_EQ(r.status_codes().at("500"), 5u);
  EXPECT_EQ(r.status_codes().at("aborted"), 2u);
  EXPECT_EQ(r.status_codes_size(), 3);
  EXPECT_EQ(SketchFromProto(r.latency()).Count(), 100u);
}

TEST_F(PerfdServiceTest, WindowSelectsRequestsAndZeroMeansSixty) {
  FeedUsers();
  // Two older requests: 100 s and 400 s ago.
  aggregator_.RecordComplete("api", "GET", "/users/{user_id}", 200, false, kNow - 100 * kSec - kMs,
                             kNow - 100 * kSec);
  aggregator_.RecordComplete("api", "GET", "/users/{user_id}", 200, false, kNow - 400 * kSec - kMs,
                             kNow - 400 * kSec);
  v1::GetTopResponse top;
  ASSERT_TRUE(Top("api", 0, &top).ok());
  EXPECT_EQ(top.window_seconds(), 60u);
  ASSERT_EQ(top.routes_size(), 1);
  EXPECT_EQ(top.routes(0).requests(), 100u);

  top.Clear();
  ASSERT_TRUE(Top("api", 120, &top).ok());
  EXPECT_EQ(top.routes(0).requests(), 101u);
  top.Clear();
  ASSERT_TRUE(Top("api", 600, &top).ok());
  EXPECT_EQ(top.routes(0).requests(), 102u);
  EXPECT_DOUBLE_EQ(top.routes(0).requests_per_second(), 102.0 / 600);
}

TEST_F(PerfdServiceTest, WindowAboveMaximumIsInvalidArgumentNamingTheMax) {
  FeedUsers();
  v1::GetTopResponse top;
  grpc::Status status = Top("api", 601, &top);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("600"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("601"), std::string::npos) << status.error_message();
}

TEST_F(PerfdServiceTest, EmptyServiceIsInvalidArgument) {
  v1::GetTopResponse top;
  EXPECT_EQ(Top("", 60, &top).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PerfdServiceTest, UnknownServiceListsKnownOnesFromTrafficAndWorkers) {
  FeedUsers();
  workers_.Set({MakeWorker(20, "billing"), MakeWorker(21, "api")});
  v1::GetTopResponse top;
  grpc::Status status = Top("nope", 60, &top);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "unknown service \"nope\"; known services: api, billing");
}

TEST_F(PerfdServiceTest, UnknownServiceWithNothingKnown) {
  v1::GetTopResponse top;
  grpc::Status status = Top("api", 60, &top);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "unknown service \"api\"; known services: (none)");
}

TEST_F(PerfdServiceTest, ServiceWithWorkersButNoTrafficHasNoRoutes) {
  workers_.Set({MakeWorker(20, "billing")});
  v1::GetTopResponse top;
  ASSERT_TRUE(Top("billing", 30, &top).ok());
  EXPECT_EQ(top.service(), "billing");
  EXPECT_EQ(top.window_seconds(), 30u);
  EXPECT_EQ(top.routes_size(), 0);
}

TEST_F(PerfdServiceTest, InFlightOnlyRouteAndStableRouteOrder) {
  FeedUsers();
  for (int i = 0; i < 3; ++i) aggregator_.RecordStart("api", "POST", "/orders");
  aggregator_.RecordComplete("api", "DELETE", "/users/{user_id}", 204, false, kNow - 2 * kMs,
                             kNow - kMs);
  v1::GetTopResponse top;
  ASSERT_TRUE(Top("api", 60, &top).ok());
  ASSERT_EQ(top.routes_size(), 3);
  EXPECT_EQ(top.routes(0).route(), "/orders");
  EXPECT_EQ(top.routes(0).in_flight(), 3u);
  EXPECT_EQ(top.routes(0).requests(), 0u);
  EXPECT_EQ(top.routes(0).p99_seconds(), 0.0);
  EXPECT_EQ(top.routes(1).method(), "DELETE");
  EXPECT_EQ(top.routes(2).method(), "GET");
}

TEST_F(PerfdServiceTest, ListServicesUnionsTrafficAndWorkers) {
  FeedUsers();
  aggregator_.RecordComplete("zeta", "GET", "/", 200, false, kNow - kMs, kNow);
  Worker unnamed = MakeWorker(5, "");
  workers_.Set({MakeWorker(31, "api"), MakeWorker(12, "billing"), MakeWorker(30, "api"), unnamed});
  v1::ListServicesResponse list;
  ASSERT_TRUE(service_.ListServices(nullptr, nullptr, &list).ok());
  ASSERT_EQ(list.services_size(), 3);
  const v1::Service& api = list.services(0);
  EXPECT_EQ(api.name(), "api");
  EXPECT_EQ(api.requests_total(), 100u);
  ASSERT_EQ(api.workers_size(), 2);
  EXPECT_EQ(api.workers(0).pid(), 30u);  // by pid
  EXPECT_EQ(api.workers(1).pid(), 31u);
  EXPECT_EQ(api.workers(0).cmdline(), "python3 -m uvicorn api.main:app");
  EXPECT_EQ(api.workers(0).app_spec(), "api.main:app");
  EXPECT_EQ(api.workers(0).server(), "uvicorn");
  EXPECT_EQ(list.services(1).name(), "billing");
  EXPECT_EQ(list.services(1).requests_total(), 0u);
  EXPECT_EQ(list.services(1).workers_size(), 1);
  EXPECT_EQ(list.services(2).name(), "zeta");  // traffic, workers gone
  EXPECT_EQ(list.services(2).workers_size(), 0);
  EXPECT_EQ(list.services(2).requests_total(), 1u);
}

}  // namespace
}  // namespace perfd
