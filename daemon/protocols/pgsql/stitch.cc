#include "daemon/protocols/pgsql/stitch.h"

#include <algorithm>

namespace perfd::pgsql {
namespace {

// The NUL-terminated string at *pos of a kept body (to its end if the NUL
// was cut); advances *pos past it, beyond body.size() if it was cut.
std::string_view CString(std::string_view body, size_t* pos) {
  if (*pos >= body.size()) {
    *pos = body.size() + 1;  // missing: cut before it
    return {};
  }
  size_t nul = body.find('\0', *pos);
  size_t end = nul == std::string_view::npos ? body.size() : nul;
  std::string_view s = body.substr(*pos, end - *pos);
  *pos = end + 1;
  return s;
}

// Unresolved statements are made per use: compare them by name.
bool SameStatement(const std::shared_ptr<const ConnStitcher::Statement>& a,
                   const std::shared_ptr<const ConnStitcher::Statement>& b) {
  if (a == b) return true;
  return a && b && a->unresolved && b->unresolved && a->name == b->name;
}

}  // namespace

ConnStitcher::ConnStitcher(uint32_t pid, uint64_t conn_id, QuerySink& sink, Stats& stats,
                           const Limits& limits)
    : pid_(pid),
      conn_id_(conn_id),
      sink_(sink),
      stats_(stats),
      limits_(limits),
      front_(Side::kFrontend, limits_, stats),
      back_(Side::kBackend, limits_, stats) {}

void ConnStitcher::OnEvent(const protocols::DataEvent& ev) {
  ++stats_.events;
  if (encrypted_) return;
  if (ev.dir == protocols::Direction::kEgress) {
    front_.Feed(ev, *this);
  } else {
    last_ingress_ns_ = ev.ts_ns;
    back_.Feed(ev, *this);
  }
}

void ConnStitcher::OnMessage(Side side, const Message& m) {
  if (side == Side::kFrontend) {
    OnFrontend(m);
  } else {
    OnBackend(m);
  }
}

void ConnStitcher::OnLost(Side side, uint64_t ts_ns) {
  if (side == Side::kFrontend) {
    // Requests may be missing. A Bind whose Execute was cut off was executed
    // all the same (drivers always send them together).
    if (bind_pending_) InferExecute(ts_ns);
    // An executemany cut short: the lost bytes may hold more executions.
    if (!pending_.empty() && pending_.back().kind == Pending::Kind::kExecute &&
        !pending_.back().sent)
      pending_.back().open_ended = true;
    egress_lost_ns_ = ts_ns;
    MarkSent(ts_ns);
    discard_until_sync_ = false;
    return;
  }
  responses_lost_ = true;
  if (!pending_.empty()) pending_.front().rows_lost = true;
}

ConnStitcher::StatementPtr ConnStitcher::MakeStatement(std::string_view name, std::string_view text,
                                                       bool truncated) {
  auto st = std::make_shared<Statement>();
  st->name = std::string(name);
  st->facts = Fingerprint(text, truncated);
  st->truncated = truncated;
  if (truncated) ++stats_.text_truncated;
  return st;
}

ConnStitcher::StatementPtr ConnStitcher::Lookup(const std::string& name) {
  if (name.empty() && unnamed_) return unnamed_;
  if (!name.empty()) {
    auto it = prepared_.find(name);
    if (it != prepared_.end()) {
      it->second.last_use = ++use_clock_;
      return it->second.stmt;
    }
  }
  // Prepared before we saw the connection (or forgotten): never dropped,
  // reported under its name.
  ++stats_.prepared_unresolved;
  auto st = std::make_shared<Statement>();
  st->name = name;
  st->unresolved = true;
  st->facts.fingerprint = "(prepared before attach) " + (name.empty() ? "<unnamed>" : name);
  st->facts.id = FingerprintId(st->facts.fingerprint);
  return st;
}

ConnStitcher::StatementPtr ConnStitcher::NameNotCaptured() {
  ++stats_.text_truncated;
  auto st = std::make_shared<Statement>();
  st->unresolved = true;
  st->truncated = true;
  st->facts.fingerprint = "(statement name not captured)";
  st->facts.id = FingerprintId(st->facts.fingerprint);
  return st;
}

void ConnStitcher::Remember(const StatementPtr& st) {
  auto it = prepared_.find(st->name);
  if (it == prepared_.end() && prepared_.size() >= limits_.max_prepared) {
    auto lru = std::min_element(
        prepared_.begin(), prepared_.end(),
        [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
    prepared_.erase(lru);
    ++stats_.prepared_evicted;
  }
  prepared_[st->name] = Prepared{st, ++use_clock_};
}

void ConnStitcher::Push(Pending p) {
  if (pending_.size() >= limits_.max_pending) {
    ++stats_.pending_overflows;  // refused: its responses will find no request
    return;
  }
  pending_.push_back(std::move(p));
}

void ConnStitcher::MarkSent(uint64_t ts) {
  for (auto it = pending_.rbegin(); it != pending_.rend() && !it->sent; ++it) {
    it->start_ns = ts;
    it->sent = true;
  }
}

void ConnStitcher::InferExecute(uint64_t ts) {
  bind_pending_ = false;
  auto it = portals_.find("");
  if (it == portals_.end()) return;
  if (!pending_.empty() && pending_.back().kind == Pending::Kind::kExecute &&
      SameStatement(pending_.back().stmt, it->second)) {
    // executemany cut short: more executions than we saw, count them from
    // the responses.
    pending_.back().open_ended = true;
    return;
  }
  Pending p = Pending::Make(Pending::Kind::kExecute, it->second, ts);
  p.sent = true;
  p.open_ended = true;
  Push(std::move(p));
}

// A BindComplete with no Execute waiting: the Bind/Execute were written in
// bytes we did not capture, right after the last Parse we saw (psycopg sends
// Parse/Bind/Describe/Execute/Sync in one write).
void ConnStitcher::InferLostExecute() {
  ++stats_.inferred_executes;
  StatementPtr st = last_parsed_ ? last_parsed_ : Lookup("");
  Pending p = Pending::Make(Pending::Kind::kExecute, st, egress_lost_ns_);
  p.sent = true;
  p.open_ended = true;
  pending_.push_front(std::move(p));
}

void ConnStitcher::OnFrontend(const Message& m) {
  if (m.type == 0) {  // startup phase
    if (m.startup_code == kSslRequest || m.startup_code == kGssEncRequest) back_.ExpectSslAnswer();
    return;
  }
  const bool new_group = pending_.empty() || pending_.back().sent;
  if (discard_until_sync_ && m.type != 'S' &&
      std::string_view("QPBEC").find(m.type) != std::string_view::npos) {
    ++stats_.skipped_after_error;  // the server skips it too
    return;
  }
  if (new_group && responses_lost_ && !pending_.empty() &&
      std::string_view("QPBE").find(m.type) != std::string_view::npos) {
    // The client moved on, so the previous requests were answered in bytes
    // we did not see (drivers wait for ReadyForQuery before the next request).
    FlushLost(last_ingress_ns_);
  }
  size_t pos = 0;
  switch (m.type) {
    case 'Q': {
      std::string_view text = CString(m.body, &pos);
      Pending p =
          Pending::Make(Pending::Kind::kQuery, MakeStatement("", text, m.truncated), m.ts_ns);
      p.sent = true;
      Push(std::move(p));
      break;
    }
    case 'P': {
      std::string_view name = CString(m.body, &pos);
      std::string_view text = CString(m.body, &pos);
      StatementPtr st = MakeStatement(name, text, m.truncated);
      if (name.empty()) {
        unnamed_ = st;
      } else {
        Remember(st);
      }
      last_parsed_ = st;
      Push(Pending::Make(Pending::Kind::kParse, st, m.ts_ns));
      break;
    }
    case 'B': {
      std::string portal(CString(m.body, &pos));
      std::string name(CString(m.body, &pos));
      // The statement name was cut (a gap): which statement is unknown.
      StatementPtr st = pos > m.body.size() ? NameNotCaptured() : Lookup(name);
      if (!portal.empty() && portals_.size() >= limits_.max_portals && !portals_.count(portal)) {
        ++stats_.portals_refused;
      } else {
        portals_[portal] = st;
      }
      bind_pending_ = true;
      break;
    }
    case 'E': {
      bind_pending_ = false;
      std::string portal(CString(m.body, &pos));
      auto it = portals_.find(portal);
      StatementPtr st = it != portals_.end() ? it->second : Lookup(portal.empty() ? "" : portal);
      if (!pending_.empty() && pending_.back().kind == Pending::Kind::kExecute &&
          SameStatement(pending_.back().stmt, st) && !pending_.back().open_ended) {
        ++pending_.back().executions;  // executemany: one record per statement and Sync
        break;
      }
      Push(Pending::Make(Pending::Kind::kExecute, st, m.ts_ns));
      break;
    }
    case 'S': {
      discard_until_sync_ = false;
      bind_pending_ = false;
      MarkSent(m.ts_ns);
      Pending p = Pending::Make(Pending::Kind::kSync, nullptr, m.ts_ns);
      p.sent = true;
      Push(std::move(p));
      break;
    }
    case 'H':
      MarkSent(m.ts_ns);
      break;
    case 'C': {
      char kind = m.body.empty() ? 0 : m.body[0];
      pos = 1;
      std::string name(CString(m.body, &pos));
      if (kind == 'S') {
        if (name.empty()) {
          unnamed_.reset();
        } else {
          prepared_.erase(name);
        }
      } else if (kind == 'P') {
        portals_.erase(name);
      }
      break;
    }
    default:  // Describe, CopyData/Done/Fail, Terminate, password, FunctionCall
      break;
  }
}

void ConnStitcher::Complete(Pending& p, std::string_view tag, bool has_tag) {
  int64_t per = has_tag ? TagRows(tag) : -1;
  if (per < 0) per = p.rows_lost ? -1 : static_cast<int64_t>(p.data_rows);
  if (per < 0) {
    p.rows_unknown = true;
  } else {
    p.rows += per;
  }
  if (has_tag && p.first_tag_op.empty()) p.first_tag_op = TagOperation(tag);
  p.data_rows = 0;
  p.rows_lost = false;
  ++p.completed;
}

void ConnStitcher::OnBackend(const Message& m) {
  if (m.ssl_answer) {
    if (m.type == 'S' || m.type == 'G') {
      encrypted_ = true;
      ++stats_.encrypted;
      front_.Stop();
      back_.Stop();
      sink_.OnEncrypted(pid_, conn_id_);
    } else {
      front_.ExpectStartup();
    }
    return;
  }
  using K = Pending::Kind;
  // A response that answers a Parse, Bind or Execute while a Sync is the
  // oldest request: that Sync was answered in bytes we did not see (or was
  // a false boundary at attach). Drop it so that pairing realigns instead
  // of staying one request behind.
  if (std::string_view("12DCIs").find(m.type) != std::string_view::npos) {
    while (pending_.size() > 1 && pending_.front().kind == K::kSync) {
      pending_.pop_front();
      ++stats_.realigned;
    }
  }
  Pending* front = pending_.empty() ? nullptr : &pending_.front();
  switch (m.type) {
    case '1':  // ParseComplete
      if (front != nullptr && front->kind == K::kParse) {
        pending_.pop_front();
      } else {
        ++stats_.unpaired_responses;
      }
      break;
    case '2':  // BindComplete
      if (egress_lost_ns_ != 0 && (front == nullptr || front->kind == K::kSync)) InferLostExecute();
      break;
    case 'D':  // DataRow: counted, never read
      if (front != nullptr && (front->kind == K::kExecute || front->kind == K::kQuery))
        ++front->data_rows;
      break;
    case 'C':  // CommandComplete
    case 'I':  // EmptyQueryResponse
    case 's':  // PortalSuspended (Execute with a row limit)
      if (front == nullptr || (front->kind != K::kExecute && front->kind != K::kQuery)) {
        ++stats_.unpaired_responses;
        break;
      }
      Complete(*front, m.body.substr(0, m.body.find('\0')), m.type == 'C' && !m.truncated);
      if (front->kind == K::kExecute && !front->open_ended &&
          front->completed >= front->executions) {
        Emit(*front, m.ts_ns);
        pending_.pop_front();
      }
      break;
    case 'E': {  // ErrorResponse: only its SQLSTATE was kept
      if (front == nullptr) {
        ++stats_.unpaired_responses;
        break;
      }
      if (front->sqlstate.empty()) front->sqlstate = std::string(m.body);
      if (front->kind == K::kQuery || front->kind == K::kSync) break;  // ReadyForQuery follows
      front->executions = front->completed + 1;
      front->rows_unknown = true;
      if (front->kind == K::kParse && !front->stmt->name.empty()) {
        auto it = prepared_.find(front->stmt->name);
        if (it != prepared_.end() && it->second.stmt == front->stmt) prepared_.erase(it);
      }
      Emit(*front, m.ts_ns);
      pending_.pop_front();
      // The server skips everything up to the next Sync.
      while (!pending_.empty() && pending_.front().kind != K::kSync) {
        ++stats_.skipped_after_error;
        pending_.pop_front();
      }
      if (pending_.empty()) discard_until_sync_ = true;
      break;
    }
    case 'Z':  // ReadyForQuery
      // The server reached a Sync, even one written in bytes we did not see.
      discard_until_sync_ = false;
      while (!pending_.empty()) {
        Pending p = std::move(pending_.front());
        pending_.pop_front();
        if (p.kind == K::kSync) break;
        if (p.kind == K::kQuery) {
          Emit(p, m.ts_ns);
          break;
        }
        // An Execute whose completion was not seen (lost, or open-ended).
        if (p.kind == K::kExecute) {
          if (p.completed < p.executions && !p.open_ended) p.rows_unknown = true;
          if (p.open_ended && (p.completed == 0 || responses_lost_)) p.rows_unknown = true;
          if (p.rows_lost && p.data_rows > 0) p.rows_unknown = true;
          Emit(p, m.ts_ns);
        }
      }
      responses_lost_ = false;
      egress_lost_ns_ = 0;
      break;
    default:
      // ParameterStatus, NoticeResponse, NotificationResponse, BindComplete,
      // CloseComplete, descriptions, COPY responses and data: nothing to pair.
      break;
  }
}

void ConnStitcher::Emit(const Pending& p, uint64_t end_ns) {
  QueryRecord r;
  r.pid = pid_;
  r.conn_id = conn_id_;
  r.protocol = p.kind == Pending::Kind::kQuery ? Protocol::kSimple : Protocol::kExtended;
  r.start_ns = p.start_ns;
  r.end_ns = end_ns;
  r.rows = p.rows_unknown ? -1 : p.rows;
  r.executions = p.open_ended ? std::max<uint32_t>(p.completed, 1) : p.executions;
  r.sqlstate = p.sqlstate;
  if (p.stmt) {
    const StatementFacts& f = p.stmt->facts;
    r.operation = !p.first_tag_op.empty() ? p.first_tag_op : f.operation;
    r.table = f.table;
    r.fingerprint = f.fingerprint;
    r.fingerprint_id = f.id;
    r.statement = p.stmt->name;
    r.unresolved = p.stmt->unresolved;
    r.text_truncated = p.stmt->truncated;
    r.housekeeping = f.housekeeping;
  }
  ++stats_.records;
  sink_.OnQuery(r);
}

void ConnStitcher::FlushLost(uint64_t end_ns) {
  for (Pending& p : pending_) {
    if (p.kind != Pending::Kind::kExecute && p.kind != Pending::Kind::kQuery) continue;
    // Completions may have been in the lost bytes: the rows are unknown (and
    // executions of an open-ended Execute a lower bound).
    if (p.kind == Pending::Kind::kExecute && (p.completed < p.executions || p.open_ended))
      p.rows_unknown = true;
    if (p.kind == Pending::Kind::kQuery && p.completed == 0) p.rows_unknown = true;
    if (p.rows_lost && p.data_rows > 0) p.rows_unknown = true;
    Emit(p, end_ns);
  }
  pending_.clear();
  responses_lost_ = false;
}

void ConnStitcher::OnClose() {
  if (responses_lost_) {
    FlushLost(last_ingress_ns_);
    return;
  }
  for (const Pending& p : pending_)
    if (p.kind == Pending::Kind::kExecute || p.kind == Pending::Kind::kQuery) ++stats_.unanswered;
  pending_.clear();
}

}  // namespace perfd::pgsql
