// Per-connection HTTP/1.x state machine: turns the ordered read/write/close
// events of one server connection into requests with start/end times,
// status and outcome. Pure logic, no BPF types, so it is tested directly.
//
// HTTP/1.1 answers requests in order, so request lines read are queued and
// each status line written belongs to the oldest queued request. A response
// ends at its last write; that is only known when something else happens
// (the next status line, close, EOF, or an idle flush).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/protocols/http/http_types.h"

namespace perfd::http {

enum class ConnEventKind : uint8_t { kRead, kWrite, kClose };

struct ConnLine {
  std::string_view text;
  uint32_t offset = 0;     // where the line starts in the read/written bytes
  bool truncated = false;  // the line may continue past `text` (cut by length)
};

struct ConnEvent {
  ConnEventKind kind = ConnEventKind::kRead;
  uint64_t ts_ns = 0;
  int64_t ret = 0;  // bytes transferred or -errno (reads/writes)
  const ConnLine* lines = nullptr;
  size_t nlines = 0;
  uint64_t py_root = 0;  // writes: root coroutine frame of the writing task
  // Reads: when the first byte returned was queued to the socket; 0 unknown.
  uint64_t arrival_ns = 0;
};

struct StitchCounters {
  uint64_t requests_started = 0;
  uint64_t requests_completed = 0;
  uint64_t requests_aborted = 0;
  uint64_t unparsed_request_lines = 0;  // read lines that are not request lines
  uint64_t unparsed_status_lines = 0;   // written lines that are not status lines
  uint64_t unparsed_read_bytes = 0;     // bytes read with no request to belong to
  uint64_t unmatched_responses = 0;     // status lines with no queued request
  uint64_t unmatched_write_bytes = 0;   // bytes written with no response in progress
  uint64_t interim_responses = 0;       // 1xx other than 101 (e.g. 100 Continue)
  uint64_t upgrades = 0;                // 101 Switching Protocols
  uint64_t queue_overflows = 0;         // request lines dropped: too many pipelined
  uint64_t idle_completions = 0;        // responses completed by Flush
  uint64_t arrival_unknown = 0;         // requests read with no arrival time (queue 0)
  uint64_t arrival_after_read = 0;      // arrival later than the read (CPU clock skew; queue 0)

  StitchCounters& operator+=(const StitchCounters& o);
};

class ConnStitcher {
 public:
  // Pipelined requests kept per connection; more are dropped and counted so
  // a client cannot grow our memory without bound.
  static constexpr size_t kMaxQueued = 64;

  // created_ns starts the idle clock (see last_event_ns).
  ConnStitcher(uint32_t pid, uint64_t conn_id, RequestSink& sink, uint64_t created_ns = 0);

  void OnEvent(const ConnEvent& ev);
  // Completes a response whose last write is older than idle_timeout_ns: a
  // keep-alive connection gone quiet. Requests still waiting for a status
  // line are left alone (slow handlers are legitimate).
  void Flush(uint64_t now_ns, uint64_t idle_timeout_ns);
  // The worker died: everything unfinished is aborted at ts_ns.
  void Abort(uint64_t ts_ns);

  // No request queued, no response in progress, not upgraded to another
  // protocol: dropping this state loses nothing.
  bool idle() const { return !active_ && queue_.empty() && !upgraded_; }
  bool response_in_progress() const { return active_.has_value(); }
  size_t queued() const { return queue_.size(); }
  // Newest event (or creation) time: how long the connection has been quiet.
  uint64_t last_event_ns() const { return last_event_ns_; }
  const StitchCounters& counters() const { return counters_; }

 private:
  struct Request {
    std::string method;
    std::string path;
    uint64_t start_ns = 0;
    uint64_t arrival_ns = 0;  // <= start_ns
  };
  struct Response {
    Request req;
    int status = 0;
    uint64_t end_ns = 0;  // last write so far
    uint64_t py_root = 0;
  };

  void OnRead(const ConnEvent& ev);
  // The arrival a request line read by ev gets: ev's arrival when it is
  // known and not after the read, else the read itself (counted).
  uint64_t ArrivalOf(const ConnEvent& ev);
  void OnWrite(const ConnEvent& ev);
  void OnStatus(int status, const ConnLine& line, uint64_t ts_ns, uint64_t py_root);
  // EOF, read error or close: the written response is done, requests that
  // never got a status line are aborted.
  void Finish(uint64_t ts_ns);
  void FinishActive(Outcome outcome);
  void AbortQueued(uint64_t ts_ns);
  void Emit(Request&& req, int status, uint64_t end_ns, Outcome outcome, uint64_t py_root = 0);

  uint32_t pid_;
  uint64_t conn_id_;
  RequestSink& sink_;
  std::deque<Request> queue_;
  std::optional<Response> active_;
  bool upgraded_ = false;  // after 101 the bytes are not HTTP/1.x any more
  uint64_t last_event_ns_ = 0;
  StitchCounters counters_;
};

}  // namespace perfd::http
