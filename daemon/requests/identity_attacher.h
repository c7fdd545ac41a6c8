// Turns on request identity (bpf/python.h, docs/ARCHITECTURE.md "Request
// identity") for each verified worker: checks the interpreter's context
// layout against the live process, attaches the context-copy return probe,
// then flips py_proc.ctx_tracking so samples and request-line reads use it.
// A worker that has not entered any context yet (still starting) is checked
// again on later scans; a refusal is logged once per reason and counted, and
// the worker keeps the interval join. The worker lifecycle's thread only
// (counters are read from others).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "daemon/loader/py_sampler.h"
#include "daemon/python/python_target.h"

namespace perfd {

class IdentityAttacher {
 public:
  explicit IdentityAttacher(PySampler& sampler) : sampler_(sampler) {}

  // `target` was just added to the sampler (py_procs holds target.proc).
  // uvloop: the worker runs uvloop (its client writes are flushed outside
  // the task that wrote, so the PySet_Add probe is attached too).
  void Start(uint32_t pid, const python::PythonTarget& target, bool uvloop);
  // uvloop was found mapped after Start.
  void UvloopSeen(uint32_t pid);
  // The worker has a client connection (database, cache): from now on its
  // client writes need owners, so a uvloop worker gets the PySet_Add probe.
  // Until then it does not pay for it (a uprobe trap on every PySet_Add of
  // the process: ~12 us per request on a trivial route, bench/README.md).
  // May come before Start.
  void ClientConnectionSeen(uint32_t pid);
  // Re-checks workers whose layout could not be verified yet.
  void Recheck();
  void Forget(uint32_t pid) {
    pending_.erase(pid);
    clients_seen_.erase(pid);
    uvloop_pending_.erase(pid);
    enabled_.erase(pid);
  }

  struct Counts {
    uint64_t all_copies = 0;             // tracking on, every context copy seen
    uint64_t capi_copies = 0;            // tracking on, PyContext_CopyCurrent hooked
    uint64_t refused = 0;                // interval join only
    uint64_t stream_probes = 0;          // uvloop workers with the PySet_Add probe
    uint64_t stream_probes_refused = 0;  // uvloop workers whose client writes stay unowned
  };
  Counts counts() const {
    return {all_copies_.load(), capi_copies_.load(), refused_.load(), stream_probes_.load(),
            stream_refused_.load()};
  }

 private:
  // Returns false while the check is pending.
  bool TryEnable(uint32_t pid, const python::PythonTarget& target);
  void Refuse(uint32_t pid, const std::string& reason);
  void AttachStreamProbe(uint32_t pid);

  static constexpr int kRechecks = 40;  // ~10 s at the default scan interval
  PySampler& sampler_;
  struct Enabled {
    // The interpreter, held open: the probe may be attached long after the
    // worker was verified, and names the file as /proc/self/fd/N.
    std::shared_ptr<const python::MappedFile> binary;
    uint64_t set_add = 0;       // PySet_Add's file offset (0: not exported)
    bool uvloop = false;        // the stream probe is wanted
    bool stream_probe = false;  // ... and attached
  };
  std::map<uint32_t, std::pair<python::PythonTarget, int>> pending_;
  std::map<uint32_t, bool> uvloop_pending_;  // pid → uvloop, for workers still pending
  std::map<uint32_t, Enabled> enabled_;
  std::set<uint32_t> clients_seen_;  // pids with a client connection
  std::set<std::string> logged_;
  std::atomic<uint64_t> all_copies_{0}, capi_copies_{0}, refused_{0}, stream_probes_{0},
      stream_refused_{0};
};

}  // namespace perfd
