// The event-loop probe family (bpf/loop_trace.bpf.c): epoll wait
// tracepoints on traced workers and the scheduler tracepoints that split a
// loop thread's busy time into on-CPU, runnable and blocked-by-what.
// Per-process histograms stay in the kernel (read here, cumulative); only
// blocking iterations arrive as events.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "bpf/loop_trace.h"
#include "bpf/python.h"
#include "daemon/loader/http_probes.h"
#include "daemon/loader/program_stats.h"

struct loop_trace;
struct ring_buffer;

namespace perfd {

class LoopProbes {
 public:
  using BlockFn = std::function<void(const loop_block_event& e)>;
  // The Python stack of a blocking iteration's longest off-CPU stretch
  // (PY_SAMPLE_OFFCPU), sent just before its event.
  using StackFn = std::function<void(const py_sample& s)>;

  // Loads and attaches; tracked_pids_fd is HttpProbes::tracked_pids_fd()
  // (the same processes are traced), py the sampler's maps (off-CPU stacks
  // are taken only for its verified interpreters; all -1: none are).
  // Throws LoaderError.
  static std::unique_ptr<LoopProbes> Open(int tracked_pids_fd, const HttpProbes::SharedPyMaps& py,
                                          uint64_t blocking_threshold_ns);
  ~LoopProbes();
  LoopProbes(const LoopProbes&) = delete;
  LoopProbes& operator=(const LoopProbes&) = delete;

  // Drains blocking events and their off-CPU stacks (one thread only).
  // Returns records handled.
  int Poll(const BlockFn& fn, const StackFn& stack_fn);
  // The cumulative histogram of every process that ended an iteration.
  std::map<uint32_t, loop_hist> Histograms() const;
  // One process's histogram; false if it has none.
  bool Histogram(uint32_t tgid, loop_hist* out) const;
  // The process is gone: its histogram and loop threads are dropped.
  void ForgetProcess(uint32_t tgid);
  std::array<uint64_t, LOOP_CNT_MAX> Counters() const;
  std::vector<ProgramStats> Programs() const;
  uint64_t blocking_threshold_ns() const { return threshold_ns_; }

 private:
  LoopProbes() = default;
  static int OnRecord(void* ctx, void* data, size_t size);
  static int OnStack(void* ctx, void* data, size_t size);

  loop_trace* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  const BlockFn* current_fn_ = nullptr;
  const StackFn* current_stack_fn_ = nullptr;
  uint64_t threshold_ns_ = 0;
};

}  // namespace perfd
