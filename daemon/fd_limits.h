// File-descriptor limits. perfd holds descriptors in proportion to what the
// traced applications do (a perf event and a BPF link per sampled thread),
// and a /proc read that fails with EMFILE must never be what tells discovery
// a worker exited. So perfd raises its own limit at start and gives thread
// sampling a budget that leaves a reserve for everything else.
#pragma once

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace perfd {

// Descriptors kept out of the sampling budget: /proc reads (a few at a time
// per thread), the gRPC and /metrics servers' connections, the OpenAPI
// fetcher's socket, per-worker uprobe links, libbpf's transient fds.
inline constexpr size_t kFdReserve = 256;

struct FdLimitChange {
  uint64_t before = 0;  // soft limit found
  uint64_t after = 0;   // soft limit now (== before when unchanged or on error)
  uint64_t hard = 0;
  int error = 0;  // errno of a failed getrlimit/setrlimit, 0 on success
};

// Raises the RLIMIT_NOFILE soft limit to the hard limit. Failure is not
// fatal (perfd then works within the old limit): the caller logs it.
inline FdLimitChange RaiseFdLimit() {
  FdLimitChange c;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    c.error = errno;
    return c;
  }
  c.before = c.after = rl.rlim_cur;
  c.hard = rl.rlim_max;
  if (rl.rlim_cur == rl.rlim_max) return c;
  rlimit raised = rl;
  raised.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    c.error = errno;
    return c;
  }
  c.after = raised.rlim_cur;
  return c;
}

// The RLIMIT_NOFILE soft limit in force (the classic default when unreadable).
inline uint64_t SoftFdLimit() {
  rlimit rl{};
  return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
}

// Descriptors this process has open now (/proc/self/fd); 0 if unreadable.
inline size_t OpenFdCount() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  size_t n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n > 0 ? n - 1 : 0;  // minus the directory's own descriptor
}

// How many descriptors thread sampling may hold: what the soft limit leaves
// after those open now and the reserve.
inline size_t SamplingFdBudget(uint64_t soft_limit, size_t open_now, size_t reserve = kFdReserve) {
  const uint64_t used = static_cast<uint64_t>(open_now) + reserve;
  if (soft_limit == RLIM_INFINITY) return SIZE_MAX;
  return soft_limit > used ? static_cast<size_t>(soft_limit - used) : 0;
}

}  // namespace perfd
