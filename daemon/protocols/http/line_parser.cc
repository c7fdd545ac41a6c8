#include "daemon/protocols/http/line_parser.h"

#include <array>

namespace perfd::http {
namespace {

constexpr std::array<std::string_view, 9> kMethods = {
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"};

std::optional<std::string_view> MatchMethod(std::string_view m) {
  for (std::string_view known : kMethods) {
    if (m == known) return known;
  }
  return std::nullopt;
}

// Bytes allowed in a request target. Non-ASCII is allowed because the parsers
// uvicorn uses (httptools/llhttp, h11) let it through, so the worker answers
// such requests and we must match their responses.
bool IsTargetByte(unsigned char c) { return c > 0x20 && c != 0x7f; }

bool IsVersion(std::string_view v) { return v == "HTTP/1.1" || v == "HTTP/1.0"; }

// "HTTP/1.1" cut somewhere, possibly right after the space.
bool IsVersionPrefix(std::string_view v) {
  if (v.size() > 8) return false;
  return std::string_view("HTTP/1.1").substr(0, v.size()) == v ||
         std::string_view("HTTP/1.0").substr(0, v.size()) == v;
}

// Reduces an absolute-form target ("http://host:8000/a/b") to its path.
std::optional<std::string_view> AbsoluteFormPath(std::string_view target) {
  std::string_view rest;
  if (target.substr(0, 7) == "http://") {
    rest = target.substr(7);
  } else if (target.substr(0, 8) == "https://") {
    rest = target.substr(8);
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (host.empty()) return std::nullopt;
  // No path (or the kernel cut "?query" right after the host): RFC 9112 says
  // the path is "/".
  if (slash == std::string_view::npos) return std::string_view("/");
  return rest.substr(slash);
}

}  // namespace

std::optional<RequestLine> ParseRequestLine(std::string_view line, bool truncated) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  auto method = MatchMethod(line.substr(0, sp));
  if (!method) return std::nullopt;

  std::string_view rest = line.substr(sp + 1);
  size_t sp2 = rest.find(' ');
  std::string_view target = rest.substr(0, sp2);
  if (sp2 != std::string_view::npos) {
    std::string_view version = rest.substr(sp2 + 1);
    bool ok = IsVersion(version) || (truncated && IsVersionPrefix(version));
    if (!ok) return std::nullopt;
  }
  if (target.empty()) return std::nullopt;
  for (char c : target) {
    if (!IsTargetByte(static_cast<unsigned char>(c))) return std::nullopt;
  }

  std::string_view path;
  if (target[0] == '/') {
    path = target;
  } else if (target == "*") {
    path = target;
  } else if (auto abs = AbsoluteFormPath(target)) {
    path = *abs;
  } else {
    return std::nullopt;  // authority-form, relative paths, junk
  }
  return RequestLine{*method, path};
}

std::optional<int> ParseStatusLine(std::string_view line) {
  if (line.size() < 12 || !IsVersion(line.substr(0, 8)) || line[8] != ' ') return std::nullopt;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    char c = line[i];
    if (c < '0' || c > '9') return std::nullopt;
    status = status * 10 + (c - '0');
  }
  if (status < 100 || status > 599) return std::nullopt;
  if (line.size() == 12) return status;
  if (line[12] != ' ') return std::nullopt;
  // Reason phrase: HTAB, SP, VCHAR, obs-text (RFC 9112 section 4).
  for (char ch : line.substr(13)) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return std::nullopt;
  }
  return status;
}

}  // namespace perfd::http
