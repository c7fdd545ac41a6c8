#include "daemon/protocols/client_tracker.h"

#include <algorithm>

#include "daemon/protocols/fnv1a.h"

namespace perfd::protocols {
namespace {

uint64_t SiteKey(uint32_t tgid, int32_t fd) { return (uint64_t{tgid} << 32) | uint32_t(fd); }

}  // namespace

const char* ClientProtocolName(uint8_t proto) {
  switch (proto) {
    case PERFD_PROTO_PGSQL:
      return "postgresql";
    case PERFD_PROTO_REDIS:
      return "redis";
    case PERFD_PROTO_TLS:
      return "tls";
  }
  return "unknown";
}

// One client connection: its protocol once known, the stitcher of that
// protocol, and the owners of its recent egress events.
struct ClientTracker::Conn : pgsql::QuerySink, redis::CommandSink {
  ClientTracker* tracker = nullptr;
  uint32_t pid = 0;
  uint64_t conn_id = 0;
  uint16_t peer_port = 0;
  bool from_start = false;                 // its connect() was traced
  uint8_t protocol = PERFD_PROTO_UNKNOWN;  // as the kernel classified it
  uint64_t last_ns = 0;
  // The ingress event being decoded: records it completes get its arrival.
  uint64_t ingress_ts = 0, ingress_arrival = 0;
  struct Egress {
    uint64_t ts_ns;
    uint64_t owner;    // serving conn_id of the request, 0 unknown
    uint64_t task;     // the writing task's context address, 0 unknown
    std::string site;  // call site, "" unknown
  };
  std::deque<Egress> egress;  // recent writes, oldest first
  std::unique_ptr<pgsql::ConnStitcher> pg;
  std::unique_ptr<redis::ConnStitcher> rd;

  // The write at ts (records start at one), else the newest before it.
  const Egress* EgressAt(uint64_t ts) const {
    for (auto it = egress.rbegin(); it != egress.rend(); ++it)
      if (it->ts_ns <= ts) return &*it;
    return nullptr;
  }

  void Deliver(db::DbCall& call, uint64_t start_ns) {
    const Egress* e = EgressAt(start_ns);
    const uint64_t owner = e ? e->owner : 0;
    if (e) {
      call.call_site = e->site;
      call.task = e->task;
    }
    tracker->stats_.calls++;
    if (owner) tracker->stats_.calls_owned++;
    if (!call.call_site.empty()) tracker->stats_.calls_with_site++;
    tracker->sink_.OnCall(call, owner);
  }

  // A call of this connection; calls are keyed by (system, fingerprint_id).
  db::DbCall NewCall(db::System system, const std::string& fingerprint, uint64_t fingerprint_id,
                     uint64_t start_ns, uint64_t end_ns) const {
    db::DbCall c;
    c.system = system;
    c.pid = pid;
    c.db_conn_id = conn_id;
    c.fingerprint = fingerprint;
    c.fingerprint_id = fingerprint_id;
    c.start_ns = start_ns;
    c.end_ns = end_ns;
    if (end_ns == ingress_ts && ingress_arrival >= start_ns && ingress_arrival <= end_ns)
      c.reply_arrival_ns = ingress_arrival;
    return c;
  }

  void OnQuery(const pgsql::QueryRecord& r) override {
    db::DbCall c =
        NewCall(db::System::kPostgresql, r.fingerprint, r.fingerprint_id, r.start_ns, r.end_ns);
    c.operation = r.operation;
    c.collection = r.table;
    c.rows = r.rows;
    c.error = !r.sqlstate.empty();
    c.error_code = r.sqlstate;
    c.housekeeping = r.housekeeping;
    c.unresolved = r.unresolved;
    Deliver(c, r.start_ns);
  }
  void OnEncrypted(uint32_t p, uint64_t) override { tracker->sink_.OnEncrypted(p, "postgresql"); }

  void OnCommand(const redis::CommandRecord& r) override {
    db::DbCall c = NewCall(db::System::kRedis, r.command, Fnv1a64(r.command), r.start_ns, r.end_ns);
    c.operation = r.command;
    c.error =
        r.reply_type == redis::ReplyType::kError || r.reply_type == redis::ReplyType::kBlobError;
    c.error_code = c.error ? r.error_prefix : "";
    Deliver(c, r.start_ns);
  }
};

ClientTracker::ClientTracker(ClientSink& sink) : sink_(sink) {}
ClientTracker::~ClientTracker() = default;

ClientTracker::Conn& ClientTracker::Find(const perfd_http_event_header& h) {
  auto& slot = conns_[Key{h.tgid, h.conn_id}];
  if (!slot) {
    if (pids_seen_.insert(h.tgid).second && on_first_) on_first_(h.tgid);
    slot = std::make_unique<Conn>();
    slot->tracker = this;
    slot->pid = h.tgid;
    slot->conn_id = h.conn_id;
    slot->peer_port = h.peer_port;
    slot->from_start = h.kind == PERFD_EV_CONNECT;
  }
  return *slot;
}

void ClientTracker::Classify(Conn& c, uint8_t proto) {
  c.protocol = proto;
  if (proto < 4) stats_.conns_by_protocol[proto]++;
  switch (proto) {
    case PERFD_PROTO_PGSQL:
      c.pg = std::make_unique<pgsql::ConnStitcher>(c.pid, c.conn_id, c, stats_.pgsql);
      break;
    case PERFD_PROTO_REDIS:
      c.rd = std::make_unique<redis::ConnStitcher>(c.pid, c.conn_id, c, c.from_start);
      break;
    case PERFD_PROTO_TLS: {
      // Encrypted from the first byte (rediss, direct TLS): the port is the
      // only hint left about what runs inside.
      const char* system = c.peer_port == 5432                          ? "postgresql"
                           : c.peer_port == 6379 || c.peer_port == 6380 ? "redis"
                                                                        : "unknown";
      sink_.OnEncrypted(c.pid, system);
      break;
    }
    default:
      break;
  }
}

void ClientTracker::OnEvent(const perfd_http_event_header& h, std::string_view data) {
  stats_.events++;
  const Key key{h.tgid, h.conn_id};
  if (h.kind == PERFD_EV_CLOSE) {
    stats_.closes++;
    if (auto it = sites_.find(SiteKey(h.tgid, h.fd)); it != sites_.end()) {
      stats_.sites_unused += it->second.size();
      waiting_sites_ -= it->second.size();
      sites_.erase(it);
    }
    auto it = conns_.find(key);
    if (it == conns_.end()) return;
    Close(*it->second, h.ts_ns);
    conns_.erase(it);
    return;
  }
  if (h.kind == PERFD_EV_CONNECT) stats_.connects++;
  Conn& c = Find(h);
  c.last_ns = h.ts_ns;
  if (h.kind != PERFD_EV_READ && h.kind != PERFD_EV_WRITE) return;
  const bool egress = h.kind == PERFD_EV_WRITE;
  const uint64_t total = h.ret > 0 ? uint64_t(h.ret) : 0;
  if (total > data.size()) stats_.bytes_uncaptured += total - data.size();
  if (c.protocol == PERFD_PROTO_UNKNOWN) {
    if (h.proto == PERFD_PROTO_UNKNOWN) {
      // A reply to something sent before we looked: nothing to pair it with.
      stats_.ingress_before_egress++;
      return;
    }
    Classify(c, h.proto);
  }
  if (egress) {
    std::string site = TakeSite(h.tgid, h.fd, h.ts_ns);
    c.egress.push_back({h.ts_ns, h.owner_conn, h.owner_task, std::move(site)});
    if (c.egress.size() > kOwnerHistory) c.egress.pop_front();
  }
  c.ingress_ts = egress ? 0 : h.ts_ns;
  c.ingress_arrival = egress ? 0 : h.arrival_ns;
  DataEvent ev;
  ev.dir = egress ? Direction::kEgress : Direction::kIngress;
  ev.ts_ns = h.ts_ns;
  ev.head = data;
  ev.total = std::max<uint64_t>(total, data.size());
  if (c.pg) c.pg->OnEvent(ev);
  if (c.rd) c.rd->OnEvent(ev);
}

void ClientTracker::OnCallSite(uint32_t tgid, int32_t fd, uint64_t ts_ns, std::string site) {
  stats_.sites++;
  if (waiting_sites_ >= kMaxWaitingSites) {
    stats_.sites_unused += waiting_sites_;
    sites_.clear();
    waiting_sites_ = 0;
  }
  auto& q = sites_[SiteKey(tgid, fd)];
  // Records of one ring buffer arrive in commit order: q stays sorted.
  q.push_back(Site{ts_ns, std::move(site)});
  ++waiting_sites_;
}

std::string ClientTracker::TakeSite(uint32_t tgid, int32_t fd, uint64_t write_ts) {
  auto it = sites_.find(SiteKey(tgid, fd));
  if (it == sites_.end()) return "";
  auto& q = it->second;
  // The write's call site is the newest taken no later than the write (in
  // its own syscall exit, stamped with its time; or when uvloop queued it).
  // Older ones belonged to writes that came before (and whose call site
  // arrived late); newer ones wait for later writes.
  std::string site;
  bool found = false;
  while (!q.empty() && q.front().ts_ns <= write_ts) {
    if (found) stats_.sites_unused++;
    found = write_ts - q.front().ts_ns < kSiteMaxAgeNs;
    if (!found) stats_.sites_unused++;
    site = found ? std::move(q.front().site) : std::string();
    q.pop_front();
    --waiting_sites_;
  }
  if (q.empty()) sites_.erase(it);
  return site;
}

void ClientTracker::Close(Conn& c, uint64_t ts_ns) {
  if (c.pg) c.pg->OnClose();
  if (c.rd) {
    c.rd->OnClose(ts_ns);
    redis_closed_ += c.rd->stats();
  }
}

void ClientTracker::DropProcess(uint32_t tgid) {
  pids_seen_.erase(tgid);
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (it->first.tgid == tgid) {
      Close(*it->second, it->second->last_ns);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClientTracker::FlushIdle(uint64_t now_ns) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (now_ns > it->second->last_ns + kIdleEvictNs) {
      Close(*it->second, it->second->last_ns);
      stats_.evicted_idle++;
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

ClientTracker::Stats ClientTracker::stats() const {
  Stats s = stats_;
  s.redis = redis_closed_;
  for (const auto& [k, c] : conns_)
    if (c->rd) s.redis += c->rd->stats();
  return s;
}

}  // namespace perfd::protocols
