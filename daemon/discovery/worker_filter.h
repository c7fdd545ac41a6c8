// discovery.include: which of the workers discovery finds perfd traces. One
// regex searched in the worker's command line (the same joined argv, and the
// same bounded prefix, that services[].match sees), so an operator can split
// one host's workers between several perfd instances or leave some alone.
#pragma once

#include <optional>
#include <regex>
#include <string>

namespace perfd {

class WorkerFilter {
 public:
  // "" includes every worker. A bad regex is a ConfigError naming
  // "discovery.include" (ParseConfig already rejects those).
  explicit WorkerFilter(const std::string& include);

  // cmdline: argv joined by single spaces (for a spawn child, its
  // supervisor's); only its first kMaxRuleInputBytes are searched.
  bool Includes(const std::string& cmdline) const;

 private:
  std::optional<std::regex> include_;
};

}  // namespace perfd
