#include "daemon/requests/identity_attacher.h"

#include <spdlog/spdlog.h>

namespace perfd {

void IdentityAttacher::Start(uint32_t pid, const python::PythonTarget& target) {
  if (!TryEnable(pid, target)) pending_[pid] = {target, kRechecks};
}

void IdentityAttacher::Recheck() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& [target, left] = it->second;
    if (TryEnable(it->first, target)) {
      it = pending_.erase(it);
    } else if (--left <= 0) {
      Refuse(it->first, "no thread entered a contextvars context within ~10 s of discovery");
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
  spdlog::info("pid {}: request identity on: {} hooked at {}+{:#x}", pid,
               python::ContextHookKindName(hook->kind), target.binary, hook->file_offset);
  return true;
}

}  // namespace perfd
