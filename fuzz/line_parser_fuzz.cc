// The request/status line parsers over any bytes (the kernel copies lines out
// of whatever a client sent). Besides memory safety, checks what callers
// rely on: an accepted request line has a known method and a clean
// origin-form path that points into the line, a truncated line is accepted
// whenever the whole one is, and rebuilding "METHOD path HTTP/1.1" from a
// result parses back to the same result. A status is always in 100..599.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/protocols/http/line_parser.h"
#include "fuzz/check.h"

using perfd::http::ParseRequestLine;
using perfd::http::ParseStatusLine;
using perfd::http::RequestLine;

namespace {

bool KnownMethod(std::string_view m) {
  for (std::string_view k :
       {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"}) {
    if (m == k) return true;
  }
  return false;
}

void CheckRequestLine(std::string_view line, const RequestLine& r) {
  FUZZ_CHECK(KnownMethod(r.method));
  FUZZ_CHECK(!r.path.empty());
  FUZZ_CHECK(r.path.front() == '/' || r.path == "*");
  // The path is a view into the line (or the static "/" of an absolute-form
  // target without a path): callers copy it before the line goes away.
  const bool inside =
      r.path.data() >= line.data() && r.path.data() + r.path.size() <= line.data() + line.size();
  FUZZ_CHECK(inside || r.path == "/");
  for (char ch : r.path) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c > 0x20 && c != 0x7f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  const auto whole = ParseRequestLine(line, /*truncated=*/false);
  const auto cut = ParseRequestLine(line, /*truncated=*/true);
  if (whole) {
    CheckRequestLine(line, *whole);
    FUZZ_CHECK(cut && cut->method == whole->method && cut->path == whole->path);
    // Round trip through the canonical form.
    const std::string again =
        std::string(whole->method) + " " + std::string(whole->path) + " HTTP/1.1";
    const auto re = ParseRequestLine(again);
    FUZZ_CHECK(re && re->method == whole->method && re->path == whole->path);
  }
  if (cut) CheckRequestLine(line, *cut);

  if (const auto status = ParseStatusLine(line)) {
    FUZZ_CHECK(*status >= 100 && *status <= 599);
    FUZZ_CHECK(line.substr(0, 7) == "HTTP/1.");
    const std::string again = "HTTP/1.1 " + std::to_string(*status);
    FUZZ_CHECK(ParseStatusLine(again) == status);
  }
  return 0;
}
