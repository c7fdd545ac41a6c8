#include "daemon/protocols/http/conn_stitcher.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "daemon/protocols/http/line_parser.h"

namespace perfd::http {
namespace {

// Errors that do not end a connection: the syscall is simply retried.
bool IsTransient(int64_t ret) { return ret == -EAGAIN || ret == -EINTR; }

}  // namespace

StitchCounters& StitchCounters::operator+=(const StitchCounters& o) {
  requests_started += o.requests_started;
  requests_completed += o.requests_completed;
  requests_aborted += o.requests_aborted;
  unparsed_request_lines += o.unparsed_request_lines;
  unparsed_status_lines += o.unparsed_status_lines;
  unparsed_read_bytes += o.unparsed_read_bytes;
  unmatched_responses += o.unmatched_responses;
  unmatched_write_bytes += o.unmatched_write_bytes;
  interim_responses += o.interim_responses;
  upgrades += o.upgrades;
  queue_overflows += o.queue_overflows;
  idle_completions += o.idle_completions;
  arrival_unknown += o.arrival_unknown;
  arrival_after_read += o.arrival_after_read;
  return *this;
}

ConnStitcher::ConnStitcher(uint32_t pid, uint64_t conn_id, RequestSink& sink, uint64_t created_ns)
    : pid_(pid), conn_id_(conn_id), sink_(sink), last_event_ns_(created_ns) {}

void ConnStitcher::OnEvent(const ConnEvent& ev) {
  last_event_ns_ = std::max(last_event_ns_, ev.ts_ns);
  switch (ev.kind) {
    case ConnEventKind::kRead:
      OnRead(ev);
      break;
    case ConnEventKind::kWrite:
      OnWrite(ev);
      break;
    case ConnEventKind::kClose:
      Finish(ev.ts_ns);
      break;
  }
}

void ConnStitcher::OnRead(const ConnEvent& ev) {
  if (ev.ret <= 0) {
    if (!IsTransient(ev.ret)) Finish(ev.ts_ns);  // EOF or a reset connection
    return;
  }
  if (upgraded_) return;
  // Bytes read while a request is queued or answered are its body; without
  // one they are garbage or a body we failed to frame.
  bool pending = active_ || !queue_.empty();
  bool any_request = false;
  for (size_t i = 0; i < ev.nlines; ++i) {
    auto line = ParseRequestLine(ev.lines[i].text, ev.lines[i].truncated);
    if (!line) {
      ++counters_.unparsed_request_lines;
      continue;
    }
    any_request = true;
    if (queue_.size() >= kMaxQueued) {
      ++counters_.queue_overflows;
      continue;
    }
    // Pipelined lines of one read share its arrival: they were sent
    // together in practice, and their bytes were all queued by the read.
    queue_.push_back(
        Request{std::string(line->method), std::string(line->path), ev.ts_ns, ArrivalOf(ev)});
    ++counters_.requests_started;
    const Request& req = queue_.back();
    sink_.OnRequestStart(
        RequestStart{pid_, conn_id_, req.method, req.path, req.start_ns, req.arrival_ns});
  }
  if (!any_request && !pending) counters_.unparsed_read_bytes += static_cast<uint64_t>(ev.ret);
}

uint64_t ConnStitcher::ArrivalOf(const ConnEvent& ev) {
  if (ev.arrival_ns == 0) {
    ++counters_.arrival_unknown;
    return ev.ts_ns;
  }
  if (ev.arrival_ns > ev.ts_ns) {
    ++counters_.arrival_after_read;
    return ev.ts_ns;
  }
  return ev.arrival_ns;
}

void ConnStitcher::OnWrite(const ConnEvent& ev) {
  if (ev.ret < 0) {
    if (!IsTransient(ev.ret)) Abort(ev.ts_ns);  // EPIPE, ECONNRESET: peer is gone
    return;
  }
  if (ev.ret == 0 || upgraded_) return;
  bool any_status = false;
  for (size_t i = 0; i < ev.nlines && !upgraded_; ++i) {
    auto status = ParseStatusLine(ev.lines[i].text);
    if (!status) {
      ++counters_.unparsed_status_lines;
      continue;
    }
    any_status = true;
    OnStatus(*status, ev.lines[i], ev.ts_ns, ev.py_root);
  }
  if (any_status) return;
  if (active_) {
    active_->end_ns = ev.ts_ns;
  } else {
    counters_.unmatched_write_bytes += static_cast<uint64_t>(ev.ret);
  }
}

void ConnStitcher::OnStatus(int status, const ConnLine& line, uint64_t ts_ns, uint64_t py_root) {
  if (active_) {
    // Bytes before the status line in this write still belong to the
    // previous response, so it ended with this write.
    if (line.offset > 0) active_->end_ns = ts_ns;
    FinishActive(Outcome::kCompleted);
  }
  if (status < 200 && status != 101) {
    ++counters_.interim_responses;  // the final status line follows
    return;
  }
  if (queue_.empty()) {
    ++counters_.unmatched_responses;
    return;
  }
  active_ = Response{std::move(queue_.front()), status, ts_ns, py_root};
  queue_.pop_front();
  if (status == 101) {
    // The connection now carries another protocol (WebSocket): the HTTP
    // exchange is over, and later bytes must not extend it.
    ++counters_.upgrades;
    upgraded_ = true;
    FinishActive(Outcome::kCompleted);
  }
}

void ConnStitcher::Flush(uint64_t now_ns, uint64_t idle_timeout_ns) {
  if (active_ && now_ns > active_->end_ns && now_ns - active_->end_ns > idle_timeout_ns) {
    ++counters_.idle_completions;
    FinishActive(Outcome::kCompleted);
  }
}

void ConnStitcher::Abort(uint64_t ts_ns) {
  if (active_) {
    active_->end_ns = ts_ns;
    FinishActive(Outcome::kAborted);
  }
  AbortQueued(ts_ns);
}

void ConnStitcher::Finish(uint64_t ts_ns) {
  // The worker decides when a response is done; closing right after writing
  // it is how "Connection: close" responses end.
  if (active_) FinishActive(Outcome::kCompleted);
  AbortQueued(ts_ns);
}

void ConnStitcher::FinishActive(Outcome outcome) {
  Response r = std::move(*active_);
  active_.reset();
  Emit(std::move(r.req), r.status, r.end_ns, outcome, r.py_root);
}

void ConnStitcher::AbortQueued(uint64_t ts_ns) {
  while (!queue_.empty()) {
    Request req = std::move(queue_.front());
    queue_.pop_front();
    Emit(std::move(req), 0, ts_ns, Outcome::kAborted);
  }
}

void ConnStitcher::Emit(Request&& req, int status, uint64_t end_ns, Outcome outcome,
                        uint64_t py_root) {
  if (outcome == Outcome::kCompleted) {
    ++counters_.requests_completed;
  } else {
    ++counters_.requests_aborted;
  }
  CompletedRequest done;
  done.pid = pid_;
  done.conn_id = conn_id_;
  done.method = std::move(req.method);
  done.path = std::move(req.path);
  done.status = status;
  done.start_ns = req.start_ns;
  done.arrival_ns = req.arrival_ns;
  // Never report a negative latency if timestamps from different CPUs skew.
  done.end_ns = std::max(end_ns, req.start_ns);
  done.outcome = outcome;
  done.py_root = py_root;
  sink_.OnRequestComplete(done);
}

}  // namespace perfd::http
