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
#include "daemon/loader/http_probes.h"
#include "daemon/loader/program_stats.h"

struct loop_trace;
struct ring_buffer;

namespace perfd {

class LoopProbes {
 public:
  using BlockFn = std::function<void(const loop_block_event& e)>;

  // Loads and attaches; tracked_pids_fd is HttpProbes::tracked_pids_fd()
  // (the same processes are traced). Throws LoaderError.
  static std::unique_ptr<LoopProbes> Open(int tracked_pids_fd, uint64_t blocking_threshold_ns);
  ~LoopProbes();
  LoopProbes(const LoopProbes&) = delete;
  LoopProbes& operator=(const LoopProbes&) = delete;

  // Drains blocking events (one thread only). Returns events handled.
  int Poll(const BlockFn& fn);
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

  loop_trace* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  const BlockFn* current_fn_ = nullptr;
  uint64_t threshold_ns_ = 0;
};

}  // namespace perfd
