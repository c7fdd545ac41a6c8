// The http_route label of a profile route key. Profiles key routes as
// "METHOD /template" (like the rows of perfctl top); Prometheus series carry
// the bare template (OpenTelemetry's http.route), the method being another
// label or none. Pseudo-routes ("(no request)", "(unattributed)") stay as
// they are.
#pragma once

#include <string>

namespace perfd {

inline std::string HttpRouteLabel(const std::string& route_key) {
  const size_t space = route_key.find(' ');
  if (route_key.empty() || route_key[0] == '(' || space == std::string::npos) return route_key;
  return route_key.substr(space + 1);
}

}  // namespace perfd
