#include "daemon/lifecycle/worker_inspector.h"

#include <string>

#include "daemon/python/elf_symbols.h"

namespace perfd {

bool UsesUvloop(uint32_t pid) {
  auto maps = python::ReadMaps(pid);
  if (auto* entries = std::get_if<std::vector<python::MapEntry>>(&maps))
    for (const auto& m : *entries)
      if (m.path.find("/uvloop/loop.") != std::string::npos) return true;
  return false;
}

bool WorkerInspector::StillSame(uint32_t pid, uint64_t start_time) const {
  int error = 0;
  const auto st = reader_.ReadStat(pid, &error);
  // A failed read that is not an exit (EMFILE, ...) says nothing: discovery
  // catches a reuse at its next scan, and the lifecycle matches start times.
  if (!st) return !ProcessGone(error);
  return st->start_time == start_time;
}

PythonFacts WorkerInspector::Inspect(const Worker& w) {
  PythonFacts facts;
  facts.target = python::InspectPython(w.pid);
  if (std::holds_alternative<python::PythonTarget>(facts.target)) {
    facts.uses_uvloop = UsesUvloop(w.pid);
    if (!facts.uses_uvloop) loop_rechecks_[{w.pid, w.start_time}] = kLoopRechecks;
  }
  // What was read may be of a process that took the pid meanwhile.
  if (!StillSame(w.pid, w.start_time)) {
    facts.target = "pid " + std::to_string(w.pid) + " exited while its interpreter was inspected";
    loop_rechecks_.erase({w.pid, w.start_time});
  }
  return facts;
}

std::vector<ObservedChange> WorkerInspector::Observe(const std::vector<WorkerChange>& changes,
                                                     std::vector<UvloopSighting>* uvloop_seen,
                                                     std::vector<LateVerification>* verified_late) {
  std::vector<ObservedChange> out;
  out.reserve(changes.size());
  for (const auto& c : changes) {
    ObservedChange o{c, std::nullopt};
    const std::pair<uint32_t, uint64_t> key{c.worker.pid, c.worker.start_time};
    if (c.kind == WorkerChange::Kind::kRemoved) {
      loop_rechecks_.erase(key);
      walk_rechecks_.erase(key);
    } else if (python_) {
      o.python = Inspect(c.worker);
      if (const auto* reason = std::get_if<std::string>(&o.python->target);
          reason && python::IsLiveWalkRefusal(*reason))
        walk_rechecks_[key] = WalkRecheck{c.worker};
    }
    out.push_back(std::move(o));
  }
  // Transiently refused interpreters (just added ones wait a scan).
  for (auto it = walk_rechecks_.begin(); it != walk_rechecks_.end();) {
    WalkRecheck& r = it->second;
    if (r.left-- == kWalkRechecks) {
      ++it;
      continue;
    }
    PythonFacts facts = Inspect(r.worker);
    const auto* reason = std::get_if<std::string>(&facts.target);
    if (!reason) {
      verified_late->push_back({r.worker.pid, r.worker.start_time, std::move(facts)});
      it = walk_rechecks_.erase(it);
    } else if (!python::IsLiveWalkRefusal(*reason) || r.left <= 0) {
      it = walk_rechecks_.erase(it);  // refused for good (logged when it was added)
    } else {
      ++it;
    }
  }
  // Workers just inspected are not re-checked in the same scan.
  for (auto it = loop_rechecks_.begin(); it != loop_rechecks_.end();) {
    const auto [pid, start] = it->first;
    int& left = it->second;
    if (left < kLoopRechecks && UsesUvloop(pid) && StillSame(pid, start)) {
      uvloop_seen->push_back({pid, start});
      it = loop_rechecks_.erase(it);
    } else if (--left <= 0) {
      it = loop_rechecks_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace perfd
