#include "daemon/python/categories.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace perfd::python {
namespace {

const std::string kSite = "/usr/lib/python3/dist-packages/";
const std::string kStd = "/usr/lib/python3.11/";

Symbol Frame(const std::string& module, const std::string& qualname, std::string filename = "") {
  Symbol s;
  s.module = module;
  s.qualname = qualname;
  // Library-looking path unless told otherwise: third-party frames are not
  // stdlib, so unmatched ones decide "app".
  s.filename = filename.empty() ? kSite + module + ".py" : filename;
  s.ok = true;
  return s;
}

Symbol App(const std::string& module, const std::string& qualname) {
  return Frame(module, qualname, "/app/" + module + ".py");
}

Symbol Std(const std::string& module, const std::string& qualname) {
  return Frame(module, qualname, kStd + module + ".py");
}

Category Classify(const Classifier& c, const std::vector<Symbol>& leaf_first) {
  std::vector<const Symbol*> ptrs;
  for (const auto& s : leaf_first) ptrs.push_back(&s);
  return c.Classify(ptrs);
}

// A uvicorn/FastAPI request stack below whatever the test puts on top.
std::vector<Symbol> Under(std::vector<Symbol> top) {
  for (Symbol s : {
           Frame("fastapi.routing", "run_endpoint_function"),
           Frame("fastapi.routing", "get_request_handler.<locals>.app"),
           Frame("starlette.routing", "Route.handle"),
           Frame("starlette.middleware.exceptions", "ExceptionMiddleware.__call__"),
           Frame("uvicorn.protocols.http.httptools_impl", "RequestResponseCycle.run_asgi"),
       }) {
    top.push_back(s);
  }
  return top;
}

TEST(Categories, Names) {
  const char* names[] = {"auth", "validation", "serialization", "db", "framework", "app"};
  for (int i = 0; i < kNumCategories; ++i) {
    Category c;
    ASSERT_TRUE(ParseCategory(names[i], &c));
    EXPECT_EQ(static_cast<int>(c), i);
    EXPECT_EQ(CategoryName(c), names[i]);
  }
  Category c;
  EXPECT_FALSE(ParseCategory("Auth", &c));
  EXPECT_FALSE(ParseCategory("", &c));
}

TEST(Glob, FnmatchSemantics) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "a.b.c"));  // '*' crosses dots
  EXPECT_TRUE(GlobMatch("jwt.*", "jwt.api_jwt"));
  EXPECT_FALSE(GlobMatch("jwt.*", "jwt"));  // (rules add the package itself)
  EXPECT_FALSE(GlobMatch("jwt.*", "jwtx.a"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("*get_current_user*", "deps.get_current_user_or_none"));
  EXPECT_TRUE(GlobMatch("psycopg[23]", "psycopg2"));
  EXPECT_FALSE(GlobMatch("psycopg[23]", "psycopg4"));
  EXPECT_TRUE(GlobMatch("x[a-c]y", "xby"));
  EXPECT_TRUE(GlobMatch("x[!a-c]y", "xdy"));
  EXPECT_FALSE(GlobMatch("x[!a-c]y", "xay"));
  EXPECT_TRUE(GlobMatch("[]]", "]"));
  EXPECT_TRUE(GlobMatch("a[b", "a[b"));             // unterminated class is literal
  EXPECT_TRUE(GlobMatch("*a*b*c", "xxaxxbxxbxc"));  // needs backtracking
  EXPECT_FALSE(GlobMatch("*a*b*c", "xxaxxbxxbx"));
  EXPECT_FALSE(GlobMatch("Jwt.*", "jwt.x"));  // case-sensitive, like module names
}

TEST(Categories, EveryDefaultLibrary) {
  const Classifier c;
  struct Case {
    std::string module, qualname;
    Category want;
  };
  const Case cases[] = {
      {"jwt.api_jwt", "PyJWT.decode", Category::kAuth},
      {"jwt", "decode", Category::kAuth},  // package __init__
      {"jose.jwt", "decode", Category::kAuth},
      {"authlib.jose.rfc7519.jwt", "JsonWebToken.decode", Category::kAuth},
      {"passlib.context", "CryptContext.verify", Category::kAuth},
      {"bcrypt", "checkpw", Category::kAuth},
      {"argon2._password_hasher", "PasswordHasher.verify", Category::kAuth},
      {"fastapi.security.oauth2", "OAuth2PasswordBearer.__call__", Category::kAuth},
      {"pydantic.main", "BaseModel.__init__", Category::kValidation},
      {"pydantic", "validate_model", Category::kValidation},
      {"fastapi.dependencies.utils", "request_params_to_args", Category::kValidation},
      {"fastapi.dependencies.utils", "request_body_to_args", Category::kValidation},
      {"fastapi.routing", "serialize_response", Category::kValidation},
      {"fastapi._compat", "_model_dump", Category::kValidation},
      {"json.encoder", "JSONEncoder.iterencode", Category::kSerialization},
      {"json", "dumps", Category::kSerialization},
      {"orjson", "dumps", Category::kSerialization},
      {"ujson", "dumps", Category::kSerialization},
      {"fastapi.encoders", "jsonable_encoder", Category::kSerialization},
      {"starlette.responses", "JSONResponse.render", Category::kSerialization},
      {"fastapi.responses", "ORJSONResponse.render", Category::kSerialization},
      {"sqlalchemy.orm.session", "Session.execute", Category::kDb},
      {"asyncpg.connection", "Connection.fetch", Category::kDb},
      {"psycopg.cursor", "Cursor.execute", Category::kDb},
      {"psycopg2.extras", "execute_values", Category::kDb},
      {"databases.core", "Database.fetch_all", Category::kDb},
      {"redis.client", "Redis.get", Category::kDb},
      {"aioredis.client", "Redis.get", Category::kDb},
      {"pymongo.collection", "Collection.find", Category::kDb},
      {"motor.core", "AgnosticCollection.find", Category::kDb},
      {"starlette.routing", "Route.handle", Category::kFramework},
      {"starlette.responses", "Response.__call__", Category::kFramework},
      {"fastapi.routing", "run_endpoint_function", Category::kFramework},
      {"fastapi.dependencies.utils", "solve_dependencies", Category::kFramework},
      {"uvicorn.protocols.http.h11_impl", "H11Protocol.data_received", Category::kFramework},
      {"anyio._backends._asyncio", "run_sync_in_worker_thread", Category::kFramework},
      {"asyncio.base_events", "BaseEventLoop._run_once", Category::kFramework},
      {"uvloop", "install", Category::kFramework},
      {"h11._connection", "Connection.next_event", Category::kFramework},
      {"httptools.parser", "HttpRequestParser.feed_data", Category::kFramework},
      {"concurrent.futures.thread", "_WorkItem.run", Category::kFramework},
      {"threading", "Thread._bootstrap_inner", Category::kFramework},
      {"contextlib", "_AsyncGeneratorContextManager.__aenter__", Category::kFramework},
      {"numpy.core", "dot", Category::kApp},                  // unknown third party
      {"jsonschema.validators", "validate", Category::kApp},  // not "json.*"
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.module + ":" + k.qualname);
    EXPECT_EQ(Classify(c, {Frame(k.module, k.qualname)}), k.want);
  }
}

TEST(Categories, AuthByFunctionNameInAnyModule) {
  const Classifier c;
  EXPECT_EQ(Classify(c, Under({App("deps", "get_current_user")})), Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("security", "verify_token")})), Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("users", "UserService.verify_password")})), Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("users", "hash_password")})), Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("backends", "TokenBackend.authenticate")})), Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("users", "check_password")})), Category::kAuth);
}

TEST(Categories, LeafMostDecides) {
  const Classifier c;
  // pydantic inside a serialization call inside an endpoint: pydantic wins.
  EXPECT_EQ(Classify(c, Under({Frame("pydantic.json", "pydantic_encoder"),
                               Frame("json.encoder", "JSONEncoder.iterencode"),
                               App("main", "list_items")})),
            Category::kValidation);
  // An auth dependency run by solve_dependencies: auth, not framework.
  EXPECT_EQ(Classify(c, {Frame("jwt.api_jws", "PyJWS._verify_signature"), App("deps", "current"),
                         Frame("fastapi.dependencies.utils", "solve_dependencies"),
                         Frame("fastapi.routing", "get_request_handler.<locals>.app")}),
            Category::kAuth);
  // The database driver under the app's repository code.
  EXPECT_EQ(Classify(c, Under({Frame("asyncpg.protocol", "Protocol.bind_execute"),
                               Frame("sqlalchemy.engine.base", "Connection.execute"),
                               App("repo", "ItemRepo.list")})),
            Category::kDb);
}

TEST(Categories, AppCodeIsNotSwallowedByTheFramework) {
  const Classifier c;
  EXPECT_EQ(Classify(c, Under({App("main", "compute_report")})), Category::kApp);
  // Third-party code the defaults do not know is the app's choice.
  EXPECT_EQ(Classify(c, Under({Frame("numpy.linalg", "inv"), App("main", "h")})), Category::kApp);
}

TEST(Categories, StdlibAndUnresolvedFramesAreTransparent) {
  const Classifier c;
  // typing/copy under pydantic: validation; re under the app: app.
  EXPECT_EQ(Classify(c, Under({Std("typing", "_type_check"), Std("copy", "deepcopy"),
                               Frame("pydantic.fields", "ModelField.validate")})),
            Category::kValidation);
  EXPECT_EQ(Classify(c, Under({Std("re", "_compile"), App("main", "parse")})), Category::kApp);
  Symbol unknown;  // ok == false
  EXPECT_EQ(Classify(c, Under({unknown, Frame("orjson", "dumps")})), Category::kSerialization);
  // Only stdlib/framework below: the loop was idle or dispatching.
  EXPECT_EQ(Classify(c, {Std("selectors", "EpollSelector.select"),
                         Frame("asyncio.base_events", "BaseEventLoop._run_once",
                               kStd + "asyncio/base_events.py")}),
            Category::kFramework);
  EXPECT_EQ(Classify(c, {}), Category::kApp);
  std::vector<const Symbol*> with_null{nullptr};
  EXPECT_EQ(c.Classify(with_null), Category::kApp);
}

TEST(Categories, UserRulesComeFirstForTheSameFrame) {
  const Classifier c({
      {"myauth.*", "*", Category::kAuth},
      {"starlette.middleware.*", "", Category::kAuth},  // overrides framework
      {"", "*render_template*", Category::kSerialization},
      {"pydantic.*", "", Category::kApp},  // user says pydantic time is theirs
  });
  EXPECT_EQ(Classify(c, Under({App("myauth.tokens", "issue")})), Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("myauth", "issue")})), Category::kAuth);
  EXPECT_EQ(Classify(c, {Frame("starlette.middleware.authentication", "X.__call__")}),
            Category::kAuth);
  EXPECT_EQ(Classify(c, Under({App("views", "render_template_page")})), Category::kSerialization);
  EXPECT_EQ(Classify(c, Under({Frame("pydantic.main", "BaseModel.__init__")})), Category::kApp);
  // But leaf-most still wins over a user rule on an outer frame.
  EXPECT_EQ(Classify(c, {Frame("json.encoder", "JSONEncoder.encode"), App("myauth", "issue")}),
            Category::kSerialization);
}

TEST(Categories, DefaultTableIsNonTrivial) {
  // Every category but app has at least one default rule.
  bool seen[kNumCategories] = {};
  for (const auto& r : DefaultCategoryRules()) seen[static_cast<int>(r.category)] = true;
  for (int i = 0; i < kNumCategories - 1; ++i) EXPECT_TRUE(seen[i]) << i;
  EXPECT_FALSE(seen[static_cast<int>(Category::kApp)]);
}

}  // namespace
}  // namespace perfd::python
