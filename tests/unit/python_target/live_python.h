// Test helpers: locate interpreters and run them as children whose address
// space the test can read (process_vm_readv on one's own child needs no
// privilege).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace perfd::python::testing {

// $PYENV_ROOT, else `pyenv root`, else $HOME/.pyenv.
std::string PyenvRoot();
// Newest "3.<minor>.<n>" under <pyenv root>/versions, or "" if none.
std::string PyenvVersion(int minor);
// <pyenv root>/versions/<version>/bin/python3
std::string PyenvPython(const std::string& version);

// A child process killed (SIGKILL) and reaped on destruction.
class Child {
 public:
  // Runs argv with stdout on a pipe.
  explicit Child(const std::vector<std::string>& argv);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // First stdout line, or "" if none arrives within timeout_ms.
  std::string ReadLine(int timeout_ms);
  // Waits until the child has exec'd into a file whose name ends in `suffix`.
  bool WaitExec(const std::string& suffix, int timeout_ms);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
};

// A python that reports, once its threads and event loop are running, the
// addresses of _PyRuntime and PyCode_Type and its micro version as the line
// "ready <runtime> <code_type> <micro>", then sleeps in asyncio.
std::vector<std::string> ReportingPython(const std::string& python);

}  // namespace perfd::python::testing
