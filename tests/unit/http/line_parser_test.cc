// Lines as the kernel delivers them: real request/status lines from curl,
// wrk, ab, browsers, proxies and uvicorn, cut at '?', '#', CR or LF.
#include "daemon/protocols/http/line_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace perfd::http {
namespace {

using namespace std::string_literals;

struct Accepted {
  std::string line;
  std::string method;
  std::string path;
};

class RequestLineAccepted : public ::testing::TestWithParam<Accepted> {};

TEST_P(RequestLineAccepted, Parses) {
  const Accepted& c = GetParam();
  auto r = ParseRequestLine(c.line);
  ASSERT_TRUE(r.has_value()) << c.line;
  EXPECT_EQ(r->method, c.method);
  EXPECT_EQ(r->path, c.path);
}

INSTANTIATE_TEST_SUITE_P(
    Captured, RequestLineAccepted,
    ::testing::Values(
        // curl 7.88
        Accepted{"GET / HTTP/1.1", "GET", "/"},
        Accepted{"GET /users/42 HTTP/1.1", "GET", "/users/42"},
        Accepted{"POST /items HTTP/1.1", "POST", "/items"},
        Accepted{"HEAD /health HTTP/1.1", "HEAD", "/health"},
        Accepted{"PUT /items/7 HTTP/1.1", "PUT", "/items/7"},
        Accepted{"DELETE /items/7 HTTP/1.1", "DELETE", "/items/7"},
        Accepted{"PATCH /users/42/profile HTTP/1.1", "PATCH", "/users/42/profile"},
        Accepted{"TRACE /debug HTTP/1.1", "TRACE", "/debug"},
        // wrk, ab (HTTP/1.0)
        Accepted{"GET /index.html HTTP/1.1", "GET", "/index.html"},
        Accepted{"GET /api/v1/orders HTTP/1.0", "GET", "/api/v1/orders"},
        // browsers: assets, CORS preflight, FastAPI docs
        Accepted{"GET /favicon.ico HTTP/1.1", "GET", "/favicon.ico"},
        Accepted{"OPTIONS /api/v1/users HTTP/1.1", "OPTIONS", "/api/v1/users"},
        Accepted{"GET /openapi.json HTTP/1.1", "GET", "/openapi.json"},
        Accepted{"GET /static/js/app.3f9a1c.js HTTP/1.1", "GET", "/static/js/app.3f9a1c.js"},
        Accepted{"GET /files/My%20Doc.pdf HTTP/1.1", "GET", "/files/My%20Doc.pdf"},
        Accepted{"GET /caf\xc3\xa9 HTTP/1.1", "GET", "/caf\xc3\xa9"},  // raw UTF-8
        Accepted{"GET /a;b=c/d:e@f!$&'()*+, HTTP/1.1", "GET", "/a;b=c/d:e@f!$&'()*+,"},
        // query or fragment cut by the kernel: the version is gone
        Accepted{"GET /search", "GET", "/search"},  // GET /search?q=shoes HTTP/1.1
        Accepted{"GET /", "GET", "/"},              // GET /?utm_source=x HTTP/1.1
        Accepted{"GET /page", "GET", "/page"},      // GET /page#top HTTP/1.1
        Accepted{"POST /token", "POST", "/token"},
        // server-wide OPTIONS
        Accepted{"OPTIONS * HTTP/1.1", "OPTIONS", "*"},
        // absolute-form (forward proxies, some load testers)
        Accepted{"GET http://example.com/users/42 HTTP/1.1", "GET", "/users/42"},
        Accepted{"GET http://10.0.0.5:8000/healthz HTTP/1.1", "GET", "/healthz"},
        Accepted{"GET http://example.com:8000 HTTP/1.1", "GET", "/"},
        Accepted{"GET http://example.com", "GET", "/"},  // http://example.com?x=1
        Accepted{"POST https://api.example.com/v2/items", "POST", "/v2/items"}));

class RequestLineRejected : public ::testing::TestWithParam<std::string> {};

TEST_P(RequestLineRejected, Rejects) {
  EXPECT_FALSE(ParseRequestLine(GetParam()).has_value()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, RequestLineRejected,
    ::testing::Values("", "GET", "GET ", "GET  HTTP/1.1", "get / HTTP/1.1", "Get / HTTP/1.1",
                      "GET/ HTTP/1.1",         // missing space
                      "GET  / HTTP/1.1",       // double space
                      "GET / HTTP/1.1 ",       // trailing space
                      "GET / HTTP/1.1 extra",  // three tokens after the method
                      "GET / http/1.1", "GET / HTTP/2.0", "GET / HTTP/1.2", "GET / HTTP/1",
                      "PRI * HTTP/2.0",  // HTTP/2 connection preface
                      "POSTAL /x HTTP/1.1", "DELETED things",
                      "HEADER: value",  // kernel prefix matches
                      "CONNECTION: keep-alive",
                      "CONNECT example.com:443 HTTP/1.1",  // authority-form: not for an ASGI app
                      "GET users/42 HTTP/1.1",             // relative target
                      "GET ftp://example.com/x HTTP/1.1", "GET http:///x HTTP/1.1",
                      "GET http:// HTTP/1.1", "GET \t/ HTTP/1.1", "GET /a\tb HTTP/1.1",
                      "GET /a\x7f HTTP/1.1"s,
                      "GET /a\0b HTTP/1.1"s,  // NUL inside the target
                      "GET \x80\x81\x82"s,    // binary after a method-like prefix
                      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s,  // TLS ClientHello
                      "HTTP/1.1 200 OK"));  // a status line is no request

TEST(RequestLine, TruncatedLineMayEndInsideTheVersion) {
  // The kernel cut a long line at PERFD_LINE_MAX; the version was cut short.
  EXPECT_FALSE(ParseRequestLine("GET /x HTT").has_value());
  auto r = ParseRequestLine("GET /x HTT", /*truncated=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, "/x");
  r = ParseRequestLine("GET /x ", /*truncated=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, "/x");
  // Still not a version prefix.
  EXPECT_FALSE(ParseRequestLine("GET /x HTTX", true).has_value());
  EXPECT_FALSE(ParseRequestLine("GET /x HTTP/1.1x", true).has_value());
}

TEST(RequestLine, TruncatedLongPathKeepsThePrefix) {
  std::string path = "/reports/" + std::string(200, 'a');
  std::string line = ("GET " + path + " HTTP/1.1").substr(0, 127);
  auto r = ParseRequestLine(line, true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, path.substr(0, 123));
}

TEST(RequestLine, ViewsPointIntoTheInput) {
  std::string line = "DELETE /items/9 HTTP/1.1";
  auto r = ParseRequestLine(line);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path.data(), line.data() + 7);
}

struct Status {
  std::string line;
  int code;
};

class StatusLineAccepted : public ::testing::TestWithParam<Status> {};

TEST_P(StatusLineAccepted, Parses) {
  auto s = ParseStatusLine(GetParam().line);
  ASSERT_TRUE(s.has_value()) << GetParam().line;
  EXPECT_EQ(*s, GetParam().code);
}

INSTANTIATE_TEST_SUITE_P(
    Captured, StatusLineAccepted,
    ::testing::Values(
        Status{"HTTP/1.1 200 OK", 200}, Status{"HTTP/1.1 201 Created", 201},
        Status{"HTTP/1.1 204 No Content", 204}, Status{"HTTP/1.1 307 Temporary Redirect", 307},
        Status{"HTTP/1.1 404 Not Found", 404}, Status{"HTTP/1.1 422 Unprocessable Entity", 422},
        Status{"HTTP/1.1 500 Internal Server Error", 500},
        Status{"HTTP/1.1 503 Service Unavailable", 503}, Status{"HTTP/1.0 200 OK", 200},
        Status{"HTTP/1.1 100 Continue", 100}, Status{"HTTP/1.1 101 Switching Protocols", 101},
        Status{"HTTP/1.1 200 ", 200},  // h11: empty reason after the space
        Status{"HTTP/1.1 200", 200}, Status{"HTTP/1.1 599 Custom", 599},
        Status{"HTTP/1.1 418 I'm a\tteapot", 418},
        Status{"HTTP/1.1 200 D\xc3\xa9j\xc3\xa0 vu", 200},  // obs-text
        Status{"HTTP/1.1 304 Not Modified", 304}));

class StatusLineRejected : public ::testing::TestWithParam<std::string> {};

TEST_P(StatusLineRejected, Rejects) {
  EXPECT_FALSE(ParseStatusLine(GetParam()).has_value()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Garbage, StatusLineRejected,
                         ::testing::Values("", "HTTP", "HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1 20",
                                           "HTTP/1.1 2000 OK", "HTTP/1.1 200OK", "HTTP/1.1  200 OK",
                                           "HTTP/1.1 abc OK", "HTTP/1.1 099 Low",
                                           "HTTP/1.1 600 High", "HTTP/1.1 000", "HTTP/2 200",
                                           "HTTP/2.0 200 OK", "http/1.1 200 OK",
                                           "HTTP/1.1 200 O\x01K", "HTTP/1.1 200 Bad\x7f",
                                           "HTTP/1.1 200 A\0B"s,
                                           "HTTPie makes requests readable",  // body text
                                           "GET / HTTP/1.1"));

}  // namespace
}  // namespace perfd::http
