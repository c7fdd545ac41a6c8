// The Python sampling probe family (bpf/py_sampler.bpf.c): one cpu-clock
// perf event per thread of each verified worker, a BPF program that walks
// the interpreter frames at every sample, and the ring buffer the samples
// arrive on. Per-thread events (not per-CPU ones) because only the workers'
// own CPU time is wanted, and per-CPU cpu-clock sampling was seen to lose
// events on this platform (DESIGN.md).
#pragma once

#include <array>
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

  // Loads the program (nothing is attached until AddProcess). Throws
  // LoaderError.
  static std::unique_ptr<PySampler> Open(uint32_t frequency_hz);
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
  // Detaches everything of the process, context probe included.
  void RemoveProcess(uint32_t tgid);
  // Replaces the process's entry in py_procs (threads stay attached).
  void UpdateProcess(uint32_t tgid, const py_proc& proc);
  std::set<uint32_t> Processes() const;

  // Drains samples (from one thread only). Returns samples handled.
  int Poll(int timeout_ms, const SampleFn& fn);

  std::array<uint64_t, PY_CNT_MAX> Counters() const;
  std::array<uint64_t, PY_CTX_CNT_MAX> ContextCounters() const;
  // Run counts and times of the sampler and context-probe programs
  // (run time needs kernel.bpf_stats_enabled=1).
  std::vector<ProgramStats> Programs() const;
  int py_ctx_conns_fd() const;
  int py_deliveries_fd() const;
  size_t attached_threads() const;
  uint64_t attach_failures() const { return attach_failures_; }
  uint32_t frequency_hz() const { return frequency_hz_; }

 private:
  PySampler() = default;
  static int OnRecord(void* ctx, void* data, size_t size);
  void AttachThread(uint32_t tgid, uint32_t tid);

  py_sampler* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  const SampleFn* current_fn_ = nullptr;
  uint32_t frequency_hz_ = 0;
  mutable std::mutex mu_;
  std::map<uint32_t, std::map<uint32_t, bpf_link*>> links_;  // tgid → tid → link
  std::map<uint32_t, bpf_link*> context_links_;              // tgid → context probe
  uint64_t attach_failures_ = 0;
};

}  // namespace perfd
