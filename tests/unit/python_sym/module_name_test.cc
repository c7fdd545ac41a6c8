#include "daemon/python/module_name.h"

#include <gtest/gtest.h>

namespace perfd::python {
namespace {

TEST(ModuleName, SysPathRoots) {
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3/dist-packages/fastapi/routing.py"),
            "fastapi.routing");
  EXPECT_EQ(ModuleNameForFile("/venv/lib/python3.12/site-packages/pydantic/main.py"),
            "pydantic.main");
  EXPECT_EQ(ModuleNameForFile("/usr/local/lib/python3.11/site-packages/sqlalchemy/orm/"
                              "session.py"),
            "sqlalchemy.orm.session");
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3.11/json/encoder.py"), "json.encoder");
  EXPECT_EQ(ModuleNameForFile("/root/.pyenv/versions/3.12.1/lib/python3.12/asyncio/"
                              "base_events.py"),
            "asyncio.base_events");
  EXPECT_EQ(ModuleNameForFile("/usr/lib64/python3.9/typing.py"), "typing");
  EXPECT_EQ(ModuleNameForFile("/opt/py/lib/python3.13t/threading.py"), "threading");
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python311.zip/encodings/idna.py"), "encodings.idna");
  // The last root wins: a venv inside a stdlib-looking tree.
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3.11/site-packages/jwt/api_jwt.py"), "jwt.api_jwt");
}

TEST(ModuleName, PackagesAndInit) {
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3/dist-packages/jwt/__init__.py"), "jwt");
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3.11/concurrent/futures/__init__.py"),
            "concurrent.futures");
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3/dist-packages/uvicorn/__main__.py"),
            "uvicorn.__main__");
}

TEST(ModuleName, FrozenAndPseudoFiles) {
  EXPECT_EQ(ModuleNameForFile("<frozen importlib._bootstrap>"), "importlib._bootstrap");
  EXPECT_EQ(ModuleNameForFile("<frozen runpy>"), "runpy");
  EXPECT_EQ(ModuleNameForFile("<string>"), "<string>");
  EXPECT_EQ(ModuleNameForFile(""), "");
}

TEST(ModuleName, AppCodeOutsideSysPathRoots) {
  // Docker: WORKDIR /app, "uvicorn main:app".
  EXPECT_EQ(ModuleNameForFile("/app/main.py"), "main");
  // FastAPI's documented layout: /code/app/main.py, "uvicorn app.main:app".
  EXPECT_EQ(ModuleNameForFile("/code/app/main.py"), "app.main");
  EXPECT_EQ(ModuleNameForFile("/code/app/__init__.py"), "app");
  // At most three components for unknown roots.
  EXPECT_EQ(ModuleNameForFile("/deploy/a/b/c/d/e.py"), "c.d.e");
  // A non-identifier directory cannot be a package.
  EXPECT_EQ(ModuleNameForFile("/home/me/my-service/api/users.py"), "api.users");
  EXPECT_EQ(ModuleNameForFile("/srv/.venv-tools/tool.py"), "tool");
  EXPECT_EQ(ModuleNameForFile("/home/me/svc/src/svc/api.py"), "svc.api");
  EXPECT_EQ(ModuleNameForFile("/main.py"), "main");
}

TEST(ModuleName, RelativePathsAreFromSysPathZero) {
  EXPECT_EQ(ModuleNameForFile("app/routers/items.py"), "app.routers.items");
  EXPECT_EQ(ModuleNameForFile("main.py"), "main");
  EXPECT_EQ(ModuleNameForFile("./main.py"), "main");
  EXPECT_EQ(ModuleNameForFile("../x/y.py"), "x.y");
}

TEST(ModuleName, CythonSources) {
  EXPECT_EQ(ModuleNameForFile("/usr/lib/python3/dist-packages/x/_speedups.pyx"), "x._speedups");
  EXPECT_EQ(ModuleNameForFile("uvloop/loop.pyx"), "uvloop.loop");
}

TEST(IsStdlib, OnlyTheInterpretersOwnLibrary) {
  EXPECT_TRUE(IsStdlibFile("/usr/lib/python3.11/typing.py"));
  EXPECT_TRUE(IsStdlibFile("/root/.pyenv/versions/3.13.0/lib/python3.13/re/_compiler.py"));
  EXPECT_TRUE(IsStdlibFile("<frozen importlib._bootstrap_external>"));
  EXPECT_FALSE(IsStdlibFile("/usr/lib/python3/dist-packages/fastapi/routing.py"));
  EXPECT_FALSE(IsStdlibFile("/venv/lib/python3.12/site-packages/pydantic/main.py"));
  EXPECT_FALSE(IsStdlibFile("/app/main.py"));
  EXPECT_FALSE(IsStdlibFile("<string>"));
  EXPECT_FALSE(IsStdlibFile("/home/me/python3.11/x.py"));  // not under lib/
}

}  // namespace
}  // namespace perfd::python
