// The Python sampling probe family (bpf/py_sampler.bpf.c): one cpu-clock
// perf event per thread of each verified worker, a BPF program that walks
// the interpreter frames at every sample, and the ring buffer the samples
// arrive on. Per-thread events (not per-CPU ones) because only the workers'
// own CPU time is wanted, and per-CPU cpu-clock sampling was seen to lose
// events on this platform (DESIGN.md).
//
// Every sampled thread costs perfd file descriptors (the perf event and its
// BPF link), and the traced application decides how many threads it has.
// Two caps keep that bounded: max_threads_per_worker per process (the main
// thread always sampled, then the lowest thread ids), and a global fd budget
// (SetFdBudget) that leaves perfd the descriptors it needs to read /proc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bpf/py_sampler.h"
#include "bpf/python.h"
#include "daemon/loader/http_probes.h"

struct py_sampler;
struct ring_buffer;
struct bpf_link;

namespace perfd {

class PySampler {
 public:
  using SampleFn = std::function<void(const py_sample& sample)>;
  using GcPauseFn = std::function<void(const py_gc_pause& pause)>;

  // Descriptors one sampled thread holds: the perf event and its BPF link.
  static constexpr size_t kFdsPerThread = 2;

  // Loads the program (nothing is attached until AddProcess). Throws
  // LoaderError.
  static std::unique_ptr<PySampler> Open(uint32_t frequency_hz,
                                         uint32_t max_threads_per_worker = 256);
  ~PySampler();
  PySampler(const PySampler&) = delete;
  PySampler& operator=(const PySampler&) = delete;

  // The map of verified processes, shared with the HTTP probes.
  int py_procs_fd() const;

  // Starts sampling every current thread of the process. Thread-safe.
  void AddProcess(uint32_t tgid, const py_proc& proc);
  // Attaches to threads created since (anyio worker threads start lazily);
  // detaches from threads that exited. Thread-safe.
  void SyncThreads(uint32_t tgid);
  // Request identity: the context-copy return probe on the process's
  // interpreter (`path` opened through /proc/<pid>, `file_offset` from
  // python::FindContextHook), for this process only. Throws LoaderError.
  void AttachContextHook(uint32_t tgid, const std::string& path, uint64_t file_offset);
  // Request identity of uvloop workers' client writes: the entry probe on
  // PySet_Add (python::PythonTarget::set_add_offset), for this process
  // only. Throws LoaderError.
  void AttachStreamProbe(uint32_t tgid, const std::string& path, uint64_t file_offset);
  // GC pauses: the python:gc__start/gc__done USDT probes of the process's
  // interpreter (python::PythonTarget::gc_probes says it has them), for
  // this process only. Throws LoaderError.
  void AttachGcProbes(uint32_t tgid, const std::string& path);
  // Where Poll delivers GC pauses (set once, before the first Poll).
  void SetGcPauseHandler(GcPauseFn fn) { gc_fn_ = std::move(fn); }
  // Detaches everything of the process, context probe included.
  void RemoveProcess(uint32_t tgid);
  // Switch one feature of the process's py_procs entry (threads stay
  // attached). The sampler owns the entry: each caller changes only its own
  // field, so none can undo another's. Throw LoaderError if the process is
  // not (or no longer) added.
  void SetRootAtWrites(uint32_t tgid, bool on);
  void EnableContextTracking(uint32_t tgid);
  std::set<uint32_t> Processes() const;

  // Drains samples, call sites and GC pauses (from one thread only), and
  // starts sampling the threads sampled processes started meanwhile.
  // Returns records handled.
  int Poll(int timeout_ms, const SampleFn& fn);

  std::array<uint64_t, PY_CNT_MAX> Counters() const;
  std::array<uint64_t, PY_CTX_CNT_MAX> ContextCounters() const;
  // Run counts and times of the sampler and context-probe programs
  // (run time needs kernel.bpf_stats_enabled=1).
  std::vector<ProgramStats> Programs() const;
  int py_ctx_conns_fd() const;
  int py_deliveries_fd() const;
  int py_owners_fd() const;
  int py_client_fds_fd() const;
  int py_sites_fd() const;
  int py_site_last_fd() const;
  int py_tstates_fd() const;
  size_t attached_threads() const;
  // Most descriptors all sampled threads together may hold (default:
  // unlimited). Threads beyond it are not sampled. Thread-safe.
  void SetFdBudget(size_t max_fds);
  // Threads not sampled because their worker had max_threads_per_worker
  // sampled already / because the fd budget was spent (or perf_event_open
  // hit EMFILE/ENFILE): each thread counted once, when first refused.
  uint64_t threads_over_worker_cap() const;
  uint64_t threads_over_fd_budget() const;
  // Live threads of sampled workers that are not sampled now.
  size_t unsampled_threads() const;
  uint64_t attach_failures() const;
  uint32_t frequency_hz() const { return frequency_hz_; }

 private:
  PySampler() = default;
  static int OnRecord(void* ctx, void* data, size_t size);
  static int OnGcPause(void* ctx, void* data, size_t size);
  static int OnThreadStarted(void* ctx, void* data, size_t size);
  struct Process {
    py_proc proc{};                       // what py_procs holds for it
    std::map<uint32_t, bpf_link*> links;  // tid → link (owns the perf event fd)
    std::set<uint32_t> refused;           // live threads not sampled (counted once)
  };
  void ModifyProc(uint32_t tgid, const std::function<void(py_proc&)>& change);
  enum class Attach { kAttached, kGone, kOverWorkerCap, kOverBudget, kFailed };
  // Brings the process's sampled set in line with its live threads (callers
  // hold mu_). The main thread first, then ascending thread ids, up to the
  // per-worker cap.
  void SyncLocked(uint32_t tgid, Process& p, const std::vector<uint32_t>& live);
  Attach AttachThread(uint32_t tgid, uint32_t tid, Process& p);
  size_t AttachedLocked() const;

  py_sampler* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  bpf_link* thread_start_link_ = nullptr;
  const SampleFn* current_fn_ = nullptr;
  uint32_t frequency_hz_ = 0;
  uint32_t max_threads_per_worker_ = 256;
  mutable std::mutex mu_;                                // guards everything below
  std::map<uint32_t, Process> procs_;                    // tgid → sampled threads
  std::map<uint32_t, bpf_link*> context_links_;          // tgid → context probe
  std::map<uint32_t, bpf_link*> stream_links_;           // tgid → PySet_Add probe (uvloop)
  std::map<uint32_t, std::vector<bpf_link*>> gc_links_;  // tgid → GC USDT probes
  GcPauseFn gc_fn_;
  std::set<uint32_t> threads_started_;  // Poll's thread only: processes to sync
  size_t fd_budget_ = SIZE_MAX;
  size_t attached_ = 0;  // links over all procs_
  uint64_t attach_failures_ = 0;
  uint64_t over_worker_cap_ = 0;
  uint64_t over_fd_budget_ = 0;
  bool fd_exhaustion_logged_ = false;
};

}  // namespace perfd
