// Owns the per-connection state of every traced server connection and feeds
// it the ring-buffer events of bpf/http_trace.bpf.c. Single-threaded: call
// it from the event thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "bpf/http_trace.h"
#include "daemon/protocols/conn_key.h"
#include "daemon/protocols/http/conn_stitcher.h"
#include "daemon/protocols/http/http_types.h"

namespace perfd::http {

class HttpTracker {
 public:
  // A connection with nothing pending and no event for this long is
  // forgotten: its CLOSE was lost (ring buffer full) or it is a leaked fd.
  static constexpr uint64_t kIdleEvictNs = 10ull * 60 * 1000000000;
  // A connection with a request still pending and no event for this long is
  // aborted and forgotten, so a lost CLOSE cannot pin an in-flight request.
  static constexpr uint64_t kStaleEvictNs = 60ull * 60 * 1000000000;

  struct Stats {
    // Events by kind.
    uint64_t accepts = 0;
    uint64_t reads = 0;
    uint64_t writes = 0;
    uint64_t closes = 0;
    uint64_t unknown_kind = 0;
    uint64_t malformed = 0;  // nlines without line data, or too many lines
    // Event flags seen.
    uint64_t adopted = 0;
    uint64_t lines_dropped = 0;
    uint64_t scan_limited = 0;
    uint64_t read_faults = 0;
    // Connection states.
    uint64_t conns_open = 0;         // currently tracked
    uint64_t conns_unannounced = 0;  // created by a read/write without ACCEPT
    uint64_t conns_evicted_idle = 0;
    uint64_t conns_evicted_stale = 0;
    uint64_t conns_dropped = 0;  // removed by DropProcess
    StitchCounters stitch;       // summed over live and finished connections
  };

  HttpTracker(RequestSink& sink, uint64_t idle_timeout_ns);

  // lines may be null when h.nlines == 0.
  void OnEvent(const perfd_http_event_header& h, const char (*lines)[PERFD_LINE_MAX]);
  // Completes responses idle for longer than the idle timeout and evicts
  // forgotten connections. Call periodically.
  void FlushIdle(uint64_t now_ns);
  // The worker exited (its fds closed without close() events): responses
  // already idle are completed, everything else is aborted at now_ns.
  void DropProcess(uint32_t tgid, uint64_t now_ns);

  Stats stats() const;
  size_t connections() const { return conns_.size(); }

 private:
  using Key = protocols::ConnKey;
  using KeyHash = protocols::ConnKeyHash;
  using Map = std::unordered_map<Key, ConnStitcher, KeyHash>;

  void CountEvent(const perfd_http_event_header& h);
  ConnStitcher& Find(const Key& key, uint64_t ts_ns);
  // Keeps the finished connection's counters in the totals.
  Map::iterator Erase(Map::iterator it);

  RequestSink& sink_;
  uint64_t idle_timeout_ns_;
  Map conns_;
  Stats stats_;
  StitchCounters retired_;
};

}  // namespace perfd::http
