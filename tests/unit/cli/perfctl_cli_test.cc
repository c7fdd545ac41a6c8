// Runs the real perfctl binary against an in-process perfd API server:
// exit codes, error lines and output shapes as a user sees them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"

extern char** environ;

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

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PerfctlCliTest : public ::testing::Test {
 protected:
  PerfctlCliTest() : aggregator_(600), service_(aggregator_, workers_, 600), server_(service_) {
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
    server_.Start(socket_, "", "");
  }

  // Starts perfctl with stdout/stderr captured in files; returns its pid.
  pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> argv_storage = {PERFCTL_BIN};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, (dir_ + "/err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, PERFCTL_BIN, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }

  Result Wait(pid_t pid) {
    Result r;
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = Slurp(dir_ + "/out");
    r.err = Slurp(dir_ + "/err");
    return r;
  }

  Result Run(const std::vector<std::string>& args) { return Wait(Spawn(args)); }

  std::string Endpoint() const { return "--endpoint=unix://" + socket_; }

  Aggregator aggregator_;
  NoWorkers workers_;
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
