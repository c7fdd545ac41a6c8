// The HTTP probe family (bpf/http_trace.bpf.c) as the daemon sees it: load,
// attach, tell it which processes to trace, drain its events, read its
// counters. This module is the only code that touches libbpf or the skeleton.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/http_trace.h"
#include "daemon/loader/program_stats.h"

struct http_trace;  // generated skeleton
struct ring_buffer;

namespace perfd {

class LoaderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpProbes {
 public:
  // One ring-buffer record; lines is null when header.nlines == 0.
  using EventFn = std::function<void(const perfd_http_event_header& header,
                                     const char (*lines)[PERFD_LINE_MAX])>;

  // Events of client connections (role PERFD_ROLE_CLIENT): the header and
  // the bytes captured (data_len, bounded by the record's size).
  using ClientFn =
      std::function<void(const perfd_http_event_header& header, std::string_view data)>;

  // The Python sampler's maps (fd -1: no Python info): py_procs, so
  // status-line writes can carry the task's root frame, and the request
  // identity maps (request-line reads note their connection for the task
  // the read creates; bpf/python.h).
  struct SharedPyMaps {
    int procs_fd = -1;
    int ctx_conns_fd = -1;
    int deliveries_fd = -1;
    int owners_fd = -1;
    int client_fds_fd = -1;
    int sites_fd = -1;
    int site_last_fd = -1;
    int tstates_fd = -1;
  };
  // Loads and attaches every program. Throws LoaderError with the reason.
  static std::unique_ptr<HttpProbes> Open(const SharedPyMaps& py);
  static std::unique_ptr<HttpProbes> Open() { return Open(SharedPyMaps()); }
  ~HttpProbes();  // detaches everything
  // The map of traced processes, shared with the event-loop probes.
  int tracked_pids_fd() const;
  HttpProbes(const HttpProbes&) = delete;
  HttpProbes& operator=(const HttpProbes&) = delete;

  // Map updates are syscalls: safe from any thread.
  void TrackPid(uint32_t tgid);
  // Also forgets the process's connections and syscall-argument entries
  // (and its stash quota), so a reused pid starts clean.
  void UntrackPid(uint32_t tgid);
  // Registers the client TCP connections the process has open now
  // (client_seed.h) as mid-stream client connections; ones the kernel
  // tracks already are left alone. Call after TrackPid, so a connection
  // opened meanwhile is seen by its connect(). Returns how many it added.
  size_t SeedClientConnections(uint32_t tgid);
  uint64_t client_connections_seeded() const { return seeded_; }

  // Syscall-argument entries (`stashed`) of threads that no longer exist
  // are deleted and their process's quota slots released. Such entries are
  // left only when a syscall exit was missed and the thread exited before
  // its next syscall; sweeping them keeps the per-process count (the quota,
  // PERFD_STASH_QUOTA) exact. Liveness comes from tgkill(tgid, tid, 0),
  // which needs no descriptor. Call from one thread at a time.
  struct StashSweep {
    size_t entries = 0;    // entries seen
    size_t reclaimed = 0;  // entries of dead threads deleted
  };
  StashSweep ReclaimStash();
  // The process's stash quota use as the kernel counts it (-1: no entry).
  int64_t StashHeld(uint32_t tgid) const;
  // Tests only: adds an entry for pid_tgid and counts it, as a syscall
  // entry whose exit is then missed would. False if it could not.
  bool InjectStaleStashForTest(uint64_t pid_tgid);

  // Waits up to timeout_ms (less when the kernel side signals a full-ish
  // buffer), then drains the ring buffer. Events are delivered in batches,
  // at most about timeout_ms late; their timestamps are the kernel's.
  // Returns the number of events handled (negative errno on failure).
  // Call from one thread only.
  int Poll(int timeout_ms, const EventFn& fn);
  // Waits up to timeout_ms for the kernel side to signal, consuming
  // nothing: lets the caller drain another ring buffer (call sites, whose
  // records precede the events they belong to) before Poll(0).
  void Wait(int timeout_ms);
  // Where client-connection events go (Poll's thread). Without one they are
  // counted in client_events_dropped and dropped.
  void SetClientHandler(ClientFn fn) { client_fn_ = std::move(fn); }
  uint64_t client_events_dropped() const { return client_dropped_; }

  // In-kernel counters (enum perfd_http_counter), summed over CPUs.
  std::array<uint64_t, PERFD_CNT_MAX> Counters() const;
  std::vector<ProgramStats> Programs() const;
  // Records that were shorter than the header (never expected; counted).
  uint64_t malformed_records() const { return malformed_; }

 private:
  HttpProbes() = default;
  static int OnRecord(void* ctx, void* data, size_t size);

  http_trace* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  const EventFn* current_fn_ = nullptr;
  ClientFn client_fn_;
  std::atomic<uint64_t> seeded_{0};
  uint64_t client_dropped_ = 0;
  uint64_t malformed_ = 0;
  // Deletes the entries for which dead(pid_tgid) holds, through the
  // reclaim_stash program. Returns how many it deleted.
  size_t ReclaimStashIf(const std::function<bool(uint64_t)>& dead, size_t* seen);
};

}  // namespace perfd
