// Decides which request (and so which route) a Python CPU sample belongs
// to. Pure logic over timestamps; single-threaded (event thread).
//
// - Event-loop samples inside an asyncio task carry the task's root
//   coroutine frame. The write of a request's status line carries the same
//   root (bpf/http_trace.bpf.c), so samples wait per (pid, root) until the
//   request completes and are then given its route. A root address is
//   reused only after its task is gone, so samples up to the request's end
//   belong to it.
// - Samples of other threads (anyio worker threads running sync endpoints
//   and dependencies) have no task root. They are given the route of the
//   request of the same process whose [start, end] covers them when exactly
//   one does; when several requests overlap they go to "(threadpool)" (their
//   category is still right); when none does, to "(no request)".
// - Event-loop samples outside any task (protocol parsing, loop internals)
//   go to "(no request)".
// Samples that wait longer than max_wait are given "(no request)".
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace perfd {

struct ProfileSample {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t ts_ns = 0;
  uint64_t root = 0;
  int category = 0;
  uint32_t stack_id = 0;
};

class SampleAttributor {
 public:
  // Receives each sample once, with its service and route.
  using Sink = std::function<void(const std::string& service, const std::string& route,
                                  const ProfileSample& sample)>;

  SampleAttributor(Sink sink, uint64_t max_wait_ns = 30000000000ull);

  void SetService(uint32_t pid, const std::string& service);
  void OnSample(const ProfileSample& s);
  void OnRequestStart(uint32_t pid, uint64_t conn_id, uint64_t start_ns);
  void OnRequestComplete(uint32_t pid, uint64_t conn_id, const std::string& route,
                         uint64_t start_ns, uint64_t end_ns, uint64_t py_root);
  // Resolves thread samples whose fate is known and expires old ones.
  void Tick(uint64_t now_ns);
  // The worker exited: everything it still holds is resolved now.
  void DropProcess(uint32_t pid, uint64_t now_ns);

  size_t pending() const;

 private:
  struct Interval {
    uint64_t start, end;
    std::string route;
  };
  struct Proc {
    std::string service;
    std::map<uint64_t, std::vector<ProfileSample>> by_root;
    std::deque<ProfileSample> thread_samples;    // ts order (mostly)
    std::deque<Interval> recent;                 // completed requests
    std::multimap<uint64_t, uint64_t> inflight;  // start_ns → conn_id
  };

  void Emit(const Proc& p, const std::string& route, const ProfileSample& s) {
    sink_(p.service, route, s);
  }
  void ResolveThreadSamples(Proc& p, uint64_t now_ns, bool final);

  Sink sink_;
  const uint64_t max_wait_ns_;
  std::unordered_map<uint32_t, Proc> procs_;
};

}  // namespace perfd
