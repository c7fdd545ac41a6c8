#include "daemon/discovery/server_argv.h"

#include <gtest/gtest.h>

namespace perfd::server_argv {
namespace {

using V = std::vector<std::string>;

TEST(ServerArgvTest, PythonInterpreterNames) {
  for (const char* yes : {"python", "python3", "/usr/bin/python3.11", "python3.12d", "python3.13t",
                          "/root/.pyenv/versions/3.10.13/bin/python3.10", "python3-dbg"}) {
    EXPECT_TRUE(IsPythonInterpreter(yes)) << yes;
  }
  for (const char* no : {"pythonista", "ipython3", "python3-config", "uvicorn", "", "/usr/bin/"}) {
    EXPECT_FALSE(IsPythonInterpreter(no)) << no;
  }
}

TEST(ServerArgvTest, AppSpecShapes) {
  for (const char* yes : {"shop.main:app", "main:app", "app:app", "shop.main:create_app()",
                          "m:factory('x', 1)", "pkg._private.mod:obj.attr", "_m:_a"}) {
    EXPECT_TRUE(LooksLikeAppSpec(yes)) << yes;
  }
  for (const char* no : {"shop.main", ":app", "shop.:app", "shop:", "0.0.0.0:8000", "unix:/tmp/s",
                         "X-Foo:bar", "a:b(", "/srv/app:app", "1mod:app", ""}) {
    EXPECT_FALSE(LooksLikeAppSpec(no)) << no;
  }
}

TEST(ServerArgvTest, ProgramIdentification) {
  EXPECT_EQ(ParseCommand({"uvicorn", "a:b"}).program, Program::kUvicorn);
  EXPECT_EQ(ParseCommand({"/usr/local/bin/gunicorn", "a:b"}).program, Program::kGunicorn);
  EXPECT_EQ(ParseCommand({"python3", "-m", "uvicorn", "a:b"}).args, V{"a:b"});
  EXPECT_EQ(ParseCommand({"python3", "-muvicorn", "a:b"}).program, Program::kUvicorn);
  EXPECT_EQ(ParseCommand({"python3", "-Bm", "gunicorn", "a:b"}).program, Program::kGunicorn);
  EXPECT_EQ(
      ParseCommand({"python3", "-X", "dev", "-W", "ignore", "-u", "/usr/bin/uvicorn", "a:b"}).args,
      V{"a:b"});
  EXPECT_EQ(ParseCommand({"python3", "-Xdev", "-m", "uvicorn"}).program, Program::kUvicorn);
  EXPECT_EQ(ParseCommand({"python3", "--", "/usr/bin/uvicorn", "a:b"}).program, Program::kUvicorn);
  // -c ends option parsing: "uvicorn" after it is an argument of the command.
  EXPECT_EQ(ParseCommand({"python3", "-c", "pass", "-m", "uvicorn"}).program, Program::kOther);
  EXPECT_EQ(ParseCommand({"python3", "-m", "uvicorn.workers"}).program, Program::kOther);
  EXPECT_EQ(ParseCommand({"python3", "-"}).program, Program::kOther);
  EXPECT_EQ(ParseCommand({"python3"}).program, Program::kOther);
  EXPECT_EQ(ParseCommand({}).program, Program::kOther);
}

TEST(ServerArgvTest, UvicornOptions) {
  auto a = ParseUvicornArgs({"--host", "0.0.0.0", "--port=8000", "--root-path", "/api",
                             "--ssl-keyfile", "k.pem", "--header", "X-A:b", "--proxy-headers",
                             "--workers", "3", "shop.main:app"});
  EXPECT_EQ(a.app_spec, "shop.main:app");
  EXPECT_EQ(a.workers, 3);
  EXPECT_FALSE(a.reload);
  a = ParseUvicornArgs({"shop.main:app", "--reload", "--reload-dir", "x:y"});
  EXPECT_EQ(a.app_spec, "shop.main:app");
  EXPECT_TRUE(a.reload);
  EXPECT_EQ(ParseUvicornArgs({"--workers=5", "--", "a:b"}).workers, 5);
  EXPECT_EQ(ParseUvicornArgs({"--", "a:b"}).app_spec, "a:b");
  EXPECT_TRUE(ParseUvicornArgs({"--debug", "a:b"}).reload);
}

TEST(ServerArgvTest, GunicornOptions) {
  EXPECT_EQ(ParseGunicornArgs({"-k", "K", "a:b"}).worker_class, "K");
  EXPECT_EQ(ParseGunicornArgs({"-kK", "a:b"}).worker_class, "K");
  EXPECT_EQ(ParseGunicornArgs({"-k=K", "a:b"}).worker_class, "K");
  EXPECT_EQ(ParseGunicornArgs({"--worker-class=K", "a:b"}).worker_class, "K");
  EXPECT_EQ(ParseGunicornArgs({"--worker-class", "K", "a:b"}).worker_class, "K");
  // argparse accepts unambiguous prefixes.
  EXPECT_EQ(ParseGunicornArgs({"--worker-cl", "K", "a:b"}).worker_class, "K");
  const auto g = ParseGunicornArgs({"-b", "0.0.0.0:8000", "--bind=unix:/s", "-w", "2", "-n",
                                    "name:x", "--preload", "-D", "shop.main:app"});
  EXPECT_EQ(g.app_spec, "shop.main:app");
  EXPECT_EQ(g.worker_class, "");
  EXPECT_EQ(ParseGunicornArgs({"shop.wsgi"}).app_spec, "shop.wsgi:application");
}

TEST(ServerArgvTest, ShellSplitLikeShlex) {
  EXPECT_EQ(ShellSplit("  -k uvicorn.workers.UvicornWorker   --bind=0:80 "),
            (V{"-k", "uvicorn.workers.UvicornWorker", "--bind=0:80"}));
  EXPECT_EQ(ShellSplit(R"(--name 'my app' -e "A=\"q\"" x\ y '')"),
            (V{"--name", "my app", "-e", "A=\"q\"", "x y", ""}));
  EXPECT_EQ(ShellSplit(""), V{});
}

}  // namespace
}  // namespace perfd::server_argv
