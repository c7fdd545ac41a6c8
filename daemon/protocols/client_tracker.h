// The client side of the connection layer: every connection a traced worker
// opened (connect, or found open at attach) gets the protocol the kernel saw
// in its first bytes (bpf/client_classify.h) and that protocol's stitcher
// (daemon/protocols/<protocol>/stitch.h). Their records become db::DbCalls,
// each carrying the request its bytes were written for: the owner the
// kernel put on the egress event that sent it (request identity, the
// serving connection's conn_id; 0 when unknown). Single-threaded: the event
// thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "bpf/http_trace.h"
#include "daemon/db/db_call.h"
#include "daemon/protocols/conn_key.h"
#include "daemon/protocols/pgsql/stitch.h"
#include "daemon/protocols/redis/stitch.h"

namespace perfd::protocols {

// "postgresql", "redis", "tls", "unknown" (enum perfd_client_proto).
const char* ClientProtocolName(uint8_t proto);

class ClientSink {
 public:
  virtual ~ClientSink() = default;
  // owner_conn: the serving connection of the request that issued the call.
  virtual void OnCall(const db::DbCall& call, uint64_t owner_conn) = 0;
  virtual void OnEncrypted(uint32_t pid, const char* system) = 0;
};

class ClientTracker {
 public:
  // A connection with no event for this long is forgotten (its close was
  // lost, or it idled in a pool for an hour: it is found again at its next
  // event, as a mid-stream connection whose prepared statements are
  // unresolved).
  static constexpr uint64_t kIdleEvictNs = 60ull * 60 * 1000000000;
  // Egress events remembered per connection to find a record's owner.
  static constexpr size_t kOwnerHistory = 64;
  // A call site waits this long for its write (uvloop flushes within the
  // loop iteration).
  static constexpr uint64_t kSiteMaxAgeNs = 1000000000ull;
  // Call sites waiting for their write, at most.
  static constexpr size_t kMaxWaitingSites = 4096;

  struct Stats {
    uint64_t events = 0;
    uint64_t connects = 0;
    uint64_t closes = 0;
    uint64_t bytes_uncaptured = 0;       // transferred beyond what the kernel copied
    uint64_t conns_by_protocol[4] = {};  // indexed by enum perfd_client_proto, at classification
    uint64_t ingress_before_egress = 0;  // replies to requests sent before attach
    uint64_t calls = 0;
    uint64_t calls_owned = 0;      // with a request owner
    uint64_t calls_with_site = 0;  // with a call site
    uint64_t sites = 0;            // call-site stacks received
    uint64_t sites_unused = 0;     // dropped: no write followed in time, or the table was full
    uint64_t evicted_idle = 0;
    pgsql::Stats pgsql;
    redis::RedisStats redis;
  };

  explicit ClientTracker(ClientSink& sink);
  ~ClientTracker();
  ClientTracker(const ClientTracker&) = delete;
  ClientTracker& operator=(const ClientTracker&) = delete;

  void OnEvent(const perfd_http_event_header& h, std::string_view data);
  // Called once per process, at its first client connection (connect or
  // found open); again after DropProcess.
  void SetOnFirstConnection(std::function<void(uint32_t pid)> fn) { on_first_ = std::move(fn); }
  // The call site ("qualname (file:line)", "" if unknown) of the task that
  // wrote to (tgid, fd), taken at ts_ns (the write's own time when taken in
  // its syscall exit; earlier when uvloop queued it): it goes with the first
  // write on that fd at or after ts_ns (within kSiteMaxAgeNs), and with the
  // calls that write sends.
  void OnCallSite(uint32_t tgid, int32_t fd, uint64_t ts_ns, std::string site);
  void DropProcess(uint32_t tgid);
  void FlushIdle(uint64_t now_ns);

  Stats stats() const;
  size_t connections() const { return conns_.size(); }

 private:
  struct Conn;
  using Key = ConnKey;
  using KeyHash = ConnKeyHash;

  Conn& Find(const perfd_http_event_header& h);
  void Classify(Conn& c, uint8_t proto);
  void Close(Conn& c, uint64_t ts_ns);
  std::string TakeSite(uint32_t tgid, int32_t fd, uint64_t write_ts);

  ClientSink& sink_;
  std::function<void(uint32_t)> on_first_;
  std::unordered_set<uint32_t> pids_seen_;
  std::unordered_map<Key, std::unique_ptr<Conn>, KeyHash> conns_;
  struct Site {
    uint64_t ts_ns;
    std::string site;
  };
  // (tgid << 32 | fd) → call sites waiting for their write, oldest first.
  std::unordered_map<uint64_t, std::deque<Site>> sites_;
  size_t waiting_sites_ = 0;
  Stats stats_;
  redis::RedisStats redis_closed_;  // counters of connections gone
};

}  // namespace perfd::protocols
