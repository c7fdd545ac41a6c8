// Gathers, per completed request, the evidence its time breakdown needs
// (request_parts.h) and decides it once the evidence is in. On the event
// thread. Evidence arrives on its own schedule:
//   - the request, with its database calls, from the DB join when the HTTP
//     tracker completes it (late for the last request of a keep-alive
//     connection: the response's end is known when the connection idles);
//   - its CPU samples from the sample attributor (exact join by request
//     identity: only samples that name the request's connection count);
//   - its GC pauses from the sampler (the kernel names the request whose
//     context was entered when the collection started);
//   - blocking events of its worker's loop from the blocking tracker, which
//     decides them `blocking finalize delay` after they end.
// So a request is decided `decide_delay_ns` after the later of its end and
// its arrival here. Samples, pauses and events are kept per worker in
// bounded buffers (overflow counted); a worker that exits has its requests
// decided at once.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/python.h"
#include "daemon/breakdown/request_parts.h"
#include "daemon/db/db_call.h"
#include "daemon/loop/blocking_event.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/profile/sample_attributor.h"

namespace perfd::breakdown {

struct DecidedRequest {
  std::string route;  // "METHOD /template"
  uint64_t end_ns = 0;
  RequestParts parts;
};

struct TrackerStats {
  uint64_t decided = 0;
  uint64_t cpu_clamped = 0;        // sampled CPU scaled down to fit (parts_.cpu_clamped)
  uint64_t requests_overflow = 0;  // request not kept: too many pending for its worker
  uint64_t samples_overflow = 0;   // sample not kept: the worker's buffer was full
  uint64_t samples_unclaimed = 0;  // sample outside its connection's requests (a tail after
                                   // the response, or a request perfd never completed)
  uint64_t gc_overflow = 0;
  uint64_t blocking_unattributed = 0;  // event with no evidence: not counted as anyone's wait
};

class BreakdownTracker {
 public:
  static constexpr size_t kMaxPendingRequests = 200000;
  static constexpr size_t kMaxSamples = 200000;
  static constexpr size_t kMaxGcPauses = 20000;
  static constexpr size_t kMaxBlockingEvents = 4096;

  using Sink = std::function<void(const std::string& service, const DecidedRequest& r)>;

  // sample_period_ns: CPU time one sample stands for (0: sampling off).
  BreakdownTracker(Sink sink, uint64_t sample_period_ns, uint64_t decide_delay_ns);

  // A completed request of a traced worker with its database calls.
  void OnRequest(const RoutedRequest& req, const std::vector<db::DbCall>& calls, uint64_t now_ns);
  // Every sample the profiler attributed (on-CPU ones with an owning
  // connection count).
  void OnAttributedSample(const ProfileSample& s);
  void OnGcPause(const py_gc_pause& p);
  // A decided blocking event (its pid, interval, and the connections whose
  // code held the loop).
  void OnBlockingEvent(const BlockingEvent& e);
  // Decides requests due by now_ns.
  void Tick(uint64_t now_ns);
  // The worker is gone: its requests are decided now, its state dropped.
  void DropProcess(uint32_t pid);

  const TrackerStats& stats() const { return stats_; }
  size_t pending() const;

 private:
  struct Sample {
    uint64_t ts_ns = 0;
    uint32_t tid = 0;
    int category = 0;
  };
  struct Pause {
    uint64_t start_ns = 0, end_ns = 0;
    uint32_t tid = 0;
  };
  struct Blocked {
    uint64_t start_ns = 0, end_ns = 0;
    bool no_request = false;      // the loop ran no request's code
    std::vector<uint64_t> conns;  // sorted: whose code held the loop
  };
  struct Pending {
    std::string service, route;
    uint64_t conn_id = 0;
    uint64_t arrival_ns = 0, start_ns = 0, end_ns = 0;
    uint64_t due_ns = 0;
    std::vector<Interval> db;
    std::vector<Interval> reply_waits;  // reply arrived → read
  };
  struct Proc {
    std::deque<Pending> pending;                               // by due time
    std::unordered_map<uint64_t, std::deque<Sample>> samples;  // conn → by time
    size_t nsamples = 0;
    // By connection, like the samples: a request takes its own at once
    // instead of scanning every pause of the worker.
    std::unordered_map<uint64_t, std::deque<Pause>> pauses;  // conn → by arrival
    size_t npauses = 0;
    std::deque<Blocked> blocked;  // by arrival
  };

  void Decide(Proc& p, const Pending& r);
  // Drops evidence older than kKeepNs before the newest time seen: no
  // request still to come can use it (a late completion's end is at most
  // the HTTP tracker's idle timeout old).
  void Prune(Proc& p);
  static constexpr uint64_t kKeepNs = 60000000000ull;

  Sink sink_;
  const uint64_t sample_period_ns_;
  const uint64_t delay_ns_;
  std::unordered_map<uint32_t, Proc> procs_;
  uint64_t now_ns_ = 0;  // the newest time seen
  TrackerStats stats_;
};

}  // namespace perfd::breakdown
