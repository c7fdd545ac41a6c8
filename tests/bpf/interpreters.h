// The CPython interpreters the BPF tests run real workloads on: the newest
// pyenv release of each supported minor (3.10-3.13) and Debian's python3.11.
// Tests skip (never fail) on a machine without one of them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ostream>
#include <string>

#include "tests/unit/python_target/live_python.h"

namespace perfd {

struct Interpreter {
  const char* label;
  int minor;
  const char* path;  // nullptr: the newest pyenv 3.<minor>.N
};

// gtest prints the parameter in failure lines.
inline void PrintTo(const Interpreter& in, std::ostream* os) { *os << in.label; }

// The interpreter's executable, or "" with *why set when it is not here.
inline std::string FindInterpreter(const Interpreter& in, std::string* why) {
  namespace pt = python::testing;
  std::string python;
  if (in.path) {
    python = in.path;
  } else {
    std::string version = pt::PyenvVersion(in.minor);
    if (version.empty()) {
      *why = "no pyenv CPython 3." + std::to_string(in.minor) + ".N under " + pt::PyenvRoot() +
             "/versions";
      return "";
    }
    python = pt::PyenvPython(version);
  }
  if (access(python.c_str(), X_OK) != 0) {
    *why = python + " is not installed";
    return "";
  }
  return python;
}

inline auto SupportedInterpreters() {
  return ::testing::Values(
      Interpreter{"pyenv-3.10", 10, nullptr}, Interpreter{"pyenv-3.11", 11, nullptr},
      Interpreter{"pyenv-3.12", 12, nullptr}, Interpreter{"pyenv-3.13", 13, nullptr},
      Interpreter{"debian-3.11", 11, "/usr/bin/python3.11"});
}

inline std::string InterpreterTestName(const ::testing::TestParamInfo<Interpreter>& info) {
  std::string name = info.param.label;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
  return name;
}

}  // namespace perfd
