// The real perfctl binary's `top --breakdown` and `explain` against
// in-process servers. GetBreakdown's server side is not part of this test:
// a stand-in serves hand-made breakdowns and passes every other call
// (GetFunctions with its category filter, GetQueries, GetBlocking) to a
// real PerfdService fed known samples, DB calls and blocking events.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/breakdown_parts.h"
#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"
#include "perfd/v1/perfd.grpc.pb.h"
#include "tests/unit/api/fake_worker_directory.h"
#include "tests/unit/cli/breakdown_sample.h"
#include "tests/unit/cli/perfctl_runner.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr int kSerialization = 2, kApp = 5;  // kCategoryNames indexes

// GetBreakdown from `answer` (routes filtered as perfd's route filters
// are: "GET /x", or "/x" for any method), the rest from a real service.
class BreakdownStandIn : public v1::Perfd::Service {
 public:
  explicit BreakdownStandIn(PerfdService* real) : real_(real) {}

  v1::GetBreakdownResponse answer;
  grpc::Status blocking_error = grpc::Status::OK;  // GetBlocking fails with it when not OK

  grpc::Status GetBreakdown(grpc::ServerContext*, const v1::GetBreakdownRequest* request,
                            v1::GetBreakdownResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      breakdown_requests_.push_back(*request);
    }
    if (request->service() != answer.service()) {
      return {grpc::StatusCode::NOT_FOUND, "unknown service \"" + request->service() +
                                               "\"; known services: " + answer.service()};
    }
    *response = answer;
    response->set_window_seconds(request->window_seconds() ? request->window_seconds() : 60);
    response->clear_routes();
    for (const auto& r : answer.routes()) {
      const std::string& want = request->route();
      const std::string& have = r.route();
      const bool match = want.empty() || have == want ||
                         (have.size() > want.size() &&
                          have.compare(have.size() - want.size(), want.size(), want) == 0 &&
                          have[have.size() - want.size() - 1] == ' ');
      if (match) *response->add_routes() = r;
    }
    return grpc::Status::OK;
  }
  grpc::Status GetFunctions(grpc::ServerContext* ctx, const v1::GetFunctionsRequest* request,
                            v1::GetFunctionsResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      function_requests_.push_back(*request);
    }
    return real_->GetFunctions(ctx, request, response);
  }
  grpc::Status GetQueries(grpc::ServerContext* ctx, const v1::GetQueriesRequest* request,
                          v1::GetQueriesResponse* response) override {
    return real_->GetQueries(ctx, request, response);
  }
  grpc::Status GetBlocking(grpc::ServerContext* ctx, const v1::GetBlockingRequest* request,
                           v1::GetBlockingResponse* response) override {
    if (!blocking_error.ok()) return blocking_error;
    return real_->GetBlocking(ctx, request, response);
  }

  std::vector<v1::GetBreakdownRequest> breakdown_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return breakdown_requests_;
  }
  std::vector<v1::GetFunctionsRequest> function_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return function_requests_;
  }

 private:
  PerfdService* real_;
  std::mutex mu_;
  std::vector<v1::GetBreakdownRequest> breakdown_requests_;
  std::vector<v1::GetFunctionsRequest> function_requests_;
};

// GET /orders: 2 requests of 16 ms (3 serialization, 2 app, 10 DB, 1
// other) with a tail; GET /health: 50 of 0.5 ms; GET and DELETE /items.
v1::GetBreakdownResponse Answer() {
  return cli::SampleBreakdown(
      {cli::SampleRoute("GET /orders", 2, {0, 0, 0, 3, 0, 0, 2, 10, 0, 0, 1},
                        {0, 0, 0, 3, 0, 0, 2, 40, 0, 0, 1}),
       cli::SampleRoute("GET /health", 50, {0.1, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0.1}),
       cli::SampleRoute("GET /items", 1, {1}), cli::SampleRoute("DELETE /items", 1, {1})});
}

class PerfctlBreakdownCliTest : public ::testing::Test {
 protected:
  PerfctlBreakdownCliTest()
      : aggregator_(600),
        store_(600, 0.01),
        real_(aggregator_, workers_, 600, &store_, &table_),
        stand_in_(&real_),
        server_(stand_in_) {
    char tmpl[] = "/tmp/perfctl-bd-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/perfd.sock";
    workers_.Set({MakeWorker(4242, "shop")});
    stand_in_.answer = Answer();
    Feed();
    server_.Start(socket_, "", "");
  }
  ~PerfctlBreakdownCliTest() override {
    server_.Shutdown();
    std::system(("rm -rf " + dir_).c_str());
  }

  // GET /orders: 30 serialization samples (serialize under view) and 20
  // app samples (compute under view); GET /health: 10 app samples. Two
  // requests of GET /orders with 6 item queries each (N+1) and a user
  // query; one blocking event of its code.
  void Feed() {
    const uint64_t now = SystemClocks().monotonic_ns();
    const uint32_t ser =
        table_.Intern({{"serialize", "ser.py", 22, 20}, {"view", "views.py", 12, 10}}, false);
    const uint32_t app =
        table_.Intern({{"compute", "calc.py", 7, 5}, {"view", "views.py", 13, 10}}, false);
    const uint32_t health = table_.Intern({{"ping", "health.py", 3, 2}}, false);
    for (int i = 0; i < 30; ++i) store_.Add("shop", "GET /orders", kSerialization, ser, now - kSec);
    for (int i = 0; i < 20; ++i) store_.Add("shop", "GET /orders", kApp, app, now - kSec);
    for (int i = 0; i < 10; ++i) store_.Add("shop", "GET /health", kApp, health, now - kSec);

    for (int request = 0; request < 2; ++request) {
      const uint64_t start = now - 2 * kSec + uint64_t(request) * 100000000;
      std::vector<db::DbCall> calls;
      for (int i = 0; i < 7; ++i) {
        db::DbCall c;
        c.fingerprint_id = i < 6 ? 0x2a : 0x2b;
        c.fingerprint =
            i < 6 ? "SELECT name FROM items WHERE id = $1" : "SELECT * FROM users WHERE id = $1";
        c.operation = "SELECT";
        c.start_ns = start + uint64_t(i) * 2000000;
        c.end_ns = c.start_ns + 1000000;
        c.call_site = "shop.views.list (views.py:9)";
        calls.push_back(c);
      }
      db_.OnRequestCalls("shop", "GET", "/orders", start, start + 50000000, calls);
    }
    real_.SetDbAggregator(&db_);

    BlockingEvent e;
    e.busy_ns = 150000000;
    e.start_ns = now - 2 * kSec;
    e.kind = BlockingKind::kOffCpu;
    e.blocked_ns[LOOP_BLOCK_IO] = 140000000;
    e.route = "GET /orders";
    e.site = "export (reports.py:88)";
    e.stack_id = ser;
    e.victims = 2;
    e.victim_wait_ns = 90000000;
    blocking_.Add("shop", e);
    real_.SetBlocking(&blocking_, &table_, 0.02);
  }

  Result Run(const std::vector<std::string>& args) { return PerfctlRunner(dir_).Run(args); }
  std::string Endpoint() const { return "--endpoint=unix://" + socket_; }

  Aggregator aggregator_;
  db::DbAggregator db_{600};
  BlockingWindow blocking_{600};
  FakeWorkerDirectory workers_;
  CpuProfileStore store_;
  StackTable table_;
  PerfdService real_;
  BreakdownStandIn stand_in_;
  ApiServer server_;
  std::string dir_;
  std::string socket_;
};

TEST_F(PerfctlBreakdownCliTest, TopBreakdownTableAndJson) {
  Result r = Run({Endpoint(), "top", "-s", "shop", "--breakdown", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.find("service shop   window 60s   requests 54   at "), 0u) << r.out;
  EXPECT_NE(r.out.find("\nROUTE          REQS  QUEUED  AUTH  VALID  SERIAL  DBDRV  FRAMEW   APP    "
                       "DB  LOOP  GC  OTHER  TOTAL\n"
                       "GET /orders       2       0     0      0    3.00      0       0  2.00  "
                       "10.0     0   0   1.00   16.0\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n(all routes)     54"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "--once must not clear the screen";

  r = Run({Endpoint(), "top", "-s", "shop", "--breakdown", "-o", "json", "--window", "2m", "--sort",
           "total", "--limit", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("{\"service\":\"shop\",\"windowSeconds\":120,"), 0u) << r.out;
  EXPECT_NE(r.out.find("\"part\":\"cpu_serialization\",\"meanSeconds\":0.003,"), std::string::npos)
      << r.out;
  // JSON is the whole answer: not cut by --limit.
  EXPECT_NE(r.out.find("\"route\":\"DELETE /items\""), std::string::npos) << r.out;
  const auto asked = stand_in_.breakdown_requests();
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1].window_seconds(), 120u);
  EXPECT_EQ(asked[1].route(), "");

  r = Run({Endpoint(), "top", "-s", "shop", "--breakdown", "--once", "--sort", "db"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(r.out.find("GET /orders"), r.out.find("GET /items")) << r.out;

  r = Run({Endpoint(), "top", "-s", "nope", "--breakdown", "--once"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "perfctl: unknown service \"nope\"; known services: shop\n");
}

TEST_F(PerfctlBreakdownCliTest, TopBreakdownFlagChecks) {
  Result r = Run({Endpoint(), "top", "-s", "shop", "--breakdown", "--sort", "own"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--sort: own is not a --breakdown sort key (time, reqs, total, route, "
                       "queued, auth,"),
            std::string::npos)
      << r.err;
  r = Run({Endpoint(), "top", "-s", "shop", "--sort", "queued", "--once"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--sort: queued sorts --breakdown: use it with --breakdown"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Run({Endpoint(), "top", "-s", "shop", "--breakdown", "--functions"}).exit_code, 2);
  EXPECT_EQ(Run({Endpoint(), "top", "-s", "shop", "--breakdown", "--by-node"}).exit_code, 2);
  EXPECT_EQ(Run({Endpoint(), "top", "-s", "shop", "--breakdown", "-r", "/orders"}).exit_code, 2);
  // Keys shared by name with the other tables are still checked per table.
  EXPECT_EQ(Run({Endpoint(), "top", "-s", "shop", "--functions", "--sort", "db"}).exit_code, 2);
}

// Live mode redraws like top's until SIGTERM (exit 0).
TEST_F(PerfctlBreakdownCliTest, TopBreakdownLiveModeRedraws) {
  PerfctlRunner runner(dir_);
  const pid_t pid =
      runner.Spawn({Endpoint(), "top", "-s", "shop", "--breakdown", "--interval", "100ms"});
  auto frames = [](const std::string& out) {
    size_t n = 0;
    for (size_t at = out.find("\x1b[H\x1b[2J"); at != std::string::npos;
         at = out.find("\x1b[H\x1b[2J", at + 1)) {
      ++n;
    }
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (frames(runner.OutSoFar()) < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGTERM);
  Result r = runner.Wait(pid);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(frames(r.out), 2u) << r.out;
  EXPECT_NE(r.out.find("GET /orders"), std::string::npos) << r.out;
}

// Several endpoints: merged by request-weighted means, the missing node
// named, exit 3.
TEST_F(PerfctlBreakdownCliTest, TopBreakdownAcrossNodesMergesAndNamesTheMissingOne) {
  BreakdownStandIn other(&real_);
  other.answer = cli::SampleBreakdown(
      {cli::SampleRoute("GET /orders", 6, {4, 0, 0, 3, 0, 0, 2, 2, 0, 0, 1})});  // 12 ms
  other.answer.set_sample_period_seconds(0);
  ApiServer other_server(other);
  const std::string other_socket = dir_ + "/other.sock";
  other_server.Start(other_socket, "", "");
  const std::string first = "unix://" + socket_, second = "unix://" + other_socket,
                    missing = "unix://" + dir_ + "/missing.sock";

  Result r = Run({"--endpoint", first + "," + second + "," + missing, "--timeout", "2s", "top",
                  "-s", "shop", "--breakdown", "--once"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("perfctl: warning: no answer from " + missing), 0u) << r.err;
  EXPECT_NE(r.out.find("   nodes 2   requests 60"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nPARTIAL: no answer from " + missing + " (2 of 3 nodes answered"),
            std::string::npos)
      << r.out;
  // GET /orders: 2 requests at 16 ms and 6 at 12 ms: 13 ms; queued
  // 6 x 4 / 8 = 3 ms; DB (2 x 10 + 6 x 2) / 8 = 4 ms.
  EXPECT_NE(r.out.find("\nGET /orders        2     8    3.00"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  4.00     0   0   1.00   13.0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("AUTH..APP undercount: Python sampling is off on " + second),
            std::string::npos)
      << r.out;

  r = Run({"--endpoint", first + "," + missing, "--timeout", "2s", "top", "-s", "shop",
           "--breakdown", "-o", "json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("\"partial\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"failedEndpoints\":[{"), std::string::npos) << r.out;
  other_server.Shutdown();
}

TEST_F(PerfctlBreakdownCliTest, ExplainShowsTheWaterfallAndWhatIsBehindEachPart) {
  // "/orders": any method; one route has it, so it is GET /orders.
  Result r = Run({Endpoint(), "explain", "-s", "shop", "-r", "/orders"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.find("service shop   route GET /orders   window 60s   at "), 0u) << r.out;
  EXPECT_NE(r.out.find("\nrequests 2   mean 16.0ms\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ndb wait             10.0    63%"), std::string::npos) << r.out;
  // Each CPU part's functions are its category's only: 30 serialization
  // samples of 10 ms over 2 requests = 150 ms a request, 20 app ones 100 ms.
  const size_t ser = r.out.find("\ncpu: serialization  3.00ms/request; top functions");
  const size_t app = r.out.find("\ncpu: app  2.00ms/request; top functions");
  ASSERT_NE(ser, std::string::npos) << r.out;
  ASSERT_NE(app, std::string::npos) << r.out;
  ASSERT_LT(ser, app) << r.out;
  EXPECT_EQ(r.out.substr(ser, app - ser),
            "\ncpu: serialization  3.00ms/request; top functions by own CPU per request:\n"
            "  OWN/REQ  FUNCTION\n"
            "    150ms  serialize (ser.py:20)\n");
  EXPECT_NE(r.out.find("\ncpu: app  2.00ms/request; top functions by own CPU per request:\n"
                       "  OWN/REQ  FUNCTION\n"
                       "    100ms  compute (calc.py:5)\n"),
            std::string::npos)
      << r.out;
  std::set<std::string> categories;
  for (const auto& f : stand_in_.function_requests()) {
    EXPECT_EQ(f.route(), "GET /orders");
    categories.insert(f.category());
  }
  EXPECT_EQ(categories, (std::set<std::string>{"serialization", "app"}));
  // The route's statements: 6 item queries and one user query a request.
  EXPECT_NE(r.out.find("\n  SYSTEM      CALLS/REQ"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(
                "\n  postgresql          6  997µs  12.0ms  SELECT name FROM items WHERE id = $1\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("\n  postgresql          1  997µs  2.00ms  SELECT * FROM users WHERE id = $1\n"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n  N+1  6x/request (max 6, 2 requests)  at shop.views.list (views.py:9)"),
            std::string::npos)
      << r.out;
  // Its own blocking of the loop.
  EXPECT_NE(r.out.find("\n  offcpu:io       1  150ms  150ms  export (reports.py:88)\n"),
            std::string::npos)
      << r.out;
}

TEST_F(PerfctlBreakdownCliTest, ExplainJson) {
  Result r = Run({Endpoint(), "explain", "-s", "shop", "-r", "GET /orders", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &doc).ok()) << r.out;
  const auto& f = doc.fields();
  EXPECT_EQ(f.at("route").struct_value().fields().at("route").string_value(), "GET /orders");
  const auto& functions = f.at("functions").struct_value().fields();
  ASSERT_EQ(functions.size(), 2u) << r.out;
  EXPECT_EQ(functions.at("cpu_app")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("function")
                .string_value(),
            "compute");
  EXPECT_EQ(f.at("queries").list_value().values_size(), 2) << r.out;
  EXPECT_EQ(f.at("nPlusOne").list_value().values_size(), 1) << r.out;
  EXPECT_EQ(f.at("blockingSites").list_value().values_size(), 1) << r.out;
  EXPECT_EQ(f.at("errors").list_value().values_size(), 0) << r.out;
}

TEST_F(PerfctlBreakdownCliTest, ExplainUnknownAndAmbiguousRoutesAndServices) {
  Result r = Run({Endpoint(), "explain", "-s", "shop", "-r", "/nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "perfctl: unknown route \"/nope\" of service \"shop\" in the last 60s; known routes: "
            "DELETE /items, GET /health, GET /items, GET /orders\n");
  r = Run({Endpoint(), "explain", "-s", "shop", "-r", "/items"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "perfctl: route \"/items\" of service \"shop\" matches 2 routes: DELETE /items, GET "
            "/items; name one with its method (--route \"DELETE /items\")\n");
  r = Run({Endpoint(), "explain", "-s", "nope", "-r", "/orders"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "perfctl: unknown service \"nope\"; known services: shop\n");
  EXPECT_EQ(Run({Endpoint(), "explain", "-s", "shop"}).exit_code, 2);  // --route is required
  EXPECT_EQ(Run({Endpoint(), "explain", "-r", "/orders"}).exit_code, 2);
  r = Run({"--endpoint", Endpoint().substr(11) + "," + Endpoint().substr(11) + "2", "explain", "-s",
           "shop", "-r", "/orders"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("explain reads one perfd, but the endpoints name 2"), std::string::npos)
      << r.err;
}

// A detail call that fails: the rest is shown, the failure said, exit 1.
TEST_F(PerfctlBreakdownCliTest, ExplainWithAFailedDetailCallSaysSoAndExits1) {
  stand_in_.blocking_error = grpc::Status(grpc::StatusCode::INTERNAL, "blocking store gone");
  Result r = Run({Endpoint(), "explain", "-s", "shop", "-r", "GET /orders"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "perfctl: blocking store gone\n");
  EXPECT_NE(r.out.find("\ncpu: app  2.00ms/request"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nnot shown: perfctl: blocking store gone\n"), std::string::npos) << r.out;
  r = Run({Endpoint(), "explain", "-s", "shop", "-r", "GET /orders", "-o", "json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"errors\":[\"perfctl: blocking store gone\"]"), std::string::npos)
      << r.out;
}

// A perfd from before GetBreakdown: both commands say so, exit 1.
TEST_F(PerfctlBreakdownCliTest, AnOlderPerfdWithoutGetBreakdownIsNamed) {
  v1::Perfd::Service older;  // serves nothing: UNIMPLEMENTED
  ApiServer older_server(older);
  const std::string endpoint = "unix://" + dir_ + "/older.sock";
  older_server.Start(dir_ + "/older.sock", "", "");
  const std::string line = "perfctl: " + endpoint +
                           " does not serve GetBreakdown (an older perfd? this command needs a "
                           "newer one)\n";
  Result r = Run({"--endpoint", endpoint, "explain", "-s", "shop", "-r", "/orders"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, line);
  r = Run({"--endpoint", endpoint, "top", "-s", "shop", "--breakdown", "--once"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, line);
  older_server.Shutdown();
}

}  // namespace
}  // namespace perfd
