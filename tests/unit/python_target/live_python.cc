#include "tests/unit/python_target/live_python.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace perfd::python::testing {

std::string PyenvRoot() {
  if (const char* env = std::getenv("PYENV_ROOT"); env && *env) return env;
  if (FILE* p = ::popen("pyenv root 2>/dev/null", "r")) {
    char buf[4096] = {};
    bool ok = std::fgets(buf, sizeof(buf), p) != nullptr;
    ::pclose(p);
    std::string s = ok ? buf : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (!s.empty()) return s;
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.pyenv";
}

std::string PyenvVersion(int minor) {
  std::string best;
  int best_micro = -1;
  DIR* d = ::opendir((PyenvRoot() + "/versions").c_str());
  if (!d) return "";
  while (dirent* e = ::readdir(d)) {
    int major = 0, min = 0, micro = 0, used = 0;
    if (std::sscanf(e->d_name, "%d.%d.%d%n", &major, &min, &micro, &used) == 3 &&
        e->d_name[used] == '\0' && major == 3 && min == minor && micro > best_micro) {
      best = e->d_name;
      best_micro = micro;
    }
  }
  ::closedir(d);
  if (!best.empty() && ::access(PyenvPython(best).c_str(), X_OK) != 0) return "";
  return best;
}

std::string PyenvPython(const std::string& version) {
  return PyenvRoot() + "/versions/" + version + "/bin/python3";
}

Child::Child(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Never outlive a crashed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::string Child::ReadLine(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (buffered_.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd p{out_fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return "";
    char buf[512];
    ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0) return "";
    buffered_.append(buf, static_cast<size_t>(n));
  }
  size_t nl = buffered_.find('\n');
  std::string line = buffered_.substr(0, nl);
  buffered_.erase(0, nl + 1);
  return line;
}

bool Child::WaitExec(const std::string& suffix, int timeout_ms) {
  std::string link = "/proc/" + std::to_string(pid_) + "/exe";
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    char buf[4096];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf));
    std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    if (exe.size() >= suffix.size() &&
        exe.compare(exe.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<std::string> ReportingPython(const std::string& python) {
  static const char* kScript = R"(
import asyncio, ctypes, sys, threading, time
def addr(name):
    return ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, name))
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
async def main():
    print('ready', addr('_PyRuntime'), addr('PyCode_Type'), sys.version_info.micro, flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
)";
  return {python, "-c", kScript};
}

}  // namespace perfd::python::testing
