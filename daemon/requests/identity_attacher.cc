#include "daemon/requests/identity_attacher.h"

#include <spdlog/spdlog.h>

namespace perfd {

void IdentityAttacher::Start(uint32_t pid, const python::PythonTarget& target, bool uvloop) {
  uvloop_pending_[pid] = uvloop;
  if (!TryEnable(pid, target)) {
    pending_[pid] = {target, kRechecks};
  } else {
    uvloop_pending_.erase(pid);
  }
}

void IdentityAttacher::UvloopSeen(uint32_t pid) {
  if (auto p = uvloop_pending_.find(pid); p != uvloop_pending_.end()) p->second = true;
  auto it = enabled_.find(pid);
  if (it == enabled_.end() || it->second.uvloop) return;
  it->second.uvloop = true;
  AttachStreamProbe(pid);
}

void IdentityAttacher::ClientConnectionSeen(uint32_t pid) {
  if (!clients_seen_.insert(pid).second) return;
  if (enabled_.count(pid)) AttachStreamProbe(pid);
}

void IdentityAttacher::AttachStreamProbe(uint32_t pid) {
  Enabled& e = enabled_.at(pid);
  if (!e.uvloop || e.stream_probe || !clients_seen_.count(pid)) return;
  if (e.set_add == 0) {
    ++stream_refused_;
    if (logged_.insert("no PySet_Add").second)
      spdlog::warn(
          "pid {}: the interpreter exports no PySet_Add: database calls of this uvloop worker "
          "are not joined to requests",
          pid);
    return;
  }
  try {
    sampler_.AttachStreamProbe(pid, e.binary->SelfPath(), e.set_add);
    e.stream_probe = true;
    ++stream_probes_;
  } catch (const LoaderError& err) {
    ++stream_refused_;
    spdlog::warn("pid {}: database calls not joined to requests: {}", pid, err.what());
  }
}

void IdentityAttacher::Recheck() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& [target, left] = it->second;
    if (TryEnable(it->first, target)) {
      uvloop_pending_.erase(it->first);
      it = pending_.erase(it);
    } else if (--left <= 0) {
      Refuse(it->first, "no thread entered a contextvars context within ~10 s of discovery");
      uvloop_pending_.erase(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void IdentityAttacher::Refuse(uint32_t pid, const std::string& reason) {
  ++refused_;
  if (logged_.insert(reason).second)
    spdlog::warn("pid {}: request identity off (CPU joined to requests by time only): {}", pid,
                 reason);
}

bool IdentityAttacher::TryEnable(uint32_t pid, const python::PythonTarget& target) {
  const auto* hook = std::get_if<python::ContextHook>(&target.context_hook);
  if (!hook) {
    Refuse(pid, std::get<std::string>(target.context_hook));
    return true;
  }
  std::string layout = python::VerifyContextLayout(pid, target);
  if (layout.rfind("pending:", 0) == 0) return false;
  if (!layout.empty()) {
    Refuse(pid, layout);
    return true;
  }
  try {
    sampler_.AttachContextHook(pid, target.binary_file->SelfPath(), hook->file_offset);
    sampler_.EnableContextTracking(pid);
  } catch (const LoaderError& e) {
    Refuse(pid, e.what());
    return true;
  }
  (hook->kind == python::ContextHookKind::kAllCopies ? all_copies_ : capi_copies_)++;
  Enabled& e = enabled_[pid];
  e.binary = target.binary_file;
  e.set_add = target.set_add_offset;
  e.uvloop = uvloop_pending_.count(pid) != 0 && uvloop_pending_[pid];
  AttachStreamProbe(pid);
  spdlog::info("pid {}: request identity on: {} hooked at {}+{:#x}", pid,
               python::ContextHookKindName(hook->kind), target.binary, hook->file_offset);
  return true;
}

}  // namespace perfd
