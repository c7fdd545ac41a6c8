// Runs the real perfctl binary against an in-process perfd API server:
// exit codes, error lines and output shapes as a user sees them.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"
#include "pprof/profile.pb.h"
#include "tests/unit/cli/perfctl_runner.h"
#include "tests/unit/cli/pprof_test_util.h"

namespace perfd {
namespace {

class NoWorkers : public WorkerDirectory {
 public:
  std::vector<Worker> Workers() const override {
    Worker w;
    w.pid = 4242;
    w.service = "api";
    w.app_spec = "api.main:app";
    w.server = "uvicorn";
    return {w};
  }
};

class PerfctlCliTest : public ::testing::Test {
 protected:
  PerfctlCliTest()
      : aggregator_(600),
        store_(600, 0.01),
        service_(aggregator_, workers_, 600, &store_, &table_),
        server_(service_) {
    char tmpl[] = "/tmp/perfctl-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/perfd.sock";
  }
  ~PerfctlCliTest() override {
    server_.Shutdown();
    std::system(("rm -rf " + dir_).c_str());
  }

  void StartServer() {
    const uint64_t now = SystemClocks().monotonic_ns();
    for (int i = 1; i <= 10; ++i) {
      aggregator_.RecordComplete("api", "GET", "/users/{user_id}", i == 10 ? 503 : 200, false,
                                 now - static_cast<uint64_t>(i) * 1000000, now);
    }
    users_ =
        table_.Intern({{"serialize", "ser.py", 22, 20}, {"get_user", "users.py", 12, 10}}, false);
    loop_ = table_.Intern({{"run_once", "asyncio/base_events.py", 41, 40}}, false);
    // 5 s ago: in top's window, not in a profile started now.
    AddSamples("GET /users/{user_id}", users_, 30, now - 5000000000ULL);
    AddSamples("(no request)", loop_, 10, now - 5000000000ULL);
    server_.Start(socket_, "", "");
  }

  void AddSamples(const std::string& route, uint32_t stack, int n, uint64_t ts) {
    for (int i = 0; i < n; ++i) store_.Add("api", route, /*category=*/2, stack, ts);
  }
  // While a profile records: 3 users samples, 2 loop samples, now.
  std::thread FeedDuringProfile() {
    return std::thread([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      const uint64_t now = SystemClocks().monotonic_ns();
      AddSamples("GET /users/{user_id}", users_, 3, now);
      AddSamples("(no request)", loop_, 2, now);
    });
  }

  // Starts perfctl with stdout/stderr captured in files; returns its pid.
  pid_t Spawn(const std::vector<std::string>& args) { return PerfctlRunner(dir_).Spawn(args); }
  Result Wait(pid_t pid) { return PerfctlRunner(dir_).Wait(pid); }
  Result Run(const std::vector<std::string>& args) { return Wait(Spawn(args)); }

  std::string Endpoint() const { return "--endpoint=unix://" + socket_; }

  Aggregator aggregator_;
  db::DbAggregator db_{600};
  BlockingWindow blocking_{600};
  NoWorkers workers_;
  CpuProfileStore store_;
  StackTable table_;
  uint32_t users_ = 0, loop_ = 0;
  PerfdService service_;
  ApiServer server_;
  std::string dir_;
  std::string socket_;
};

TEST_F(PerfctlCliTest, UnreachableDaemonIsOneLineExit1) {
  const std::string endpoint = "unix://" + dir_ + "/missing.sock";
  Result r = Run({"--endpoint", endpoint, "services"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.find("perfctl: cannot reach perfd at " + endpoint + ": "), 0u) << r.err;
  EXPECT_NE(r.err.find("(is perfd running? see docs/PERFCTL.md)\n"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
}

TEST_F(PerfctlCliTest, QueriesWithoutDbDataIsOneLineExit1) {
  StartServer();
  Result r = Run({Endpoint(), "queries", "-s", "api"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("database call tracing is off"), std::string::npos) << r.err;
  EXPECT_EQ(Run({Endpoint(), "queries"}).exit_code, 2);  // --service is required
}

TEST_F(PerfctlCliTest, UsageErrorsExit2) {
  EXPECT_EQ(Run({}).exit_code, 2);
  EXPECT_EQ(Run({"top"}).exit_code, 2);  // --service is required
  EXPECT_EQ(Run({"top", "-s", "api", "--sort", "latency"}).exit_code, 2);
  EXPECT_EQ(Run({"top", "-s", "api", "--interval", "10ms"}).exit_code, 2);
  Result r = Run({"top", "-s", "api", "--window", "1500ms"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("whole seconds"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"services", "-o", "yaml"}).exit_code, 2);
  r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("top"), std::string::npos);
}

TEST_F(PerfctlCliTest, QueriesTableJsonAndRouteFilter) {
  const uint64_t now = SystemClocks().monotonic_ns();
  std::vector<db::DbCall> loop;
  for (int i = 0; i < 6; ++i) {
    db::DbCall c;
    c.fingerprint_id = 0x2a;
    c.fingerprint = "SELECT name FROM items WHERE id = $1";
    c.operation = "SELECT";
    c.start_ns = now - 1000000000ULL + uint64_t(i) * 2000000;
    c.end_ns = c.start_ns + 1000000;
    c.call_site = "api.views.items (views.py:9)";
    loop.push_back(c);
  }
  db_.OnRequestCalls("api", "GET", "/users/{user_id}", now - 1000000000ULL, now - 900000000ULL,
                     loop);
  service_.SetDbAggregator(&db_);
  StartServer();
  Result r = Run({Endpoint(), "queries", "-s", "api"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SELECT name FROM items WHERE id = $1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("N+1  GET /users/{user_id}  6x/request"), std::string::npos) << r.out;
  r = Run({Endpoint(), "queries", "-s", "api", "-o", "json", "--route", "/nope"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"queries\":[]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("items"), std::string::npos) << r.out;
  r = Run({Endpoint(), "queries", "-s", "api", "-o", "json"});
  EXPECT_NE(r.out.find("\"id\":\"000000000000002a\""), std::string::npos) << r.out;
  r = Run({Endpoint(), "top", "-s", "api", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GET /users/{user_id}  N+1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q/REQ"), std::string::npos) << r.out;
}

TEST_F(PerfctlCliTest, BlockingTableStacksJsonAndErrors) {
  // Tracing off: said in the table, not an error.
  StartServer();
  Result r = Run({Endpoint(), "blocking", "-s", "api", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("service api   window 60s\n\nevent-loop tracing is off"), 0u) << r.out;

  const uint64_t now = SystemClocks().monotonic_ns();
  BlockingEvent e;
  e.busy_ns = 150000000;
  e.start_ns = now - 2000000000ULL;
  e.kind = BlockingKind::kOffCpu;
  e.blocked_ns[LOOP_BLOCK_IO] = 140000000;
  e.route = "GET /users/{user_id}";
  e.site = "get_user (users.py:12)";
  e.stack_id = users_;
  e.victims = 2;
  e.victim_wait_ns = 90000000;
  blocking_.Add("api", e);
  BlockingEvent idle;  // outside requests, no stack
  idle.busy_ns = 30000000;
  idle.start_ns = now - 1000000000ULL;
  idle.oncpu_ns = idle.busy_ns;
  idle.route = "(no request)";
  blocking_.Add("api", idle);
  service_.SetBlocking(&blocking_, &table_, 0.02);

  r = Run({Endpoint(), "blocking", "-s", "api", "--once", "--stacks"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("service api   window 60s   route all   threshold 20.0ms   events 2   "
                       "total 180ms\n\nROUTE "),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("GET /users/{user_id}  offcpu:io       1   150ms   150ms        2      "
                       "90.0ms  get_user (users.py:12)\n"
                       "    serialize (ser.py:22)\n"
                       "    get_user (users.py:12)\n"
                       "(no request)          oncpu           1  30.0ms  30.0ms        0           "
                       "0  (no stack)\n"
                       "    (no stack)\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "--once must not clear the screen";

  r = Run({Endpoint(), "blocking", "-s", "api", "-o", "json", "--route", "/users/{user_id}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("{\"service\":\"api\",\"windowSeconds\":60,\"traced\":true,"), 0u) << r.out;
  EXPECT_NE(r.out.find("\"events\":\"1\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("(no request)"), std::string::npos) << r.out;

  r = Run({Endpoint(), "blocking", "-s", "api", "--once", "--limit", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("(no request)"), std::string::npos) << r.out;

  r = Run({Endpoint(), "blocking", "-s", "nope", "--once"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "perfctl: unknown service \"nope\"; known services: api\n");
  EXPECT_EQ(Run({Endpoint(), "blocking", "--once"}).exit_code, 2);  // --service is required
  r = Run({"--endpoint", Endpoint().substr(11) + "," + Endpoint().substr(11) + "2", "blocking",
           "-s", "api", "--once"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("blocking reads one perfd, but the endpoints name 2"), std::string::npos)
      << r.err;
}

TEST_F(PerfctlCliTest, ServicesTableAndJson) {
  StartServer();
  Result r = Run({Endpoint(), "services"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("api            1        10  uvicorn  api.main:app  4242\n"),
            std::string::npos)
      << r.out;
  // A bare socket path works too, and the endpoint flag may follow the subcommand.
  r = Run({"services", "-o", "json", "--endpoint", socket_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("{\"services\":[{\"name\":\"api\",\"workers\":[{\"pid\":4242,"), 0u)
      << r.out;
  EXPECT_NE(r.out.find("\"requestsTotal\":\"10\""), std::string::npos) << r.out;
}

// A worker whose command line alone is over gRPC's default 4 MiB.
class HugeWorker : public WorkerDirectory {
 public:
  std::vector<Worker> Workers() const override {
    Worker w;
    w.pid = 4243;
    w.service = "big";
    w.app_spec = "big.main:app";
    w.server = "uvicorn";
    w.argv = {"uvicorn", w.app_spec, std::string(6 << 20, 'x')};
    return {w};
  }
};

TEST_F(PerfctlCliTest, ResponsesOverFourMiBAreReceived) {
  HugeWorker huge;
  PerfdService service(aggregator_, huge, 600);
  ApiServer server(service);
  server.Start(dir_ + "/big.sock", "", "");
  Result r = Run({"--endpoint=unix://" + dir_ + "/big.sock", "services", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 500);
  EXPECT_GT(r.out.size(), 6u << 20);
  r = Run({"--endpoint=unix://" + dir_ + "/big.sock", "services"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 500);
  EXPECT_NE(r.out.find("big            1         0  uvicorn  big.main:app  4243\n"),
            std::string::npos)
      << r.out;
}

TEST_F(PerfctlCliTest, TopOnceTableJsonAndServerErrors) {
  StartServer();
  Result r = Run({Endpoint(), "top", "--service", "api", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("service api   window 60s   workers 1   total 0.17 req/s"), 0u) << r.out;
  EXPECT_NE(r.out.find("ROUTE                 REQ/S   ERR%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GET /users/{user_id}   0.17  10.0%"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "--once must not clear the screen";

  r = Run({Endpoint(), "top", "-s", "api", "-o", "json", "--window", "2m"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("{\"service\":\"api\",\"windowSeconds\":120,"), 0u) << r.out;
  EXPECT_NE(r.out.find("\"statusCodes\":{"), std::string::npos) << r.out;

  r = Run({Endpoint(), "top", "-s", "nope", "--once"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "perfctl: unknown service \"nope\"; known services: api\n");

  r = Run({Endpoint(), "top", "-s", "api", "--once", "--window", "11m"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("maximum of 600s"), std::string::npos) << r.err;
}

TEST_F(PerfctlCliTest, TopShowsCpuColumnsAndPseudoRoutes) {
  StartServer();
  Result r = Run({Endpoint(), "top", "-s", "api", "--once", "--sort", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 40 samples of 10 ms over 60 s: 0.4 s = 1% of a core.
  EXPECT_NE(r.out.find("total 0.17 req/s   cpu 1% of a core"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("INFLIGHT  CPU%  CPU/REQ  AUTH%  VALID%  SER%  DB%  FW%  APP%\n"),
            std::string::npos)
      << r.out;
  // 0.3 s (0.5% of a core) over 10 requests = 30 ms each, all serialization.
  EXPECT_NE(r.out.find("    1%   30.0ms     0%      0%  100%   0%   0%    0%\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n(no request)              0      -       -       -       -       -  "
                       "    -         0   <1%        -     0%      0%  100%   0%   0%    0%\n"),
            std::string::npos)
      << r.out;
}

TEST_F(PerfctlCliTest, TopFunctionsTableJsonAndFlagChecks) {
  StartServer();
  Result r = Run({Endpoint(), "top", "-s", "api", "--functions", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("service api   window 60s   route all   40 samples (400ms CPU)\n\n"), 0u)
      << r.out;
  EXPECT_NE(r.out.find("75.0%   75.0%    300ms      300ms  serialize (ser.py:20)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" 0.0%   75.0%        0      300ms  get_user (users.py:10)\n"),
            std::string::npos)
      << r.out;

  r = Run({Endpoint(), "top", "-s", "api", "--functions", "--route", "/users/{user_id}", "--once",
           "--sort", "total", "--limit", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("route /users/{user_id}   30 samples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(1 more functions; --limit 0 shows all)"), std::string::npos) << r.out;

  r = Run({Endpoint(), "top", "-s", "api", "--functions", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("{\"service\":\"api\",\"windowSeconds\":60,\"totalSamples\":\"40\","), 0u)
      << r.out;
  EXPECT_NE(r.out.find("\"function\":\"serialize\",\"file\":\"ser.py\",\"line\":20,"),
            std::string::npos)
      << r.out;

  EXPECT_EQ(Run({Endpoint(), "top", "-s", "api", "--sort", "own"}).exit_code, 2);
  EXPECT_EQ(Run({Endpoint(), "top", "-s", "api", "--functions", "--sort", "rps"}).exit_code, 2);
  EXPECT_EQ(Run({Endpoint(), "top", "-s", "api", "--route", "/x"}).exit_code, 2);
}

TEST_F(PerfctlCliTest, ProfileFoldedToStdout) {
  StartServer();
  pid_t pid = Spawn({Endpoint(), "profile", "-s", "api", "--duration", "1s"});
  std::thread feeder = FeedDuringProfile();
  Result r = Wait(pid);
  feeder.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "get_user (users.py:12);serialize (ser.py:22) 3\n"
            "run_once (asyncio/base_events.py:41) 2\n");
  EXPECT_EQ(r.err, "perfctl: profiling api for 1s...\n");
}

TEST_F(PerfctlCliTest, ProfilePprofFileWithRouteFilter) {
  StartServer();
  const std::string file = dir_ + "/users.pb.gz";
  pid_t pid = Spawn({Endpoint(), "profile", "-s", "api", "-d", "1", "-r", "/users/{user_id}", "-o",
                     "pprof", "--output", file});
  std::thread feeder = FeedDuringProfile();
  Result r = Wait(pid);
  feeder.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("wrote 3 samples in 1 stacks to " + file), std::string::npos) << r.err;
  perftools::profiles::Profile p;
  ASSERT_TRUE(p.ParseFromString(cli::Gunzip(Slurp(file))));
  ASSERT_EQ(p.sample_size(), 1);
  EXPECT_EQ(p.sample(0).value(0), 3);
  EXPECT_EQ(p.sample(0).value(1), 30000000);
  EXPECT_EQ(p.period(), 10000000);
  EXPECT_GE(p.duration_nanos(), 1000000000);
  ASSERT_EQ(p.comment_size(), 1);
  EXPECT_EQ(cli::Str(p, p.comment(0)), "perfd profile of api route /users/{user_id}");
  std::vector<std::string> names;
  for (const auto& f : p.function()) names.push_back(cli::Str(p, f.name()));
  EXPECT_EQ(names, (std::vector<std::string>{"serialize", "get_user"}));
}

TEST_F(PerfctlCliTest, ProfileErrors) {
  StartServer();
  EXPECT_EQ(Run({Endpoint(), "profile", "-s", "api", "-d", "1500ms"}).exit_code, 2);
  EXPECT_EQ(Run({Endpoint(), "profile", "-s", "api", "-o", "svg"}).exit_code, 2);
  Result r = Run({Endpoint(), "profile", "-s", "api", "-d", "11m"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside 1s..600s"), std::string::npos) << r.err;
  r = Run({Endpoint(), "profile", "-s", "nope", "-d", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("perfctl: unknown service \"nope\""), std::string::npos) << r.err;
}

TEST_F(PerfctlCliTest, LiveModeRedrawsUntilSigterm) {
  StartServer();
  pid_t pid = Spawn({Endpoint(), "top", "-s", "api", "--interval", "100ms"});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  kill(pid, SIGTERM);
  Result r = Wait(pid);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t frames = 0;
  for (size_t at = r.out.find("\x1b[H\x1b[2J"); at != std::string::npos;
       at = r.out.find("\x1b[H\x1b[2J", at + 1)) {
    ++frames;
  }
  EXPECT_GE(frames, 2u) << r.out;
}

}  // namespace
}  // namespace perfd

namespace perfd {
namespace {

// Several endpoints: a second perfd (same service, its own requests) and one
// that is not there. The table and JSON merge what answered, name what did
// not, and exit 3 (partial).
TEST_F(PerfctlCliTest, SeveralEndpointsMergeAndNameTheMissingOne) {
  StartServer();  // 10 requests of GET /users/{user_id}, one a 503
  Aggregator other_aggregator(600);
  const uint64_t now = SystemClocks().monotonic_ns();
  for (int i = 1; i <= 5; ++i) {
    other_aggregator.RecordComplete("api", "GET", "/users/{user_id}", 200, false,
                                    now - static_cast<uint64_t>(i) * 2000000, now);
  }
  other_aggregator.RecordComplete("api", "POST", "/orders", 201, false, now - 3000000, now);
  PerfdService other_service(other_aggregator, workers_, 600);
  ApiServer other(other_service);
  const std::string other_socket = dir_ + "/other.sock";
  other.Start(other_socket, "", "");
  const std::string first = "unix://" + socket_, second = "unix://" + other_socket,
                    missing = "unix://" + dir_ + "/missing.sock";

  Result r = Run({"--endpoint", first, "--endpoint", second, "top", "-s", "api", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("   workers 2   nodes 2   total 0.27 req/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ROUTE                 NODES  REQ/S"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GET /users/{user_id}      2   0.25  6.7%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("POST /orders              1   0.02"), std::string::npos) << r.out;

  r = Run({"--endpoint", first + "," + second + "," + missing, "--timeout", "2s", "top", "-s",
           "api", "-o", "json"});
  ASSERT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("perfctl: warning: no answer from " + missing +
                       " (perfctl: cannot reach "
                       "perfd at " +
                       missing),
            0u)
      << r.err;
  EXPECT_NE(r.out.find("\"partial\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"failedEndpoints\":[{"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"requests\":\"15\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"nodes\":[\"" + first + "\",\"" + second + "\"]"), std::string::npos)
      << r.out;

  r = Run({"--endpoint", first, "--endpoint", missing, "top", "-s", "api", "--once", "--by-node"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.out.find("PARTIAL: no answer from " + missing + " (1 of 2 nodes answered"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  @ " + first), std::string::npos) << r.out;

  // Nothing answered: an error, as with one endpoint. One perfd's commands
  // refuse several endpoints.
  r = Run({"--endpoint", missing, "--endpoint", missing + "2", "top", "-s", "api", "--once"});
  EXPECT_EQ(r.exit_code, 1);
  r = Run({"--endpoint", first, "--endpoint", second, "queries", "-s", "api"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("queries reads one perfd, but the endpoints name 2"), std::string::npos)
      << r.err;

  // services: the union, every node's workers.
  r = Run({"--endpoint", first, "--endpoint", second, "services", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"partial\":false"), std::string::npos) << r.out;
  other.Shutdown();
}

TEST_F(PerfctlCliTest, TlsFlagsAreCheckedBeforeDialling) {
  Result r = Run({"--endpoint", "127.0.0.1:1", "--tls-cert", "/x", "--tls-key", "/y", "services"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("need --tls-ca"), std::string::npos) << r.err;
  r = Run({"--endpoint", "127.0.0.1:1", "--tls-ca", dir_ + "/none.pem", "services"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tls-ca: cannot read " + dir_ + "/none.pem"), std::string::npos) << r.err;
  r = Run(
      {"--endpoint", "127.0.0.1:1", "--tls-ca", "/etc/hostname", "--tls-key", "/x", "services"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tls-key needs --tls-cert"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace perfd
