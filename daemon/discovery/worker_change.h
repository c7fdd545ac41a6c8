// One change to the set of traced workers, as discovery saw it. Changes are
// applied in the order discovery reports them: a pid's old process is
// removed before the process that reused the pid is added.
#pragma once

#include <cstdint>

#include "daemon/discovery/worker.h"

namespace perfd {

struct WorkerChange {
  enum class Kind { kRemoved, kAdded };
  Kind kind;
  Worker worker;
};

}  // namespace perfd
