// Validates the request/status lines the kernel copies out (bpf/http_trace.h).
// The kernel only matched a 4-byte prefix, so a line may be body bytes that
// happen to start like "GET " or "HTTP"; these parsers decide what is real.
#pragma once

#include <optional>
#include <string_view>

namespace perfd::http {

struct RequestLine {
  std::string_view method;  // one of the nine RFC 9110 methods, upper case
  std::string_view path;    // origin-form path, "*", or the path of an absolute-form target
};

// Accepts "METHOD SP target [SP HTTP/1.0|HTTP/1.1]". The version may be
// missing because the kernel cuts lines at '?' and '#'. When `truncated` is
// set (the kernel cut the line at PERFD_LINE_MAX) the line may also end inside
// the target or the version, and the path is then a prefix of the real one.
// Views point into `line`.
std::optional<RequestLine> ParseRequestLine(std::string_view line, bool truncated = false);

// Accepts "HTTP/1.0|HTTP/1.1 SP 3DIGIT [SP reason]" with a status in 100..599.
std::optional<int> ParseStatusLine(std::string_view line);

}  // namespace perfd::http
