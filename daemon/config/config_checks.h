// Value checks shared by the YAML loader and by command-line overrides, kept
// apart from the YAML walk so each rule is testable on plain strings. Each
// returns an empty string when the value is fine, else the error message.
#pragma once

#include <string>

namespace perfd::config_checks {

// "host:port" or "[ipv6]:port"; host is an IPv4/IPv6 literal or a DNS name,
// port 0..65535 (0 lets the kernel pick, which tests use).
std::string CheckHostPort(const std::string& value);

// trace, debug, info, warn, error.
std::string CheckLogLevel(const std::string& value);

// A route template: starts with '/', "{name}" placeholders span one whole
// path segment and are not nested or empty.
std::string CheckRoutePattern(const std::string& value);

// An ECMAScript regex std::regex accepts.
std::string CheckRegex(const std::string& value);

// Empty (socket disabled) or an absolute path that fits sockaddr_un.
std::string CheckUnixSocketPath(const std::string& value);

// Empty (keep root's group) or a plausible group name / numeric gid.
std::string CheckGroupName(const std::string& value);

}  // namespace perfd::config_checks
