// GetTop's CPU fields, GetFunctions and GetProfile over a real
// CpuProfileStore + StackTable fed known samples.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"
#include "daemon/api/profile_convert.h"
#include "perfd/v1/perfd.grpc.pb.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kNow = 10000 * kSec + 500 * kMs;
constexpr int64_t kWallNow = 1700000000LL * 1000000000LL;
constexpr double kPeriod = 0.01;                   // 100 Hz
constexpr int kSer = 2, kFramework = 4, kApp = 5;  // kCategoryNames indexes

const FrameInfo kMain{"main", "app.py", 5, 1};
const FrameInfo kGetUser12{"UserService.get", "users.py", 12, 10};
const FrameInfo kGetUser13{"UserService.get", "users.py", 13, 10};
const FrameInfo kSerialize{"serialize", "ser.py", 22, 20};
const FrameInfo kFib31{"fib", "fib.py", 31, 30};
const FrameInfo kFib32{"fib", "fib.py", 32, 30};
const FrameInfo kLoop{"BaseEventLoop._run_once", "asyncio/base_events.py", 41, 40};
const FrameInfo kSync{"sync_work", "jobs.py", 7, 6};

// Samples spread over a window: `count` samples of one stack at `ts`.
struct Feed {
  std::string route;
  int category;
  uint32_t stack;
  int count;
  uint64_t ts;
};

class CpuServiceTest : public ::testing::Test {
 protected:
  CpuServiceTest()
      : aggregator_(600),
        store_(600, kPeriod),
        service_(aggregator_, workers_, 600, &store_, &table_,
                 ApiClocks{[] { return kNow; }, [] { return kWallNow; }}) {
    users_serialize_ = table_.Intern({kSerialize, kGetUser12, kMain}, false);
    users_own_ = table_.Intern({kGetUser13, kMain}, false);
    fib_ = table_.Intern({kFib32, kFib31, kFib31, kMain}, false);  // recursion
    loop_ = table_.Intern({kLoop}, false);
    sync_ = table_.Intern({kSync}, false);
  }

  void Requests(const std::string& method, const std::string& route, int n) {
    for (int i = 0; i < n; ++i) {
      aggregator_.RecordComplete("api", method, route, 200, false, kNow - 2 * kSec - kMs,
                                 kNow - 2 * kSec);
    }
  }
  void Add(const std::vector<Feed>& feeds) {
    for (const auto& f : feeds) {
      for (int i = 0; i < f.count; ++i) store_.Add("api", f.route, f.category, f.stack, f.ts);
    }
  }
  // The standard mix; store routes keyed "METHOD /template".
  void FeedStandard() {
    Requests("GET", "/users/{user_id}", 10);
    Requests("GET", "/fib", 4);
    const uint64_t t = kNow - 5 * kSec;
    Add({{"GET /users/{user_id}", kSer, users_serialize_, 30, t},
         {"GET /users/{user_id}", kApp, users_own_, 10, t},
         {"GET /fib", kApp, fib_, 20, t},
         {kNoRequestRoute, kFramework, loop_, 5, t},
         {kUnattributedRoute, kApp, sync_, 3, t},
         // Two minutes ago: only in windows of 121 s and more.
         {"GET /users/{user_id}", kApp, users_own_, 7, kNow - 120 * kSec}});
  }

  grpc::Status Top(uint32_t window, v1::GetTopResponse* out) {
    v1::GetTopRequest request;
    request.set_service("api");
    request.set_window_seconds(window);
    return service_.GetTop(nullptr, &request, out);
  }
  grpc::Status Functions(uint32_t window, const std::string& route, v1::GetFunctionsResponse* out,
                         const std::string& category = "") {
    v1::GetFunctionsRequest request;
    request.set_service("api");
    request.set_window_seconds(window);
    request.set_route(route);
    request.set_category(category);
    return service_.GetFunctions(nullptr, &request, out);
  }

  Aggregator aggregator_;
  FakeWorkerDirectory workers_;
  CpuProfileStore store_;
  StackTable table_;
  PerfdService service_;
  uint32_t users_serialize_ = 0, users_own_ = 0, fib_ = 0, loop_ = 0, sync_ = 0;
};

const v1::RouteStats* Find(const v1::GetTopResponse& top, const std::string& route) {
  for (const auto& r : top.routes()) {
    if (r.route() == route) return &r;
  }
  return nullptr;
}

TEST_F(CpuServiceTest, TopAddsCpuPerRouteAndPseudoRoutes) {
  FeedStandard();
  v1::GetTopResponse top;
  ASSERT_TRUE(Top(60, &top).ok());
  EXPECT_DOUBLE_EQ(top.sample_period_seconds(), kPeriod);
  ASSERT_EQ(top.routes_size(), 4);
  // Request routes first in their stable order, then CPU-only rows by name.
  EXPECT_EQ(top.routes(0).route(), "/fib");
  EXPECT_EQ(top.routes(1).route(), "/users/{user_id}");
  EXPECT_EQ(top.routes(2).route(), "(no request)");
  EXPECT_EQ(top.routes(3).route(), "(unattributed)");

  const v1::RouteStats& users = top.routes(1);
  EXPECT_NEAR(users.cpu_seconds(), 0.40, 1e-12);
  EXPECT_NEAR(users.cpu_seconds_per_request(), 0.04, 1e-12);
  ASSERT_EQ(users.cpu_seconds_by_category_size(), 6);
  EXPECT_NEAR(users.cpu_seconds_by_category().at("serialization"), 0.30, 1e-12);
  EXPECT_NEAR(users.cpu_seconds_by_category().at("app"), 0.10, 1e-12);
  EXPECT_EQ(users.cpu_seconds_by_category().at("db"), 0.0);
  EXPECT_EQ(users.cpu_seconds_by_category().at("auth"), 0.0);

  const v1::RouteStats& fib = top.routes(0);
  EXPECT_NEAR(fib.cpu_seconds(), 0.20, 1e-12);
  EXPECT_NEAR(fib.cpu_seconds_per_request(), 0.05, 1e-12);

  const v1::RouteStats& none = top.routes(2);
  EXPECT_EQ(none.method(), "");
  EXPECT_EQ(none.requests(), 0u);
  EXPECT_NEAR(none.cpu_seconds(), 0.05, 1e-12);
  EXPECT_EQ(none.cpu_seconds_per_request(), 0.0);
  EXPECT_NEAR(none.cpu_seconds_by_category().at("framework"), 0.05, 1e-12);
  EXPECT_NEAR(top.routes(3).cpu_seconds(), 0.03, 1e-12);

  // The 600 s window also holds the samples of two minutes ago.
  top.Clear();
  ASSERT_TRUE(Top(600, &top).ok());
  EXPECT_NEAR(Find(top, "/users/{user_id}")->cpu_seconds(), 0.47, 1e-12);
}

TEST_F(CpuServiceTest, TopMatchesBareTemplateKeysOnlyWhenUnambiguous) {
  Requests("GET", "/orders", 2);
  Requests("GET", "/items", 5);
  Requests("DELETE", "/items", 5);
  Add({{"/orders", kApp, users_own_, 8, kNow - kSec},
       {"/items", kApp, users_own_, 6, kNow - kSec}});
  v1::GetTopResponse top;
  ASSERT_TRUE(Top(60, &top).ok());
  ASSERT_EQ(top.routes_size(), 4) << top.DebugString();
  const v1::RouteStats* orders = Find(top, "/orders");
  ASSERT_NE(orders, nullptr);
  EXPECT_NEAR(orders->cpu_seconds(), 0.08, 1e-12);
  EXPECT_NEAR(orders->cpu_seconds_per_request(), 0.04, 1e-12);
  // "/items" has two methods: its CPU is not split by guesswork but shown
  // on its own row, and neither method claims it.
  for (const auto& r : top.routes()) {
    if (r.route() == "/items" && !r.method().empty()) {
      EXPECT_EQ(r.cpu_seconds(), 0.0) << r.method();
    }
  }
  const v1::RouteStats& last = top.routes(3);
  EXPECT_EQ(last.method(), "");
  EXPECT_EQ(last.route(), "/items");
  EXPECT_NEAR(last.cpu_seconds(), 0.06, 1e-12);
}

TEST_F(CpuServiceTest, FunctionsOwnTotalAndRecursion) {
  FeedStandard();
  v1::GetFunctionsResponse f;
  ASSERT_TRUE(Functions(60, "", &f).ok());
  EXPECT_EQ(f.service(), "api");
  EXPECT_EQ(f.window_seconds(), 60u);
  EXPECT_EQ(f.total_samples(), 68u);
  EXPECT_DOUBLE_EQ(f.sample_period_seconds(), kPeriod);
  struct Want {
    const char* function;
    const char* file;
    uint32_t line;
    uint64_t own, total;
  };
  const Want want[] = {
      {"serialize", "ser.py", 20, 30, 30},
      {"fib", "fib.py", 30, 20, 20},                // recursive: counted once per stack
      {"UserService.get", "users.py", 10, 10, 40},  // lines 12 and 13: one function
      {"BaseEventLoop._run_once", "asyncio/base_events.py", 40, 5, 5},
      {"sync_work", "jobs.py", 6, 3, 3},
      {"main", "app.py", 1, 0, 60}};
  ASSERT_EQ(f.functions_size(), 6) << f.DebugString();
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(want[i].function);
    const v1::FunctionStats& got = f.functions(i);
    EXPECT_EQ(got.function(), want[i].function);
    EXPECT_EQ(got.file(), want[i].file);
    EXPECT_EQ(got.line(), want[i].line);
    EXPECT_EQ(got.own_samples(), want[i].own);
    EXPECT_EQ(got.total_samples(), want[i].total);
    EXPECT_NEAR(got.own_seconds(), want[i].own * kPeriod, 1e-12);
    EXPECT_NEAR(got.total_seconds(), want[i].total * kPeriod, 1e-12);
  }

  // 600 s: the old samples add to UserService.get's own time.
  f.Clear();
  ASSERT_TRUE(Functions(600, "", &f).ok());
  EXPECT_EQ(f.total_samples(), 75u);
  EXPECT_EQ(f.functions(0).function(), "serialize");
  EXPECT_EQ(f.functions(1).function(), "fib");
  EXPECT_EQ(f.functions(1).own_samples(), 20u);
  EXPECT_EQ(f.functions(2).function(), "UserService.get");
  EXPECT_EQ(f.functions(2).own_samples(), 17u);
}

TEST_F(CpuServiceTest, FunctionsRouteFilterTakesTemplateOrMethodAndTemplate) {
  FeedStandard();
  for (const std::string route : {"/users/{user_id}", "GET /users/{user_id}"}) {
    SCOPED_TRACE(route);
    v1::GetFunctionsResponse f;
    ASSERT_TRUE(Functions(60, route, &f).ok());
    EXPECT_EQ(f.total_samples(), 40u);
    ASSERT_EQ(f.functions_size(), 3);
    EXPECT_EQ(f.functions(0).function(), "serialize");
    EXPECT_EQ(f.functions(1).function(), "UserService.get");
    EXPECT_EQ(f.functions(1).own_samples(), 10u);
    EXPECT_EQ(f.functions(1).total_samples(), 40u);
    EXPECT_EQ(f.functions(2).function(), "main");
    EXPECT_EQ(f.functions(2).total_samples(), 40u);
  }
  v1::GetFunctionsResponse f;
  ASSERT_TRUE(Functions(60, "(no request)", &f).ok());
  ASSERT_EQ(f.functions_size(), 1);
  EXPECT_EQ(f.functions(0).function(), "BaseEventLoop._run_once");
  f.Clear();
  ASSERT_TRUE(Functions(60, "POST /users/{user_id}", &f).ok());
  EXPECT_EQ(f.total_samples(), 0u);
  EXPECT_EQ(f.functions_size(), 0);
}

// `perfctl explain` asks for one route's functions of one category.
TEST_F(CpuServiceTest, FunctionsCategoryFilterAloneAndWithARoute) {
  FeedStandard();
  // The users route: 30 serialization samples (serialize under
  // UserService.get) and 10 app samples (UserService.get's own).
  v1::GetFunctionsResponse f;
  ASSERT_TRUE(Functions(60, "/users/{user_id}", &f, "serialization").ok());
  EXPECT_EQ(f.total_samples(), 30u);
  ASSERT_EQ(f.functions_size(), 3) << f.DebugString();
  EXPECT_EQ(f.functions(0).function(), "serialize");
  EXPECT_EQ(f.functions(0).own_samples(), 30u);
  EXPECT_NEAR(f.functions(0).own_seconds(), 0.30, 1e-12);
  EXPECT_EQ(f.functions(1).function(), "UserService.get");
  EXPECT_EQ(f.functions(1).own_samples(), 0u);
  EXPECT_EQ(f.functions(1).total_samples(), 30u);

  f.Clear();
  ASSERT_TRUE(Functions(60, "GET /users/{user_id}", &f, "app").ok());
  EXPECT_EQ(f.total_samples(), 10u);
  ASSERT_EQ(f.functions_size(), 2) << f.DebugString();
  EXPECT_EQ(f.functions(0).function(), "UserService.get");
  EXPECT_EQ(f.functions(0).own_samples(), 10u);

  // No route: every route's (and pseudo-route's) samples of the category.
  f.Clear();
  ASSERT_TRUE(Functions(60, "", &f, "app").ok());
  EXPECT_EQ(f.total_samples(), 33u);  // users 10, fib 20, (unattributed) 3
  EXPECT_EQ(f.functions(0).function(), "fib");
  f.Clear();
  ASSERT_TRUE(Functions(60, "", &f, "framework").ok());
  EXPECT_EQ(f.total_samples(), 5u);
  ASSERT_EQ(f.functions_size(), 1);
  EXPECT_EQ(f.functions(0).function(), "BaseEventLoop._run_once");

  // A category the route has no samples of: an empty answer, not an error.
  f.Clear();
  ASSERT_TRUE(Functions(60, "/fib", &f, "auth").ok());
  EXPECT_EQ(f.total_samples(), 0u);
  EXPECT_EQ(f.functions_size(), 0);
  EXPECT_EQ(f.window_seconds(), 60u);
}

TEST_F(CpuServiceTest, FunctionsUnknownCategoryNamesTheValidOnes) {
  FeedStandard();
  for (const std::string bad : {"cpu_app", "App", "sql"}) {
    v1::GetFunctionsResponse f;
    const grpc::Status s = Functions(60, "", &f, bad);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(s.error_message(), "unknown category \"" + bad +
                                     "\"; valid categories: auth, validation, serialization, db, "
                                     "framework, app");
  }
}

TEST_F(CpuServiceTest, FunctionsErrorsMatchTop) {
  FeedStandard();
  v1::GetFunctionsRequest request;
  v1::GetFunctionsResponse f;
  EXPECT_EQ(service_.GetFunctions(nullptr, &request, &f).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_service("nope");
  grpc::Status s = service_.GetFunctions(nullptr, &request, &f);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "unknown service \"nope\"; known services: api");
  EXPECT_EQ(Functions(601, "", &f).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  f.Clear();
  ASSERT_TRUE(Functions(0, "", &f).ok());
  EXPECT_EQ(f.window_seconds(), 60u);
}

TEST(CpuServiceOffTest, SamplingOffIsFailedPreconditionAndTopHasNoCpu) {
  Aggregator aggregator(600);
  FakeWorkerDirectory workers;
  workers.Set({MakeWorker(1, "api")});
  aggregator.RecordComplete("api", "GET", "/", 200, false, kNow - 2 * kMs, kNow - kMs);
  PerfdService service(aggregator, workers, 600, nullptr, nullptr,
                       ApiClocks{[] { return kNow; }, [] { return kWallNow; }});
  v1::GetFunctionsRequest freq;
  freq.set_service("api");
  v1::GetFunctionsResponse f;
  grpc::Status s = service.GetFunctions(nullptr, &freq, &f);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message().rfind("Python sampling is off (", 0), 0u) << s.error_message();

  v1::GetProfileRequest preq;
  preq.set_service("api");
  preq.set_duration_seconds(1);
  v1::GetProfileResponse p;
  const auto t0 = std::chrono::steady_clock::now();
  s = service.GetProfile(nullptr, &preq, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500))
      << "must fail before recording";

  v1::GetTopRequest treq;
  treq.set_service("api");
  v1::GetTopResponse top;
  ASSERT_TRUE(service.GetTop(nullptr, &treq, &top).ok());
  EXPECT_EQ(top.sample_period_seconds(), 0.0);
  ASSERT_EQ(top.routes_size(), 1);
  EXPECT_EQ(top.routes(0).cpu_seconds(), 0.0);
  EXPECT_EQ(top.routes(0).cpu_seconds_by_category_size(), 0);
}

TEST(MatchCpuRoutes, ExactKeyOrAnyMethodOfTheTemplate) {
  std::map<std::string, RouteCpu> routes;
  for (const char* key : {"/a", "GET /a", "POST /a", "GET /ab", "(no request)"}) routes[key];
  using V = std::vector<std::string>;
  EXPECT_EQ(MatchCpuRoutes(routes, "/a"), (V{"/a", "GET /a", "POST /a"}));
  EXPECT_EQ(MatchCpuRoutes(routes, "GET /a"), (V{"GET /a"}));
  EXPECT_EQ(MatchCpuRoutes(routes, "/ab"), (V{"GET /ab"}));
  EXPECT_EQ(MatchCpuRoutes(routes, "(no request)"), (V{"(no request)"}));
  EXPECT_EQ(MatchCpuRoutes(routes, "/"), V{});
  EXPECT_EQ(MatchCpuRoutes(routes, "").size(), 5u);
}

// GetProfile records in real time, so these use the real monotonic clock.
class ProfileTest : public ::testing::Test {
 protected:
  ProfileTest()
      : aggregator_(600),
        store_(600, kPeriod),
        service_(aggregator_, workers_, 600, &store_, &table_, SystemClocks()) {
    workers_.Set({MakeWorker(1, "api")});
    users_ = table_.Intern({kSerialize, kGetUser12, kMain}, false);
    loop_ = table_.Intern({kLoop}, false);
    deep_ = table_.Intern({kFib32, kFib31}, true);
  }
  static uint64_t Now() { return SystemClocks().monotonic_ns(); }

  // Samples from before the profile, then more while it records.
  grpc::Status Record(const std::string& route, v1::GetProfileResponse* out) {
    for (int i = 0; i < 50; ++i)
      store_.Add("api", "GET /users/{user_id}", kSer, users_, Now() - 5 * kSec);
    std::thread feeder([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      for (int i = 0; i < 3; ++i) store_.Add("api", "GET /users/{user_id}", kSer, users_, Now());
      for (int i = 0; i < 2; ++i) store_.Add("api", kNoRequestRoute, kFramework, loop_, Now());
      store_.Add("api", "GET /fib", kApp, deep_, Now());
    });
    v1::GetProfileRequest request;
    request.set_service("api");
    request.set_duration_seconds(1);
    request.set_route(route);
    const int64_t wall_before = SystemClocks().unix_ns();
    grpc::Status status = service_.GetProfile(nullptr, &request, out);
    feeder.join();
    EXPECT_GE(out->start_unix_nanos(), wall_before);
    return status;
  }

  Aggregator aggregator_;
  FakeWorkerDirectory workers_;
  CpuProfileStore store_;
  StackTable table_;
  PerfdService service_;
  uint32_t users_ = 0, loop_ = 0, deep_ = 0;
};

TEST_F(ProfileTest, OneSecondReturnsTheStacksSampledMeanwhile) {
  v1::GetProfileResponse p;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Record("", &p).ok());
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(1000));
  // Recording (1 s) plus the wait for late attribution, with slack.
  EXPECT_LT(took, std::chrono::milliseconds(2000 + PerfdService::kAttributionSettleMs));
  EXPECT_EQ(p.service(), "api");
  EXPECT_GE(p.duration_nanos(), static_cast<int64_t>(kSec));
  EXPECT_LT(p.duration_nanos(), static_cast<int64_t>(2 * kSec));
  EXPECT_DOUBLE_EQ(p.sample_period_seconds(), kPeriod);

  // 3 + 2 + 1 samples; the 50 from 5 s before are not part of it.
  ASSERT_EQ(p.stacks_size(), 3) << p.DebugString();
  auto names = [&p](const v1::Stack& s) {
    std::vector<std::string> out;
    for (uint32_t i : s.frames()) {
      EXPECT_LT(i, static_cast<uint32_t>(p.frames_size()));
      const v1::Frame& f = p.frames(static_cast<int>(i));
      out.push_back(f.function() + "@" + std::to_string(f.line()) + "/" +
                    std::to_string(f.first_line()) + ":" + f.file());
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(p.stacks(0).samples(), 3u);
  EXPECT_EQ(names(p.stacks(0)),
            (V{"serialize@22/20:ser.py", "UserService.get@12/10:users.py", "main@5/1:app.py"}));
  EXPECT_FALSE(p.stacks(0).truncated());
  EXPECT_EQ(p.stacks(1).samples(), 2u);
  EXPECT_EQ(names(p.stacks(1)), (V{"BaseEventLoop._run_once@41/40:asyncio/base_events.py"}));
  EXPECT_EQ(p.stacks(2).samples(), 1u);
  EXPECT_EQ(names(p.stacks(2)), (V{"fib@32/30:fib.py", "fib@31/30:fib.py"}));
  EXPECT_TRUE(p.stacks(2).truncated());
  // Each distinct frame once.
  EXPECT_EQ(p.frames_size(), 6);
}

TEST_F(ProfileTest, RouteFilter) {
  v1::GetProfileResponse p;
  ASSERT_TRUE(Record("/users/{user_id}", &p).ok());
  ASSERT_EQ(p.stacks_size(), 1) << p.DebugString();
  EXPECT_EQ(p.stacks(0).samples(), 3u);
  EXPECT_EQ(p.frames_size(), 3);
}

TEST_F(ProfileTest, BadDurationAndUnknownServiceFailBeforeRecording) {
  v1::GetProfileRequest request;
  request.set_service("api");
  v1::GetProfileResponse p;
  const auto t0 = std::chrono::steady_clock::now();
  grpc::Status s = service_.GetProfile(nullptr, &request, &p);  // 0 s
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_duration_seconds(601);
  s = service_.GetProfile(nullptr, &request, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("600"), std::string::npos) << s.error_message();
  request.set_duration_seconds(5);
  request.set_service("nope");
  EXPECT_EQ(service_.GetProfile(nullptr, &request, &p).error_code(), grpc::StatusCode::NOT_FOUND);
  request.set_service("");
  EXPECT_EQ(service_.GetProfile(nullptr, &request, &p).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
}

// A server shutting down cancels a long profile instead of waiting it out:
// the handler polls IsCancelled().
TEST_F(ProfileTest, ShutdownCancelsARecordingProfile) {
  char tmpl[] = "/tmp/perfd-profile-test-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string socket = dir + "/perfd.sock";
  ApiServer server(service_);
  server.Start(socket, "", "");
  std::atomic<int> code{-1};
  std::thread client([&] {
    auto stub = v1::Perfd::NewStub(
        grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::GetProfileRequest request;
    request.set_service("api");
    request.set_duration_seconds(30);
    v1::GetProfileResponse p;
    code = static_cast<int>(stub->GetProfile(&ctx, request, &p).error_code());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = std::chrono::steady_clock::now();
  server.Shutdown();
  const auto took = std::chrono::steady_clock::now() - t0;
  client.join();
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_NE(code.load(), static_cast<int>(grpc::StatusCode::OK));
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace perfd
