#include "daemon/loop/blocking_event.h"

namespace perfd {

const char* BlockingKindName(BlockingKind k) {
  switch (k) {
    case BlockingKind::kOnCpu:
      return "oncpu";
    case BlockingKind::kOffCpu:
      return "offcpu";
    case BlockingKind::kRunnable:
      return "runnable";
  }
  return "oncpu";
}

BlockingKind BlockingKindOf(uint64_t oncpu_ns, uint64_t offcpu_ns, uint64_t runnable_ns) {
  // On CPU (a hog), blocked (a sync call), or runnable (the host's CPUs were
  // taken: not the code's doing). A tie names the code, not the host.
  if (oncpu_ns >= offcpu_ns && oncpu_ns >= runnable_ns) return BlockingKind::kOnCpu;
  if (offcpu_ns >= runnable_ns) return BlockingKind::kOffCpu;
  return BlockingKind::kRunnable;
}

}  // namespace perfd
