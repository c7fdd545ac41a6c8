#include "daemon/discovery/service_namer.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string_view>

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
                               const std::string& app_spec,
                               const std::map<std::string, std::string>& pod_labels) const {
  // Search a prefix in place (no copy). When it is cut, '$' must not match
  // at the cut: the command line does not end there.
  const bool cut = cmdline.size() > kMaxRuleInputBytes;
  const auto end =
      cmdline.begin() + static_cast<std::ptrdiff_t>(cut ? kMaxRuleInputBytes : cmdline.size());
  const auto flags =
      cut ? std::regex_constants::match_not_eol : std::regex_constants::match_default;
  for (const auto& rule : rules_) {
    if (std::regex_search(cmdline.begin(), end, rule.re, flags)) {
      std::string name = SanitizeServiceName(rule.name);
      if (!name.empty()) return name;
    }
  }
  // Pod labels come before the environment: in a cluster they are the
  // deployment's own name for the workload, set where it is deployed.
  for (const auto& key : pod_label_keys_) {
    const auto it = pod_labels.find(key);
    if (it == pod_labels.end()) continue;
    std::string name = SanitizeServiceName(it->second);
    if (!name.empty()) return name;
  }
  for (const char* var : {"PERFD_SERVICE", "OTEL_SERVICE_NAME"}) {
    const auto it = env.find(var);
    // An empty variable counts as unset: "PERFD_SERVICE=" is how people
    // clear an inherited value. So does one with nothing usable in it.
    if (it == env.end()) continue;
    std::string name = SanitizeServiceName(it->second);
    if (!name.empty()) return name;
  }
  const std::string derived = SanitizeServiceName(ServiceFromAppSpec(app_spec));
  return derived.empty() ? kUnknownService : derived;
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
  // Only the first bytes are looked at: a value can be as long as the
  // traced process's environment (megabytes).
  const std::string_view head(name.data(), std::min(name.size(), 4 * kMaxServiceNameLength));
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t begin = 0, end = head.size();
  while (begin < end && is_space(head[begin])) ++begin;
  while (end > begin && is_space(head[end - 1])) --end;
  std::string out(head.substr(begin, std::min(end - begin, kMaxServiceNameLength)));
  bool any_alnum = false;
  for (char& c : out) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      any_alnum = true;
    } else if (c != '_' && c != '.' && c != '-') {
      c = '_';
    }
  }
  // "____" or "..." names nothing: the caller tries its next source.
  return any_alnum ? out : std::string();
}

}  // namespace perfd
