// A fake /proc tree in a temp dir: just the files ProcReader reads (stat,
// cmdline, environ, exe), written like the kernel writes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

}  // namespace perfd::testing
