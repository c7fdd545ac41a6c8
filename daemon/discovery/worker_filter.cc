#include "daemon/discovery/worker_filter.h"

#include <cstddef>

#include "daemon/config/config.h"
#include "daemon/discovery/service_namer.h"

namespace perfd {

WorkerFilter::WorkerFilter(const std::string& include) {
  if (include.empty()) return;
  try {
    include_.emplace(include, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw ConfigError("discovery.include", std::string("invalid regex: ") + e.what());
  }
}

bool WorkerFilter::Includes(const std::string& cmdline) const {
  if (!include_) return true;
  // As ServiceNamer: the command line is the traced process's choice, so the
  // regex sees a bounded prefix, and '$' does not match at the cut.
  const bool cut = cmdline.size() > kMaxRuleInputBytes;
  const auto end =
      cmdline.begin() + static_cast<std::ptrdiff_t>(cut ? kMaxRuleInputBytes : cmdline.size());
  const auto flags =
      cut ? std::regex_constants::match_not_eol : std::regex_constants::match_default;
  return std::regex_search(cmdline.begin(), end, *include_, flags);
}

}  // namespace perfd
