// What the lifecycle learns about workers by reading files their processes
// control (/proc/<pid>/maps, the interpreter ELF it maps): read on the
// discovery thread, never on the event thread — a hostile or huge mapping
// (a FIFO mapped as libpython, a million mappings) can make such a read
// slow or block, and the event thread must keep draining the ring buffers.
// Every fact names the process (pid + start time) it is about.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/discovery/worker_change.h"
#include "daemon/python/python_target.h"

namespace perfd {

struct PythonFacts {
  // The verified interpreter, or why it was refused.
  std::variant<python::PythonTarget, std::string> target = std::string("not inspected");
  bool uses_uvloop = false;  // uvloop's extension mapped when it was inspected
};

struct ObservedChange {
  WorkerChange change;
  std::optional<PythonFacts> python;  // additions, when Python sampling is on
};

// A worker (pid + start time) seen with uvloop mapped after it was attached.
struct UvloopSighting {
  uint32_t pid = 0;
  uint64_t start_time = 0;
};

// A worker whose interpreter was refused at its addition for a transient
// reason (python::IsLiveWalkRefusal) and verified at a later scan.
struct LateVerification {
  uint32_t pid = 0;
  uint64_t start_time = 0;
  PythonFacts facts;  // facts.target holds a PythonTarget
};

// Everything the discovery thread queued since the event thread last took.
struct Observations {
  std::vector<ObservedChange> changes;  // in order, over all scans
  std::vector<UvloopSighting> uvloop_seen;
  uint64_t scans = 0;
  std::vector<LateVerification> verified_late;
};

}  // namespace perfd
