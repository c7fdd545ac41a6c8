#include "daemon/discovery/worker_classifier.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

using V = std::vector<std::string>;

ProcessInfo P(uint32_t pid, uint32_t ppid, V argv, std::map<std::string, std::string> env = {}) {
  ProcessInfo p;
  p.pid = pid;
  p.ppid = ppid;
  p.argv = std::move(argv);
  p.env = std::move(env);
  p.start_time = 1000 + pid;
  return p;
}

const ProcessInfo kShell = P(10, 1, {"-bash"});
const ProcessInfo kSystemd = P(1, 0, {"/sbin/init"});

Classification Classify(const ProcessInfo& proc, const ProcessInfo* parent = &kShell,
                        const ProcessInfo* grandparent = &kSystemd) {
  return ClassifyProcess(proc, parent, grandparent);
}

void ExpectWorker(const Classification& c, const std::string& app, const std::string& server) {
  EXPECT_EQ(c.role, Role::kWorker);
  EXPECT_EQ(c.app_spec, app);
  EXPECT_EQ(c.server, server);
}

// a) single-process uvicorn, as Debian's python3-uvicorn 0.17 runs it.
TEST(ClassifierUvicornTest, SingleProcessIsAWorker) {
  for (const V& argv : std::vector<V>{
           {"python3", "-m", "uvicorn", "shop.main:app", "--port", "8000"},
           {"/usr/bin/uvicorn", "shop.main:app"},
           {"/usr/bin/python3", "/usr/bin/uvicorn", "--host", "0.0.0.0", "shop.main:app"},
           {"/usr/bin/python3.11", "-m", "uvicorn", "--port=8000", "--workers", "1",
            "shop.main:app"},
           {"uvicorn", "--proxy-headers", "--forwarded-allow-ips", "*", "shop.main:app"},
           {"uvicorn", "--uds", "/run/shop.sock", "--log-level", "warning", "--root-path", "/x",
            "--limit-concurrency", "100", "--timeout-keep-alive", "5", "shop.main:app"},
           {"python3", "-X", "dev", "-m", "uvicorn", "--env-file", "a.env", "shop.main:app"},
           {"python3", "-m", "uvicorn", "--ssl-keyfile", "k.pem", "--ssl-certfile=c.pem",
            "--app-dir", "src", "shop.main:app"},
       }) {
    SCOPED_TRACE(::testing::PrintToString(argv));
    const auto c = Classify(P(100, 10, argv));
    ExpectWorker(c, "shop.main:app", "uvicorn");
    EXPECT_FALSE(c.named_by_parent);
  }
}

TEST(ClassifierUvicornTest, FactoryFlag) {
  ExpectWorker(Classify(P(100, 10, {"uvicorn", "--factory", "shop.main:create_app"})),
               "shop.main:create_app", "uvicorn");
}

TEST(ClassifierUvicornTest, WorkersOrReloadMakeASupervisor) {
  for (const V& argv : std::vector<V>{
           {"uvicorn", "--workers", "4", "shop.main:app"},
           {"uvicorn", "--workers=2", "shop.main:app"},
           {"python3", "-m", "uvicorn", "shop.main:app", "--reload"},
           {"uvicorn", "--reload", "--reload-dir", "src", "shop.main:app"},
       }) {
    SCOPED_TRACE(::testing::PrintToString(argv));
    const auto c = Classify(P(100, 10, argv));
    EXPECT_EQ(c.role, Role::kSupervisor);
    EXPECT_EQ(c.app_spec, "shop.main:app");
  }
}

TEST(ClassifierUvicornTest, EnvironmentCountsLikeTheFlags) {
  const V argv = {"uvicorn", "shop.main:app"};
  EXPECT_EQ(Classify(P(100, 10, argv, {{"WEB_CONCURRENCY", "3"}})).role, Role::kSupervisor);
  EXPECT_EQ(Classify(P(100, 10, argv, {{"UVICORN_WORKERS", "2"}})).role, Role::kSupervisor);
  EXPECT_EQ(Classify(P(100, 10, argv, {{"UVICORN_RELOAD", "true"}})).role, Role::kSupervisor);
  EXPECT_EQ(Classify(P(100, 10, argv, {{"UVICORN_RELOAD", "0"}})).role, Role::kWorker);
  EXPECT_EQ(Classify(P(100, 10, argv, {{"WEB_CONCURRENCY", "1"}})).role, Role::kWorker);
  // An explicit --workers 1 wins over WEB_CONCURRENCY, as in uvicorn.
  EXPECT_EQ(Classify(P(100, 10, {"uvicorn", "--workers", "1", "shop.main:app"},
                       {{"WEB_CONCURRENCY", "8"}}))
                .role,
            Role::kWorker);
}

TEST(ClassifierUvicornTest, ForkedCopyOfAWorkerIsNotAWorker) {
  // The app forking (multiprocessing "fork"), or a spawn child before exec.
  const ProcessInfo worker = P(100, 10, {"uvicorn", "shop.main:app"});
  const auto c = Classify(P(101, 100, worker.argv), &worker, &kShell);
  EXPECT_EQ(c.role, Role::kNone);
  EXPECT_TRUE(c.same_argv_as_parent);
}

// b) uvicorn --workers N: spawn children.
const V kSpawnArgv = {"/usr/bin/python3", "-c",
                      "from multiprocessing.spawn import spawn_main; "
                      "spawn_main(tracker_fd=5, pipe_handle=7)",
                      "--multiprocessing-fork"};
const V kTrackerArgv = {"/usr/bin/python3", "-c",
                        "from multiprocessing.resource_tracker import main;main(4)"};

TEST(ClassifierSpawnTest, ChildOfSupervisorIsAWorkerWithTheParentsApp) {
  const ProcessInfo sup =
      P(200, 10, {"/usr/bin/python3", "/usr/bin/uvicorn", "--workers", "2", "shop.main:app"});
  const auto c = Classify(P(201, 200, kSpawnArgv), &sup, &kShell);
  ExpectWorker(c, "shop.main:app", "uvicorn");
  EXPECT_TRUE(c.named_by_parent);
  // Python flags from _args_from_interpreter_flags() come before -c.
  V flagged = kSpawnArgv;
  flagged.insert(flagged.begin() + 1, {"-I", "-X", "dev"});
  ExpectWorker(Classify(P(202, 200, flagged), &sup, &kShell), "shop.main:app", "uvicorn");
  // --reload runs the server in a spawn child too.
  const ProcessInfo reloader = P(300, 10, {"uvicorn", "--reload", "shop.main:app"});
  ExpectWorker(Classify(P(301, 300, kSpawnArgv), &reloader, &kShell), "shop.main:app", "uvicorn");
}

TEST(ClassifierSpawnTest, OtherSpawnChildrenAreNot) {
  const ProcessInfo sup = P(200, 10, {"uvicorn", "--workers", "2", "shop.main:app"});
  EXPECT_EQ(Classify(P(203, 200, kTrackerArgv), &sup, &kShell).role, Role::kNone);
  // The app itself (a single worker) using multiprocessing "spawn".
  const ProcessInfo worker = P(100, 10, {"uvicorn", "shop.main:app"});
  EXPECT_EQ(Classify(P(101, 100, kSpawnArgv), &worker, &kShell).role, Role::kNone);
  // Spawn child of some unrelated python program, or orphaned.
  const ProcessInfo script = P(400, 10, {"python3", "batch.py"});
  EXPECT_EQ(Classify(P(401, 400, kSpawnArgv), &script, &kShell).role, Role::kNone);
  EXPECT_EQ(Classify(P(402, 1, kSpawnArgv), nullptr, nullptr).role, Role::kNone);
  // Missing --multiprocessing-fork: not a spawn child.
  EXPECT_EQ(Classify(P(204, 200, V(kSpawnArgv.begin(), kSpawnArgv.end() - 1)), &sup, &kShell).role,
            Role::kNone);
}

// c) gunicorn with uvicorn workers: the workers are forks with the master's argv.
TEST(ClassifierGunicornTest, MasterAndForkedWorkers) {
  for (const V& argv : std::vector<V>{
           {"/usr/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "shop.main:app"},
           {"gunicorn", "--worker-class", "uvicorn.workers.UvicornWorker", "shop.main:app"},
           {"gunicorn", "-k=uvicorn.workers.UvicornWorker", "shop.main:app", "-b", "0.0.0.0:80"},
           {"gunicorn", "--worker-class=uvicorn.workers.UvicornH11Worker", "--bind",
            "unix:/run/s.sock", "shop.main:app"},
           {"/usr/bin/python3", "/usr/bin/gunicorn", "-b", "127.0.0.1:8000", "-k",
            "uvicorn.workers.UvicornWorker", "--timeout", "30", "shop.main:app"},
           {"python3", "-m", "gunicorn", "-w", "4", "-k", "uvicorn.workers.UvicornWorker", "-n",
            "shop-x", "--access-logfile", "-", "shop.main:app"},
       }) {
    SCOPED_TRACE(::testing::PrintToString(argv));
    const ProcessInfo master = P(500, 10, argv);
    EXPECT_EQ(Classify(master).role, Role::kSupervisor);
    ExpectWorker(Classify(P(501, 500, argv), &master, &kShell), "shop.main:app", "gunicorn");
  }
}

TEST(ClassifierGunicornTest, WorkerClassFromGunicornCmdArgs) {
  const V argv = {"gunicorn", "-w", "2", "shop.main:app"};
  const std::map<std::string, std::string> env = {
      {"GUNICORN_CMD_ARGS", "--bind 0.0.0.0:80 -k uvicorn.workers.UvicornWorker"}};
  const ProcessInfo master = P(500, 10, argv, env);
  EXPECT_EQ(Classify(master).role, Role::kSupervisor);
  ExpectWorker(Classify(P(501, 500, argv, env), &master, &kShell), "shop.main:app", "gunicorn");
  // The command line overrides the environment.
  const V sync_argv = {"gunicorn", "-k", "sync", "shop.main:app"};
  EXPECT_EQ(Classify(P(502, 10, sync_argv, env)).role, Role::kNone);
}

TEST(ClassifierGunicornTest, NonUvicornWorkerClassIsIgnoredEntirely) {
  for (const V& argv : std::vector<V>{
           {"gunicorn", "-w", "2", "shop.wsgi:application"},  // default: sync
           {"gunicorn", "-k", "gevent", "shop.main:app"},
           {"gunicorn", "-k", "gthread", "--threads", "4", "shop.main:app"},
       }) {
    SCOPED_TRACE(::testing::PrintToString(argv));
    const ProcessInfo master = P(500, 10, argv);
    EXPECT_EQ(Classify(master).role, Role::kNone);
    EXPECT_EQ(Classify(P(501, 500, argv), &master, &kShell).role, Role::kNone);
  }
}

TEST(ClassifierGunicornTest, ForkOfAWorkerIsNotAWorker) {
  const V argv = {"gunicorn", "-k", "uvicorn.workers.UvicornWorker", "shop.main:app"};
  const ProcessInfo master = P(500, 10, argv);
  const ProcessInfo worker = P(501, 500, argv);
  EXPECT_EQ(Classify(P(502, 501, argv), &worker, &master).role, Role::kNone);
}

TEST(ClassifierGunicornTest, SetproctitleTitles) {
  const ProcessInfo master = P(600, 10, {"gunicorn: master [shop.main:app]"});
  EXPECT_EQ(Classify(master).role, Role::kSupervisor);
  EXPECT_EQ(Classify(master).app_spec, "shop.main:app");
  ExpectWorker(Classify(P(601, 600, {"gunicorn: worker [shop.main:app]"}), &master, &kShell),
               "shop.main:app", "gunicorn");
  // Padded with spaces by some setproctitle versions.
  ExpectWorker(Classify(P(602, 600, {"gunicorn: worker [shop.main:app]   "}), &master, &kShell),
               "shop.main:app", "gunicorn");
  // Just forked, not yet renamed: still the master's title.
  ExpectWorker(Classify(P(603, 600, master.argv), &master, &kShell), "shop.main:app", "gunicorn");
  // --name shop-x: the title carries the name, not the app.
  const ProcessInfo named_master = P(700, 10, {"gunicorn: master [shop-x]"});
  const auto named = Classify(P(701, 700, {"gunicorn: worker [shop-x]"}), &named_master, &kShell);
  EXPECT_EQ(named.role, Role::kWorker);
  EXPECT_EQ(named.app_spec, "");
  // A worker title whose parent is no master (app fork of a worker).
  const ProcessInfo worker = P(601, 600, {"gunicorn: worker [shop.main:app]"});
  EXPECT_EQ(Classify(P(604, 601, worker.argv), &worker, &master).role, Role::kNone);
  EXPECT_EQ(Classify(P(605, 10, worker.argv)).role, Role::kNone);
  // GUNICORN_CMD_ARGS can still rule a non-ASGI worker class out.
  const ProcessInfo sync_master =
      P(800, 10, {"gunicorn: master [shop.wsgi]"}, {{"GUNICORN_CMD_ARGS", "-k sync"}});
  EXPECT_EQ(Classify(sync_master).role, Role::kNone);
}

// d) everything else.
TEST(ClassifierOtherTest, ProgramsThatMerelyMentionUvicorn) {
  for (const V& argv : std::vector<V>{
           {"grep", "uvicorn"},
           {"tail", "-f", "/var/log/uvicorn.log"},
           {"/usr/sbin/perfd", "--config", "/etc/perfd/uvicorn.yaml"},
           {"python3", "manage.py", "uvicorn", "shop.main:app"},
           {"python3", "-c", "import uvicorn; uvicorn.run('shop.main:app')"},
           {"bash", "-c", "uvicorn shop.main:app"},
           {"/opt/uvicorn/bin/run", "shop.main:app"},
           {"uvicorn.sh", "shop.main:app"},
           {"node", "uvicorn", "shop.main:app"},
           {"python3", "-m", "pytest", "-k", "uvicorn"},
           {},
       }) {
    SCOPED_TRACE(::testing::PrintToString(argv));
    EXPECT_EQ(Classify(P(900, 10, argv)).role, Role::kNone);
  }
}

}  // namespace
}  // namespace perfd
