#include "daemon/discovery/service_namer.h"

#include <cctype>
#include <cstddef>

namespace perfd {

ServiceNamer::ServiceNamer(const std::vector<ServiceRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    try {
      rules_.push_back({std::regex(rules[i].match, std::regex::ECMAScript), rules[i].name});
    } catch (const std::regex_error& e) {
      throw ConfigError("services[" + std::to_string(i) + "].match",
                        std::string("invalid regex: ") + e.what());
    }
  }
}

std::string ServiceNamer::Name(const std::string& cmdline,
                               const std::map<std::string, std::string>& env,
                               const std::string& app_spec) const {
  // Search a prefix in place (no copy). When it is cut, '$' must not match
  // at the cut: the command line does not end there.
  const bool cut = cmdline.size() > kMaxRuleInputBytes;
  const auto end =
      cmdline.begin() + static_cast<std::ptrdiff_t>(cut ? kMaxRuleInputBytes : cmdline.size());
  const auto flags =
      cut ? std::regex_constants::match_not_eol : std::regex_constants::match_default;
  for (const auto& rule : rules_) {
    if (std::regex_search(cmdline.begin(), end, rule.re, flags)) {
      return SanitizeServiceName(rule.name);
    }
  }
  for (const char* var : {"PERFD_SERVICE", "OTEL_SERVICE_NAME"}) {
    const auto it = env.find(var);
    // An empty variable counts as unset: "PERFD_SERVICE=" is how people
    // clear an inherited value.
    if (it != env.end() && !it->second.empty()) return SanitizeServiceName(it->second);
  }
  const std::string derived = ServiceFromAppSpec(app_spec);
  return derived.empty() ? kUnknownService : SanitizeServiceName(derived);
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) out.push_back(' ');
    out += argv[i];
  }
  return out;
}

std::string ServiceFromAppSpec(const std::string& app_spec) {
  const std::string module = app_spec.substr(0, app_spec.find(':'));
  return module.substr(0, module.find('.'));
}

std::string SanitizeServiceName(const std::string& name) {
  std::string out = name.substr(0, kMaxServiceNameLength);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '_';
  }
  return out;
}

}  // namespace perfd
