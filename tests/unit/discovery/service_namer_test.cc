#include "daemon/discovery/service_namer.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

using Env = std::map<std::string, std::string>;

TEST(ServiceNamerTest, DerivedFromTheAppSpec) {
  const ServiceNamer namer(std::vector<ServiceRule>{});
  EXPECT_EQ(namer.Name("uvicorn shop.main:app", {}, "shop.main:app"), "shop");
  EXPECT_EQ(namer.Name("", {}, "main:app"), "main");
  EXPECT_EQ(namer.Name("", {}, "app:app"), "app");
  EXPECT_EQ(namer.Name("", {}, "shop.main:create_app()"), "shop");
  EXPECT_EQ(namer.Name("", {}, ""), "unknown");
}

TEST(ServiceNamerTest, PrecedenceRulesThenPerfdServiceThenOtel) {
  const ServiceNamer namer({{"--port 9000", "admin"}, {"shop", "shop-api"}, {"shop", "never"}});
  const Env both = {{"PERFD_SERVICE", "from-perfd"}, {"OTEL_SERVICE_NAME", "from-otel"}};
  // The first matching rule wins even when env vars are set.
  EXPECT_EQ(namer.Name("uvicorn shop.main:app --port 9000", both, "shop.main:app"), "admin");
  EXPECT_EQ(namer.Name("uvicorn shop.main:app", both, "shop.main:app"), "shop-api");
  // No rule matches: PERFD_SERVICE, then OTEL_SERVICE_NAME, then the app.
  EXPECT_EQ(namer.Name("uvicorn billing:app", both, "billing:app"), "from-perfd");
  EXPECT_EQ(namer.Name("uvicorn billing:app", {{"OTEL_SERVICE_NAME", "from-otel"}}, "billing:app"),
            "from-otel");
  EXPECT_EQ(namer.Name("uvicorn billing:app", {{"PERFD_SERVICE", ""}, {"OTEL_SERVICE_NAME", "o"}},
                       "billing:app"),
            "o");
  EXPECT_EQ(namer.Name("uvicorn billing:app", {}, "billing:app"), "billing");
}

TEST(ServiceNamerTest, RulesAreSearchedNotAnchored) {
  const ServiceNamer namer({{"^gunicorn: worker \\[shop", "shop"}, {"port[ =]80\\b", "edge"}});
  EXPECT_EQ(namer.Name("gunicorn: worker [shop.main:app]", {}, ""), "shop");
  EXPECT_EQ(namer.Name("uvicorn a:b --port=80", {}, "a:b"), "edge");
  EXPECT_EQ(namer.Name("uvicorn a:b --port=8080", {}, "a:b"), "a");
}

TEST(ServiceNamerTest, Sanitization) {
  EXPECT_EQ(SanitizeServiceName("my service/v2"), "my_service_v2");
  EXPECT_EQ(SanitizeServiceName("ok.name-1_x"), "ok.name-1_x");
  EXPECT_EQ(SanitizeServiceName("caf\xc3\xa9"), "caf__");
  EXPECT_EQ(SanitizeServiceName(std::string(100, 'a')), std::string(64, 'a'));
  const ServiceNamer namer(std::vector<ServiceRule>{{"x", "bad name{}"}});
  EXPECT_EQ(namer.Name("x", {}, ""), "bad_name__");
  EXPECT_EQ(ServiceNamer(std::vector<ServiceRule>{}).Name("", {{"PERFD_SERVICE", "a\"b\nc"}}, ""),
            "a_b_c");
}

// Names from the traced processes' environment are theirs to choose: each
// is bounded (64 bytes of [A-Za-z0-9_.-]), white space around it dropped, and
// a value with no letter or digit left names nothing (the next source wins).
TEST(ServiceNamerTest, HostileNamesFromTheEnvironment) {
  const ServiceNamer namer(std::vector<ServiceRule>{});
  auto from_env = [&](const std::string& value) {
    return namer.Name("uvicorn billing:app", {{"PERFD_SERVICE", value}}, "billing:app");
  };
  EXPECT_EQ(from_env("  shop\n"), "shop");
  EXPECT_EQ(from_env("\x1b[31m\x1b[0m"), "__31m__0m");
  EXPECT_EQ(from_env(std::string(1 << 20, 'a')), std::string(64, 'a'));
  EXPECT_EQ(from_env(std::string(1 << 20, ' ') + "late"), "billing");  // only the head is read
  EXPECT_EQ(from_env("\xe2\x80\xae\xe2\x80\xae"), "billing");          // bidi overrides only
  EXPECT_EQ(from_env("..."), "billing");
  EXPECT_EQ(from_env("\t\n "), "billing");
  EXPECT_EQ(namer.Name("", {{"PERFD_SERVICE", "___"}, {"OTEL_SERVICE_NAME", "otel"}}, ""), "otel");
  EXPECT_EQ(namer.Name("", {}, "___:app"), "unknown");
  EXPECT_EQ(SanitizeServiceName(std::string(64, ' ') + "x" + std::string(100, ' ')), "x");
}

TEST(ServiceNamerTest, RulesSeeOnlyTheFirst4KiBOfTheCommandLine) {
  const ServiceNamer namer({{"MARKER", "found"}, {"tail$", "at-end"}});
  const std::string pad(kMaxRuleInputBytes - 6, 'x');
  // "MARKER" ends exactly at the bound: still seen.
  EXPECT_EQ(namer.Name(pad + "MARKER", {}, "a:b"), "found");
  EXPECT_EQ(namer.Name(pad + "MARKER" + std::string(1 << 20, 'y'), {}, "a:b"), "found");
  // One byte later it straddles the bound: not seen, as anything past it.
  EXPECT_EQ(namer.Name(pad + "xMARKER", {}, "a:b"), "a");
  EXPECT_EQ(namer.Name(std::string(1 << 20, 'x') + " MARKER", {}, "a:b"), "a");
  // '$' matches the real end of a short command line, never the cut.
  EXPECT_EQ(namer.Name("uvicorn tail", {}, "a:b"), "at-end");
  EXPECT_EQ(namer.Name(std::string(kMaxRuleInputBytes - 4, 'x') + "tail" + "more", {}, "a:b"), "a");
}

TEST(ServiceNamerTest, BadRegexNamesTheRule) {
  try {
    ServiceNamer namer({{"ok", "a"}, {"(", "b"}});
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "services[1].match");
  }
}

TEST(ServiceNamerTest, JoinArgv) {
  EXPECT_EQ(JoinArgv({"uvicorn", "a:b", "--port", "80"}), "uvicorn a:b --port 80");
  EXPECT_EQ(JoinArgv({"", "x"}), " x");
  EXPECT_EQ(JoinArgv({}), "");
}

}  // namespace
}  // namespace perfd

namespace perfd {
namespace {

TEST(ServiceNamerTest, PodLabelsAfterRulesBeforeEnvironment) {
  ServiceNamer namer(std::vector<ServiceRule>{{"--port 9000", "admin"}});
  namer.SetPodLabelKeys({"app.kubernetes.io/name", "app"});
  const Env env = {{"PERFD_SERVICE", "from-perfd"}, {"OTEL_SERVICE_NAME", "from-otel"}};
  const std::map<std::string, std::string> both = {{"app.kubernetes.io/name", "shop"},
                                                   {"app", "legacy"}};
  // A rule still wins.
  EXPECT_EQ(namer.Name("uvicorn a:app --port 9000", env, "a:app", both), "admin");
  // Keys in their configured order, before the environment.
  EXPECT_EQ(namer.Name("uvicorn a:app", env, "a:app", both), "shop");
  EXPECT_EQ(namer.Name("uvicorn a:app", env, "a:app", {{"app", "legacy"}}), "legacy");
  // An empty or unusable value counts as unset: the next source is tried.
  EXPECT_EQ(namer.Name("uvicorn a:app", env, "a:app", {{"app.kubernetes.io/name", " ?? "}}),
            "from-perfd");
  EXPECT_EQ(namer.Name("uvicorn a:app", {}, "a:app", {{"app.kubernetes.io/name", ""}}), "a");
  // Label values are untrusted like the rest: sanitized and bounded.
  EXPECT_EQ(namer.Name("uvicorn a:app", {}, "a:app",
                       {{"app.kubernetes.io/name", "shop api\x1b[31m" + std::string(100, 'x')}}),
            ("shop_api__31m" + std::string(100, 'x')).substr(0, kMaxServiceNameLength));
  // A label key not configured is not used.
  EXPECT_EQ(namer.Name("uvicorn a:app", {}, "a:app", {{"team", "t"}}), "a");
}

TEST(ServiceNamerTest, NoPodLabelKeysMeansNoPodNaming) {
  const ServiceNamer namer(std::vector<ServiceRule>{});
  EXPECT_EQ(namer.Name("uvicorn a:app", {}, "a:app", {{"app.kubernetes.io/name", "shop"}}), "a");
}

}  // namespace
}  // namespace perfd
