// Records the HTTP decoder hands to the rest of the daemon. Plain data: no
// header or body bytes ever appear here (the kernel never sends them).
#pragma once

#include <cstdint>
#include <string>

namespace perfd::http {

enum class Outcome {
  kCompleted,  // a status line was written and the response ended
  kAborted,    // the connection closed / the write failed / the worker died
               // before the response was complete
};

// A request whose request line was read. Sent when it starts, so in-flight
// requests can be counted per route.
struct RequestStart {
  uint32_t pid = 0;
  uint64_t conn_id = 0;
  std::string method;     // "GET", ...
  std::string path;       // request target without query string, e.g. "/users/42"
  uint64_t start_ns = 0;  // CLOCK_MONOTONIC, first byte of the request read
  // When the request's first byte was queued to the socket (<= start_ns;
  // equals start_ns when unknown). start_ns - arrival_ns is queue time.
  uint64_t arrival_ns = 0;
};

struct CompletedRequest {
  uint32_t pid = 0;
  uint64_t conn_id = 0;
  std::string method;
  std::string path;
  int status = 0;           // 0 when no status line was written (aborted early)
  uint64_t start_ns = 0;    // first byte of the request read
  uint64_t arrival_ns = 0;  // first byte queued to the socket (see RequestStart)
  uint64_t end_ns = 0;      // last byte of the response written (or abort time)
  Outcome outcome = Outcome::kCompleted;
  // Root coroutine frame of the asyncio task that wrote the status line
  // (0 if unknown): joins the request with its Python stack samples.
  uint64_t py_root = 0;
};

// Receives requests as the decoder recognises them. Every RequestStart is
// followed by exactly one CompletedRequest with the same pid/conn_id/path.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void OnRequestStart(const RequestStart& start) = 0;
  virtual void OnRequestComplete(const CompletedRequest& req) = 0;
};

}  // namespace perfd::http
