#include "daemon/config/config_checks.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cctype>
#include <regex>

#include "daemon/routes/route_template.h"

namespace perfd::config_checks {
namespace {

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Host name: dot-separated labels of [A-Za-z0-9_-] (RFC 1123 plus the "_" that
// container DNS names use), no label starts
// or ends with '-'.
bool IsDnsName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  bool all_numeric = true;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string::npos) dot = host.size();
    const std::string label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    if (!AllDigits(label)) all_numeric = false;
    start = dot + 1;
  }
  // "300.1.1.1" is a broken IPv4 address, not a host name.
  return !all_numeric;
}

// Digits from `at` on: how many.
size_t DigitRun(const std::string& s, size_t at) {
  size_t n = 0;
  while (at + n < s.size() && std::isdigit(static_cast<unsigned char>(s[at + n]))) ++n;
  return n;
}

// A back-reference ("\12") or repeat count ("{2}", "{2,5}") of more than
// 9 digits. libstdc++ (GCC 12) reads these into a long without an overflow
// check (undefined behaviour; 2^64 + 1 becomes 1), so such a regex could
// compile into something else than what was written. No real count or
// group number has 10 digits.
bool HasHugeCount(const std::string& re) {
  constexpr size_t kMaxDigits = 9;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\') {
      if (DigitRun(re, i + 1) > kMaxDigits) return true;
      ++i;  // the escaped character is never special
    } else if (re[i] == '{') {
      const size_t lo = DigitRun(re, i + 1);
      if (lo > kMaxDigits) return true;
      const size_t comma = i + 1 + lo;
      if (comma < re.size() && re[comma] == ',' && DigitRun(re, comma + 1) > kMaxDigits) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string CheckHostPort(const std::string& value) {
  const std::string expect = "expected host:port (e.g. 127.0.0.1:9464 or [::1]:9464), got '";
  std::string host;
  std::string port;
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      return expect + value + "'";
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
    in6_addr addr6;
    if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      return "invalid IPv6 address '" + host + "'";
    }
  } else {
    const size_t colon = value.rfind(':');
    if (colon == std::string::npos) return expect + value + "'";
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.empty()) return "missing host in '" + value + "' (use 0.0.0.0 for all interfaces)";
    if (host.find(':') != std::string::npos) {
      return "IPv6 addresses need brackets, e.g. [::1]:9464, got '" + value + "'";
    }
    in_addr addr4;
    if (inet_pton(AF_INET, host.c_str(), &addr4) != 1 && !IsDnsName(host)) {
      return "invalid host '" + host + "'";
    }
  }
  if (!AllDigits(port) || port.size() > 5 || std::stoul(port) > 65535) {
    return "invalid port '" + port + "' (0..65535)";
  }
  return "";
}

std::string CheckLogLevel(const std::string& value) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    if (value == level) return "";
  }
  return "invalid log level '" + value + "' (trace, debug, info, warn, error)";
}

std::string CheckRoutePattern(const std::string& value) {
  if (value.empty() || value.front() != '/') {
    return "route pattern must start with '/', got '" + value + "'";
  }
  bool in_placeholder = false;
  size_t open = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '{') {
      if (in_placeholder) return "nested '{' in route pattern '" + value + "'";
      in_placeholder = true;
      open = i;
    } else if (c == '}') {
      if (!in_placeholder) return "unmatched '}' in route pattern '" + value + "'";
      if (i == open + 1) return "empty placeholder '{}' in route pattern '" + value + "'";
      in_placeholder = false;
    } else if (c == '/' && in_placeholder) {
      return "placeholder spans a '/' in route pattern '" + value + "'";
    }
  }
  if (in_placeholder) return "unclosed '{' in route pattern '" + value + "'";
  // Everything else the route table's parser refuses (convertors, parameter
  // names, size caps), so a rule is never silently dropped at run time.
  std::string error;
  if (!RouteTemplate::Parse(value, &error)) return error;
  return "";
}

std::string CheckRegex(const std::string& value) {
  if (value.empty()) return "empty regex";
  if (HasHugeCount(value)) {
    return "invalid regex '" + value + "': a back-reference or repeat count over 9 digits";
  }
  try {
    std::regex re(value, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return "invalid regex '" + value + "': " + e.what();
  }
  return "";
}

std::string CheckUnixSocketPath(const std::string& value) {
  if (value.empty()) return "";
  if (value.front() != '/') return "socket path must be absolute, got '" + value + "'";
  if (value.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "socket path longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
           " bytes";
  }
  return "";
}

std::string CheckGroupName(const std::string& value) {
  if (value.empty()) return "";
  if (value.size() > 32 || value.front() == '-') return "invalid group name '" + value + "'";
  for (char c : value) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return "invalid group name '" + value + "'";
    }
  }
  return "";
}

}  // namespace perfd::config_checks
