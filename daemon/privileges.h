// perfd needs root, or CAP_BPF + CAP_PERFMON (load and attach BPF) and
// CAP_SYS_PTRACE (read other processes' memory and /proc environ). Checked at
// start so the user gets one clear message instead of a verifier or EPERM
// error deep in libbpf. CAP_SYS_ADMIN is recommended, not required: without
// it, parts degrade (docs/DEPLOY.md, "Capabilities").
#pragma once

#include <string>
#include <vector>

namespace perfd {

// Names of the required capabilities missing from the effective set.
std::vector<std::string> MissingCapabilities();

// CAP_SYS_ADMIN, with what is lost without it, when it is missing; else "".
// Without it perfd cannot setns() into a worker's network namespace (no
// OpenAPI routes for workers in containers), open /proc/<pid>/map_files
// (unless CAP_CHECKPOINT_RESTORE), and container runtimes' default seccomp
// profiles may refuse bpf()/perf_event_open() altogether.
std::string MissingSysAdminWarning();

}  // namespace perfd
