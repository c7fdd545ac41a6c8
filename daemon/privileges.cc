#include "daemon/privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace perfd {

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace {

bool HasEffective(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[cap / 32].effective >> (cap % 32)) & 1;
}

}  // namespace

std::string MissingSysAdminWarning() {
  if (HasEffective(CAP_SYS_ADMIN)) return "";
  return "CAP_SYS_ADMIN is missing: OpenAPI documents of workers in other network namespaces "
         "cannot be fetched (setns), and a worker whose interpreter file was deleted cannot be "
         "sampled without CAP_CHECKPOINT_RESTORE; see docs/DEPLOY.md, \"Capabilities\"";
}

std::vector<std::string> MissingCapabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return {"(capget failed)"};
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1; };
  std::vector<std::string> missing;
  // CAP_SYS_ADMIN implies the BPF and perfmon rights on every kernel.
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push_back("CAP_BPF");
    if (!has(CAP_PERFMON)) missing.push_back("CAP_PERFMON");
  }
  if (!has(CAP_SYS_PTRACE)) missing.push_back("CAP_SYS_PTRACE");
  return missing;
}

}  // namespace perfd
