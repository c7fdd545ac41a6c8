// A fake /proc tree in a temp dir: just the files ProcReader reads (stat,
// cmdline, environ, exe), written like the kernel writes them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/discovery/proc_reader.h"

namespace perfd::testing {

struct FakeProcess {
  uint32_t pid = 0;
  uint32_t ppid = 1;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string comm;         // default: basename of argv[0], 15 chars like the kernel
  uint64_t start_time = 0;  // default: 1000 + pid
  std::string exe;          // default: argv[0]
};

inline FakeProcess Proc(uint32_t pid, uint32_t ppid, std::vector<std::string> argv,
                        std::map<std::string, std::string> env = {}) {
  FakeProcess p;
  p.pid = pid;
  p.ppid = ppid;
  p.argv = std::move(argv);
  p.env = std::move(env);
  return p;
}

class FakeProcTree {
 public:
  FakeProcTree();
  ~FakeProcTree();
  FakeProcTree(const FakeProcTree&) = delete;
  FakeProcTree& operator=(const FakeProcTree&) = delete;

  const std::string& root() const { return root_; }
  // Creates or replaces /proc/<pid>.
  void Add(FakeProcess p);
  void Remove(uint32_t pid);
  // Writes raw file content, e.g. a truncated stat.
  void WriteFile(const std::string& relative_path, const std::string& content);

 private:
  std::string root_;
};

// A reader over a FakeProcTree whose reads can be made to fail with a chosen
// errno, like the real /proc does when perfd runs out of file descriptors
// (EMFILE) or a process exits under it (ENOENT). Failures stay until cleared.
class FaultyReader : public ProcReader {
 public:
  using ProcReader::ProcReader;
  std::vector<uint32_t> ListPids(int* error = nullptr) const override {
    if (list_error != 0) {
      if (error != nullptr) *error = list_error;
      return {};
    }
    return ProcReader::ListPids(error);
  }
  std::optional<ProcStat> ReadStat(uint32_t pid, int* error = nullptr) const override {
    if (auto it = fail.find(pid); it != fail.end()) return Fail<ProcStat>(it->second, error);
    return ProcReader::ReadStat(pid, error);
  }
  std::optional<ProcessInfo> ReadProcess(uint32_t pid, int* error = nullptr) const override {
    if (auto it = fail.find(pid); it != fail.end()) return Fail<ProcessInfo>(it->second, error);
    return ProcReader::ReadProcess(pid, error);
  }
  std::optional<std::string> ReadCmdline(uint32_t pid, int* error = nullptr) const override {
    if (auto it = fail.find(pid); it != fail.end()) return Fail<std::string>(it->second, error);
    return ProcReader::ReadCmdline(pid, error);
  }

  std::map<uint32_t, int> fail;  // pid -> errno of every read of it
  int list_error = 0;            // errno of ListPids (0: works)

 private:
  template <typename T>
  static std::optional<T> Fail(int errno_value, int* error) {
    if (error != nullptr) *error = errno_value;
    return std::nullopt;
  }
};

}  // namespace perfd::testing
