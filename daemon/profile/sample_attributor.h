// Decides which request (and so which route) a Python CPU sample belongs
// to. Pure logic over timestamps; single-threaded (event thread).
//
// Exact join (request identity on, PY_SAMPLE_CTX_TRACKED): the sample names
// the server connection whose request owns the context its thread had
// entered (bpf/python.h). uvicorn serves a connection's requests one at a
// time and in order, so the owner is the earliest request of that
// connection that started (first read) no later than the sample and had not
// finished by then; a sample after the latest such request's last write is
// that request's tail (e.g. a background task after the response). On the
// event-loop thread only samples inside a task count (protocol callbacks run
// in long-lived transport contexts that may carry a tag). Untagged samples:
// "(no request)" on the loop thread, "(unattributed)" elsewhere.
//
// Interval join (identity off for the process): a request is known by its
// process and its interval [first byte read, last byte written]. A sample
// belongs to a request of its process whose interval contains the sample's
// time:
// - Event-loop samples inside an asyncio task carry the task's root
//   coroutine frame, stable for the task's life. Samples of one root are
//   decided together: the request whose interval covers all of them. When
//   the status-line write itself ran inside the task (asyncio transports),
//   it carries the same root and the join is exact at once. (uvloop queues
//   writes and flushes them outside the task, so there the interval join
//   decides.)
// - Samples of other threads (anyio worker threads running sync endpoints
//   and dependencies) have no root and are decided one by one.
// - Event-loop samples outside any task (protocol parsing, loop internals)
//   go to "(no request)" at once.
// A sample (group) is decided once it is older than a grace period and no
// request that started before it is still in flight. Exactly one covering
// request → its route; none → "(no request)"; several (concurrent requests
// of one worker) → "(unattributed)": the category stays right, the route is
// not guessed. Samples that wait longer than max_wait are decided with what
// is known then.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace perfd {

struct ProfileSample {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t ts_ns = 0;
  uint64_t root = 0;
  int category = 0;
  uint32_t stack_id = 0;
  bool identity = false;  // request identity was on for the sample
  uint64_t conn_id = 0;   // with identity: the owning connection, 0 = none
  // Not a CPU sample: the stack of an event-loop thread at the longest
  // off-CPU stretch of a blocking iteration (bpf/loop_trace.bpf.c), which
  // held the loop this long, blocked in `offcpu_reason` (enum
  // loop_block_reason). Attributed like a CPU sample, counted as none.
  uint64_t offcpu_ns = 0;
  uint8_t offcpu_reason = 0;
};

// How a sample reached its route.
enum class JoinKind { kExact, kInterval, kNone };

class SampleAttributor {
 public:
  // Receives each sample once, with its service, route and join kind
  // (kNone for the pseudo-routes).
  using Sink = std::function<void(const std::string& service, const std::string& route,
                                  const ProfileSample& sample, JoinKind join)>;

  SampleAttributor(Sink sink, uint64_t max_wait_ns = 30000000000ull);

  void SetService(uint32_t pid, const std::string& service);
  void OnSample(const ProfileSample& s);
  void OnRequestStart(uint32_t pid, uint64_t conn_id, uint64_t start_ns);
  // route: the key samples are reported under (e.g. "GET /users/{id}").
  void OnRequestComplete(uint32_t pid, uint64_t conn_id, const std::string& route,
                         uint64_t start_ns, uint64_t end_ns, uint64_t py_root);
  // Decides what can be decided and expires old samples.
  void Tick(uint64_t now_ns);
  // The worker exited: everything it still holds is decided now.
  void DropProcess(uint32_t pid, uint64_t now_ns);

  size_t pending() const;

 private:
  struct Interval {
    uint64_t start, end;
    std::string route;
  };
  struct Group {  // samples decided together (one root, or one thread sample)
    std::vector<ProfileSample> samples;
    uint64_t first_ts = UINT64_MAX, last_ts = 0;
  };
  // One server connection's requests, for the exact join.
  struct Conn {
    std::deque<Interval> done;          // completed, in start order
    std::deque<uint64_t> inflight;      // starts of requests not complete yet
    std::deque<ProfileSample> waiting;  // tagged samples not decided yet
    uint64_t last_ns = 0;               // newest start/end seen
  };
  struct Proc {
    std::string service;
    std::map<uint64_t, Group> by_root;
    std::deque<Group> thread_samples;
    std::deque<Interval> recent;                 // completed requests, by end
    std::multimap<uint64_t, uint64_t> inflight;  // start_ns → conn_id
    std::unordered_map<uint64_t, Conn> conns;    // conn_id → requests (exact join)
  };

  // Returns false when the group must wait longer.
  bool Decide(Proc& p, const Group& g, uint64_t now_ns, bool final);
  // Exact join of one tagged sample; false when it must wait longer.
  bool DecideExact(const Proc& p, const Conn& c, const ProfileSample& s, uint64_t now_ns,
                   bool final);
  void DecideConns(Proc& p, uint64_t now_ns, bool final);
  void EmitAll(const Proc& p, const std::string& route, const Group& g);

  Sink sink_;
  const uint64_t max_wait_ns_;
  std::unordered_map<uint32_t, Proc> procs_;
};

}  // namespace perfd
