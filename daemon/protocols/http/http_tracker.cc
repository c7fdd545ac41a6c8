#include "daemon/protocols/http/http_tracker.h"

#include <algorithm>
#include <string_view>

namespace perfd::http {
namespace {

// Length of the data the kernel scanned for lines (see on_exit in
// bpf/http_trace.bpf.c): after a copy fault it fell back to 8 bytes.
uint32_t ScannedBytes(const perfd_http_event_header& h) {
  if (h.ret <= 0) return 0;
  uint64_t limit = (h.flags & PERFD_F_READ_FAULT) ? 8 : PERFD_SCAN_MAX;
  return static_cast<uint32_t>(std::min<uint64_t>(static_cast<uint64_t>(h.ret), limit));
}

}  // namespace

HttpTracker::HttpTracker(RequestSink& sink, uint64_t idle_timeout_ns)
    : sink_(sink), idle_timeout_ns_(idle_timeout_ns) {}

void HttpTracker::CountEvent(const perfd_http_event_header& h) {
  if (h.flags & PERFD_F_ADOPTED) ++stats_.adopted;
  if (h.flags & PERFD_F_LINES_DROPPED) ++stats_.lines_dropped;
  if (h.flags & PERFD_F_SCAN_LIMITED) ++stats_.scan_limited;
  if (h.flags & PERFD_F_READ_FAULT) ++stats_.read_faults;
}

ConnStitcher& HttpTracker::Find(const Key& key, uint64_t ts_ns) {
  auto it = conns_.find(key);
  if (it != conns_.end()) return it->second;
  // Adopted connections (and ones whose ACCEPT was lost) start here.
  ++stats_.conns_unannounced;
  return conns_.try_emplace(key, key.tgid, key.conn_id, sink_, ts_ns).first->second;
}

HttpTracker::Map::iterator HttpTracker::Erase(Map::iterator it) {
  retired_ += it->second.counters();
  return conns_.erase(it);
}

void HttpTracker::OnEvent(const perfd_http_event_header& h, const char (*lines)[PERFD_LINE_MAX]) {
  CountEvent(h);
  Key key{h.tgid, h.conn_id};
  switch (h.kind) {
    case PERFD_EV_ACCEPT: {
      ++stats_.accepts;
      auto it = conns_.find(key);
      if (it != conns_.end()) {  // conn_id reused: never expected, but finish cleanly
        it->second.OnEvent(ConnEvent{ConnEventKind::kClose, h.ts_ns, 0, nullptr, 0});
        Erase(it);
      }
      conns_.try_emplace(key, key.tgid, key.conn_id, sink_, h.ts_ns);
      return;
    }
    case PERFD_EV_CLOSE: {
      ++stats_.closes;
      auto it = conns_.find(key);
      if (it == conns_.end()) return;  // nothing was ever seen on it
      it->second.OnEvent(ConnEvent{ConnEventKind::kClose, h.ts_ns, 0, nullptr, 0});
      Erase(it);
      return;
    }
    case PERFD_EV_READ:
      ++stats_.reads;
      break;
    case PERFD_EV_WRITE:
      ++stats_.writes;
      break;
    default:
      ++stats_.unknown_kind;
      return;
  }

  size_t n = h.nlines;
  if (n > PERFD_MAX_LINES || (n > 0 && lines == nullptr)) {
    ++stats_.malformed;
    n = lines ? std::min<size_t>(n, PERFD_MAX_LINES) : 0;
  }
  // A line that runs to the end of the scanned bytes was cut there, not at
  // CR/LF: its path may be longer than what we see.
  uint32_t scanned = ScannedBytes(h);
  ConnLine conv[PERFD_MAX_LINES];
  for (size_t k = 0; k < n; ++k) {
    size_t len = std::min<size_t>(h.line_len[k], PERFD_LINE_MAX);
    conv[k].text = std::string_view(lines[k], len);
    conv[k].offset = h.line_off[k];
    conv[k].truncated =
        (h.line_flags[k] & PERFD_LINE_LONG) || uint64_t{h.line_off[k]} + len >= scanned;
  }
  ConnEvent ev;
  ev.kind = h.kind == PERFD_EV_READ ? ConnEventKind::kRead : ConnEventKind::kWrite;
  ev.ts_ns = h.ts_ns;
  ev.ret = h.ret;
  ev.py_root = h.py_root;
  ev.arrival_ns = h.arrival_ns;
  ev.lines = conv;
  ev.nlines = n;
  Find(key, h.ts_ns).OnEvent(ev);
}

void HttpTracker::FlushIdle(uint64_t now_ns) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    ConnStitcher& c = it->second;
    c.Flush(now_ns, idle_timeout_ns_);
    uint64_t quiet = now_ns > c.last_event_ns() ? now_ns - c.last_event_ns() : 0;
    if (c.idle() && quiet > kIdleEvictNs) {
      ++stats_.conns_evicted_idle;
      it = Erase(it);
    } else if (quiet > kStaleEvictNs) {
      c.Abort(now_ns);
      ++stats_.conns_evicted_stale;
      it = Erase(it);
    } else {
      ++it;
    }
  }
}

void HttpTracker::DropProcess(uint32_t tgid, uint64_t now_ns) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (it->first.tgid != tgid) {
      ++it;
      continue;
    }
    // A response idle past the timeout was done before the worker died.
    it->second.Flush(now_ns, idle_timeout_ns_);
    it->second.Abort(now_ns);
    ++stats_.conns_dropped;
    it = Erase(it);
  }
}

HttpTracker::Stats HttpTracker::stats() const {
  Stats s = stats_;
  s.conns_open = conns_.size();
  s.stitch = retired_;
  for (const auto& [key, conn] : conns_) s.stitch += conn.counters();
  return s;
}

}  // namespace perfd::http
