#include "daemon/pipeline/worker_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace perfd {

WorkerNetns::WorkerNetns(uint32_t pid, const std::string& proc_root) {
  self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self_ < 0) {
    error_ = std::string("cannot open /proc/thread-self/ns/net: ") + std::strerror(errno);
    return;
  }
  const std::string path = proc_root + "/" + std::to_string(pid) + "/ns/net";
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    error_ = "cannot open " + path + ": " + std::strerror(errno);
    return;
  }
  entered_ = setns(target, CLONE_NEWNET) == 0;
  if (!entered_) error_ = "setns(" + path + "): " + std::strerror(errno);
  close(target);
}

WorkerNetns::~WorkerNetns() {
  // Failing to return leaves this thread (the fetcher's, nothing else) in the
  // worker's namespace; the next fetch enters its own worker's namespace
  // anyway, or aborts.
  if (entered_ && setns(self_, CLONE_NEWNET) != 0)
    spdlog::warn("OpenAPI fetcher: cannot return to perfd's network namespace: {}",
                 std::strerror(errno));
  if (self_ >= 0) close(self_);
}

}  // namespace perfd
