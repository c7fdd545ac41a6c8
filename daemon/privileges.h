// perfd needs root, or CAP_BPF + CAP_PERFMON (load and attach BPF) and
// CAP_SYS_PTRACE (read other processes' /proc environ and enter their network
// namespace). Checked at start so the user gets one clear message instead of
// a verifier or EPERM error deep in libbpf.
#pragma once

#include <string>
#include <vector>

namespace perfd {

// Names of the required capabilities missing from the effective set.
std::vector<std::string> MissingCapabilities();

}  // namespace perfd
