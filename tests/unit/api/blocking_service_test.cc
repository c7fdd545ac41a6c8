// GetBlocking over a real BlockingWindow and StackTable: sites by total time
// with their stacks (leaf first) and every part of their time, the route
// filter (method + template, bare template, pseudo-route), the site limit,
// GetTop's errors, and the answers with tracing or sampling off.
#include <gtest/gtest.h>

#include "daemon/api/blocking_convert.h"
#include "daemon/api/grpc_service.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kNow = 10000 * kSec + 500 * kMs;
constexpr int64_t kWallNow = 1700000000LL * 1000000000LL;
constexpr double kThreshold = 0.02;

const FrameInfo kHash{"hash_password", "shop/auth.py", 12, 10};
const FrameInfo kLogin{"login", "shop/views.py", 30, 28};
const FrameInfo kSleep{"time.sleep", "shop/views.py", 44, 40};
const FrameInfo kReport{"report", "shop/views.py", 60, 58};

BlockingEvent Event(const std::string& route, BlockingKind kind, const std::string& site,
                    uint32_t stack, uint64_t end_ns, uint64_t busy_ms) {
  BlockingEvent e;
  e.pid = 7;
  e.tid = 7;
  e.busy_ns = busy_ms * kMs;
  e.start_ns = end_ns - e.busy_ns;
  e.kind = kind;
  e.route = route;
  e.routes = {{route, e.busy_ns}};
  e.site = site;
  e.stack_id = stack;
  return e;
}

class BlockingServiceTest : public ::testing::Test {
 protected:
  BlockingServiceTest()
      : aggregator_(600),
        window_(600),
        service_(aggregator_, workers_, 600,
                 ApiClocks{[] { return kNow; }, [] { return kWallNow; }}) {
    workers_.Set({MakeWorker(1, "shop")});
    hash_ = table_.Intern({kHash, kLogin}, false);
    sleep_ = table_.Intern({kSleep, kReport}, true);
  }

  // POST /login: 3 on-CPU events in hash_password (30, 50, 20 ms; victims);
  // GET /report: one 200 ms sleep; GET /login: one 25 ms on-CPU event in
  // hash_password; one runnable event without a stack; a 150 ms POST /login
  // event 2 min ago.
  void Feed() {
    const uint64_t t = kNow - 10 * kSec;
    const std::string hash = "hash_password (shop/auth.py:12)";
    BlockingEvent a = Event("POST /login", BlockingKind::kOnCpu, hash, hash_, t, 30);
    a.oncpu_ns = 28 * kMs;
    a.runnable_ns = 2 * kMs;
    a.victims = 3;
    a.victim_wait_ns = 45 * kMs;
    BlockingEvent b = Event("POST /login", BlockingKind::kOnCpu, hash, hash_, t + kSec, 50);
    b.oncpu_ns = 45 * kMs;
    b.blocked_ns[LOOP_BLOCK_LOCK] = 5 * kMs;
    b.victims = 1;
    b.victim_wait_ns = 10 * kMs;
    BlockingEvent c = Event("POST /login", BlockingKind::kOnCpu, hash, hash_, t + 2 * kSec, 20);
    c.oncpu_ns = 20 * kMs;
    BlockingEvent sleep = Event("GET /report", BlockingKind::kOffCpu,
                                "time.sleep (shop/views.py:44)", sleep_, t + 3 * kSec, 200);
    sleep.blocked_ns[LOOP_BLOCK_SLEEP] = 195 * kMs;
    sleep.blocked_ns[LOOP_BLOCK_IO] = 1 * kMs;
    sleep.blocked_ns[LOOP_BLOCK_OTHER] = 2 * kMs;
    sleep.oncpu_ns = 2 * kMs;
    sleep.victims = 4;
    sleep.victim_wait_ns = 600 * kMs;
    BlockingEvent get_login = Event("GET /login", BlockingKind::kOnCpu, hash, hash_, t, 25);
    get_login.oncpu_ns = 25 * kMs;
    BlockingEvent bare = Event("(unattributed)", BlockingKind::kRunnable, "", 0, t, 21);
    bare.runnable_ns = 21 * kMs;
    BlockingEvent old =
        Event("POST /login", BlockingKind::kOnCpu, hash, hash_, kNow - 120 * kSec, 150);
    for (const auto* e : {&old, &a, &get_login, &bare, &b, &c, &sleep}) window_.Add("shop", *e);
  }

  grpc::Status Get(const std::string& route, uint32_t window, uint32_t limit,
                   v1::GetBlockingResponse* out, const std::string& service = "shop") {
    v1::GetBlockingRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    request.set_limit(limit);
    return service_.GetBlocking(nullptr, &request, out);
  }

  Aggregator aggregator_;
  FakeWorkerDirectory workers_;
  BlockingWindow window_;
  StackTable table_;
  PerfdService service_;
  uint32_t hash_ = 0, sleep_ = 0;
};

// GetTop's loop figures name the window's heaviest site (no stack), so
// perfctl top can point at it.
TEST_F(BlockingServiceTest, TopNamesTheHeaviestSite) {
  LoopWindows loop(600);
  loop.AddBlocking("shop", kNow - 5 * kSec, 200 * kMs);
  service_.SetLoopWindows(&loop, kThreshold);
  service_.SetBlocking(&window_, &table_, kThreshold);
  v1::GetTopRequest request;
  request.set_service("shop");
  v1::GetTopResponse top;
  ASSERT_TRUE(service_.GetTop(nullptr, &request, &top).ok());
  EXPECT_FALSE(top.loop().has_top_blocking());  // no event yet
  Feed();
  top.Clear();
  ASSERT_TRUE(service_.GetTop(nullptr, &request, &top).ok());
  ASSERT_TRUE(top.loop().has_top_blocking()) << top.DebugString();
  const v1::BlockingSite& s = top.loop().top_blocking();
  EXPECT_EQ(s.route(), "GET /report");
  EXPECT_EQ(s.site(), "time.sleep (shop/views.py:44)");
  EXPECT_EQ(s.events(), 1u);
  EXPECT_NEAR(s.victim_wait_seconds(), 0.6, 1e-12);
  EXPECT_EQ(s.stack_size(), 0);
}

TEST_F(BlockingServiceTest, SitesByTotalTimeWithStacksAndEveryPart) {
  service_.SetBlocking(&window_, &table_, kThreshold);
  Feed();
  v1::GetBlockingResponse r;
  ASSERT_TRUE(Get("", 0, 0, &r).ok());
  EXPECT_EQ(r.service(), "shop");
  EXPECT_EQ(r.window_seconds(), 60u);
  EXPECT_TRUE(r.traced());
  EXPECT_DOUBLE_EQ(r.blocking_threshold_seconds(), kThreshold);
  EXPECT_TRUE(r.stacks());
  EXPECT_EQ(r.events(), 6u);
  EXPECT_NEAR(r.total_seconds(), 0.346, 1e-9);
  ASSERT_EQ(r.sites_size(), 4) << r.DebugString();

  const v1::BlockingSite& sleep = r.sites(0);
  EXPECT_EQ(sleep.route(), "GET /report");
  EXPECT_EQ(sleep.kind(), "offcpu");
  EXPECT_EQ(sleep.site(), "time.sleep (shop/views.py:44)");
  ASSERT_EQ(sleep.stack_size(), 2);
  EXPECT_EQ(sleep.stack(0).function(), "time.sleep");
  EXPECT_EQ(sleep.stack(0).line(), 44u);
  EXPECT_EQ(sleep.stack(0).first_line(), 40u);
  EXPECT_EQ(sleep.stack(1).function(), "report");
  EXPECT_TRUE(sleep.stack_truncated());
  EXPECT_NEAR(sleep.blocked_sleep_seconds(), 0.195, 1e-12);
  EXPECT_NEAR(sleep.blocked_io_seconds(), 0.001, 1e-12);
  EXPECT_NEAR(sleep.blocked_other_seconds(), 0.002, 1e-12);
  EXPECT_NEAR(sleep.oncpu_seconds(), 0.002, 1e-12);
  EXPECT_EQ(sleep.victims(), 4u);
  EXPECT_NEAR(sleep.victim_wait_seconds(), 0.6, 1e-12);

  const v1::BlockingSite& login = r.sites(1);
  EXPECT_EQ(login.route(), "POST /login");
  EXPECT_EQ(login.kind(), "oncpu");
  EXPECT_EQ(login.site(), "hash_password (shop/auth.py:12)");
  EXPECT_EQ(login.events(), 3u);  // not the one of two minutes ago
  EXPECT_NEAR(login.total_seconds(), 0.100, 1e-12);
  EXPECT_NEAR(login.max_seconds(), 0.050, 1e-12);
  EXPECT_NEAR(login.oncpu_seconds(), 0.093, 1e-12);
  EXPECT_NEAR(login.runnable_seconds(), 0.002, 1e-12);
  EXPECT_NEAR(login.blocked_lock_seconds(), 0.005, 1e-12);
  EXPECT_EQ(login.blocked_sleep_seconds(), 0.0);
  EXPECT_EQ(login.victims(), 4u);
  EXPECT_NEAR(login.victim_wait_seconds(), 0.055, 1e-12);
  ASSERT_EQ(login.stack_size(), 2);
  EXPECT_EQ(login.stack(0).function(), "hash_password");
  EXPECT_EQ(login.stack(0).file(), "shop/auth.py");
  EXPECT_EQ(login.stack(1).function(), "login");
  EXPECT_FALSE(login.stack_truncated());

  EXPECT_EQ(r.sites(2).route(), "GET /login");
  const v1::BlockingSite& bare = r.sites(3);
  EXPECT_EQ(bare.route(), "(unattributed)");
  EXPECT_EQ(bare.kind(), "runnable");
  EXPECT_EQ(bare.site(), "");
  EXPECT_EQ(bare.stack_size(), 0);

  // 600 s also holds the event of two minutes ago.
  r.Clear();
  ASSERT_TRUE(Get("", 600, 0, &r).ok());
  EXPECT_EQ(r.events(), 7u);
  EXPECT_EQ(r.sites(0).route(), "POST /login");
  EXPECT_NEAR(r.sites(0).total_seconds(), 0.250, 1e-12);
  EXPECT_NEAR(r.sites(0).max_seconds(), 0.150, 1e-12);
}

TEST_F(BlockingServiceTest, RouteFilterTakesMethodAndTemplateOrTemplateOrPseudoRoute) {
  service_.SetBlocking(&window_, &table_, kThreshold);
  Feed();
  v1::GetBlockingResponse r;
  ASSERT_TRUE(Get("POST /login", 0, 0, &r).ok());
  ASSERT_EQ(r.sites_size(), 1);
  EXPECT_EQ(r.events(), 3u);
  EXPECT_NEAR(r.total_seconds(), 0.100, 1e-12);

  // A bare template: every method of it, counted again.
  r.Clear();
  ASSERT_TRUE(Get("/login", 0, 0, &r).ok());
  ASSERT_EQ(r.sites_size(), 2) << r.DebugString();
  EXPECT_EQ(r.sites(0).route(), "POST /login");
  EXPECT_EQ(r.sites(1).route(), "GET /login");
  EXPECT_EQ(r.events(), 4u);
  EXPECT_NEAR(r.total_seconds(), 0.125, 1e-12);

  r.Clear();
  ASSERT_TRUE(Get("(unattributed)", 0, 0, &r).ok());
  ASSERT_EQ(r.sites_size(), 1);
  EXPECT_EQ(r.sites(0).kind(), "runnable");

  // Prefixes and other methods match nothing.
  for (const std::string route : {"/log", "/login/x", "DELETE /login", "/"}) {
    SCOPED_TRACE(route);
    r.Clear();
    ASSERT_TRUE(Get(route, 0, 0, &r).ok());
    EXPECT_EQ(r.sites_size(), 0);
    EXPECT_EQ(r.events(), 0u);
    EXPECT_TRUE(r.traced());
  }
}

TEST_F(BlockingServiceTest, LimitCutsSitesNotTheTotals) {
  service_.SetBlocking(&window_, &table_, kThreshold);
  Feed();
  v1::GetBlockingResponse r;
  ASSERT_TRUE(Get("", 0, 1, &r).ok());
  ASSERT_EQ(r.sites_size(), 1);
  EXPECT_EQ(r.sites(0).route(), "GET /report");
  EXPECT_EQ(r.events(), 6u);

  // 0: the default of 20.
  for (int i = 0; i < 25; ++i) {
    window_.Add("shop",
                Event("GET /r" + std::to_string(i), BlockingKind::kOnCpu, "", 0, kNow - kSec, 30));
  }
  r.Clear();
  ASSERT_TRUE(Get("", 0, 0, &r).ok());
  EXPECT_EQ(r.sites_size(), static_cast<int>(PerfdService::kDefaultBlockingSites));
  EXPECT_EQ(r.events(), 31u);
}

TEST_F(BlockingServiceTest, ErrorsMatchGetTop) {
  service_.SetBlocking(&window_, &table_, kThreshold);
  Feed();
  v1::GetBlockingResponse r;
  grpc::Status s = Get("", 0, 0, &r, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "service is required");

  v1::GetTopRequest top_request;
  top_request.set_service("shop");
  top_request.set_window_seconds(601);
  v1::GetTopResponse top;
  const grpc::Status top_status = service_.GetTop(nullptr, &top_request, &top);
  s = Get("", 601, 0, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), top_status.error_message());
  EXPECT_NE(s.error_message().find("aggregation.window_max_seconds"), std::string::npos);

  // Unknown: neither a worker nor the aggregator knows it (events alone do
  // not make a service, as with GetTop).
  window_.Add("ghost", Event("GET /", BlockingKind::kOnCpu, "", 0, kNow - kSec, 30));
  s = Get("", 0, 0, &r, "ghost");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "unknown service \"ghost\"; known services: shop");
  // Known through the aggregator only (its workers are gone): found.
  aggregator_.RecordComplete("old", "GET", "/", 200, false, kNow - 2 * kMs, kNow - kMs);
  r.Clear();
  ASSERT_TRUE(Get("", 0, 0, &r, "old").ok());
  EXPECT_TRUE(r.traced());
  EXPECT_EQ(r.sites_size(), 0);
}

TEST_F(BlockingServiceTest, TracingOffIsAnEmptyAnswerNotAnError) {
  Feed();  // in a window the service was never given
  v1::GetBlockingResponse r;
  ASSERT_TRUE(Get("", 0, 0, &r).ok());
  EXPECT_EQ(r.service(), "shop");
  EXPECT_EQ(r.window_seconds(), 60u);
  EXPECT_FALSE(r.traced());
  EXPECT_FALSE(r.stacks());
  EXPECT_EQ(r.blocking_threshold_seconds(), 0.0);
  EXPECT_EQ(r.events(), 0u);
  EXPECT_EQ(r.sites_size(), 0);
  // The service checks still apply.
  EXPECT_EQ(Get("", 0, 0, &r, "nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("", 601, 0, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BlockingServiceTest, SamplingOffHasSitesWithoutStacks) {
  service_.SetBlocking(&window_, nullptr, kThreshold);
  Feed();
  v1::GetBlockingResponse r;
  ASSERT_TRUE(Get("", 0, 0, &r).ok());
  EXPECT_TRUE(r.traced());
  EXPECT_FALSE(r.stacks());
  ASSERT_EQ(r.sites_size(), 4);
  for (const auto& site : r.sites()) {
    EXPECT_EQ(site.stack_size(), 0) << site.route();
    EXPECT_FALSE(site.stack_truncated());
  }
  EXPECT_EQ(r.sites(1).site(), "hash_password (shop/auth.py:12)");
}

TEST(BlockingConvert, KindTextIsTheApisSpelling) {
  EXPECT_STREQ(BlockingKindName(BlockingKind::kOnCpu), "oncpu");
  EXPECT_STREQ(BlockingKindName(BlockingKind::kOffCpu), "offcpu");
  EXPECT_STREQ(BlockingKindName(BlockingKind::kRunnable), "runnable");
  EXPECT_TRUE(IsBareTemplate("/a"));
  EXPECT_FALSE(IsBareTemplate("GET /a"));
  EXPECT_FALSE(IsBareTemplate("(no request)"));
  EXPECT_FALSE(IsBareTemplate(""));
}

}  // namespace
}  // namespace perfd
