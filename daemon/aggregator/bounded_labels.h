// Label values that come from the traffic itself, bounded. perfd keys its
// windows and Prometheus series by service × route × method × status; each
// factor must take a bounded number of values or a hostile client (or a
// buggy one) grows perfd's memory and the scrape without limit. The HTTP
// line parser already accepts only the nine RFC 9110 methods and statuses
// 100..599; these checks hold the bound for every caller, as OpenTelemetry's
// semantic conventions ask: an unknown method is reported as "_OTHER".
#pragma once

#include <string>
#include <string_view>

namespace perfd {

// The value of a label (service, route, method, status) folded because it is
// unknown or because a cap was reached.
inline constexpr const char* kOtherLabel = "_OTHER";

// GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH (case
// sensitive, as in RFC 9110).
bool IsKnownMethod(std::string_view method);
// The method itself when known, else kOtherLabel.
std::string BoundedMethod(std::string_view method);

// Status codes a response can carry on the wire: 100..599.
bool IsValidStatus(int status);
// "200" for a valid status, else kOtherLabel.
std::string BoundedStatus(int status);

}  // namespace perfd
