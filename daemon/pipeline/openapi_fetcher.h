// Fetches a service's OpenAPI document from one of its workers, so routes can
// be reported as the FastAPI templates the service declares. Runs on its own
// thread: discovery enqueues services, the fetcher retries with backoff and
// installs the templates into the service's RouteTable.
//
// One thread serves every service, so nothing a service does may hold it
// for long: one deadline (routes.openapi_timeout_ms) covers a whole fetch,
// every listener of the worker included, and services not tried yet go
// before retries of services that failed, so a silent listener costs any
// other service at most one fetch deadline of waiting.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/pipeline/fetch_deadline.h"

namespace perfd {

// Where a process listens: "tcp:<ip>:<port>" or "unix:<path>". Read from the
// process's own /proc view, so it works inside a container's network
// namespace too (the fetch enters that namespace). TCP listeners come first,
// unix ones last.
std::vector<std::string> ListenAddresses(uint32_t pid, const std::string& proc_root = "/proc");

// How one fetch ended. Everything but kUnreachable is a definite answer
// from the service; the fetcher counts each kind by name.
enum class FetchOutcome {
  kOk,                 // HTTP 200 with a complete, well-framed body
  kUnreachable,        // no listener, connect/IO error: retried
  kTimedOut,           // the fetch's deadline passed (a silent listener): retried
  kHttpError,          // a valid response with a status other than 200
  kMalformedResponse,  // not valid HTTP/1.x, truncated, unsupported coding
  kTooLarge,           // over a cap of http::HttpResponseLimits
  kPathRefused,        // a unix socket path with a symlink, or not a socket
  kNetnsFailed,        // the worker's network namespace could not be entered
};

struct FetchResult {
  FetchOutcome outcome = FetchOutcome::kUnreachable;
  int status = 0;
  std::string body;
  std::string error;
};

// GET <path> from one listen address ("tcp:<ip>:<port>" / "unix:<path>") in
// the calling thread's network namespace. A unix path is resolved inside the
// directory `root` (the worker's /proc/<pid>/root) with no symlink followed,
// see worker_socket_path.h. Blocking until the deadline at most.
FetchResult FetchFromAddress(const std::string& addr, const std::string& path,
                             const FetchDeadline& deadline, const std::string& root = "/");
// The same with a deadline of timeout_ms from now, unix paths from "/".
FetchResult FetchFromAddress(const std::string& addr, const std::string& path, uint32_t timeout_ms);

// GET <path> from the first address of the process that answers, inside the
// process's network namespace (or not at all: kNetnsFailed), unix paths in
// its root. Blocking, timeout_ms in total over all addresses.
// proc_root: where /proc is; tests point it at a fake tree.
FetchResult FetchFromProcess(uint32_t pid, const std::string& path, uint32_t timeout_ms,
                             const std::string& proc_root = "/proc");

class OpenApiFetcher {
 public:
  // The first kMaxOpenApiTemplates paths of the document, and how many more
  // it had (never parsed into templates: RouteTable counts them too_many).
  using Install = std::function<void(const std::string& service, std::vector<std::string> paths,
                                     uint64_t omitted)>;
  // FetchFromProcess in production; tests substitute a fetch that needs no
  // other process or network namespace.
  using Fetch =
      std::function<FetchResult(uint32_t pid, const std::string& path, uint32_t timeout_ms)>;
  // retry_backoff_ms: the wait before the first retry, doubled at each one
  // (tests lengthen it to see the order of jobs without racing the clock).
  OpenApiFetcher(std::string path, uint32_t timeout_ms, Install install, Fetch fetch = nullptr,
                 uint64_t retry_backoff_ms = 500);
  ~OpenApiFetcher();

  // Asks for the service's document via this worker, unless already done.
  void Request(const std::string& service, uint32_t pid);
  // "ok", "http_error", "unreachable", "timed_out", "invalid_document",
  // "malformed_response", "too_large", "socket_path_refused", "netns_failed",
  // "internal_error" → count.
  std::map<std::string, uint64_t> Results() const;

 private:
  struct Job {
    std::string service;
    uint32_t pid;
    int attempt;
    uint64_t not_before_ms;
  };
  // One fetch, its verdict, and the install of its templates.
  struct Attempt {
    const char* result;  // a Results() key
    bool definite;       // false: retry with backoff
    std::string error;
  };
  void Run();
  // The ready job to run next (services not tried yet first), or jobs_.end()
  // with *wake_ms set to when the first one becomes ready. Called with mu_ held.
  std::deque<Job>::iterator NextJob(uint64_t now_ms, uint64_t* wake_ms);
  Attempt Try(const Job& job);
  // Called with mu_ held.
  void Record(const Job& job, const Attempt& a);

  const std::string path_;
  const uint32_t timeout_ms_;
  const uint64_t retry_backoff_ms_;
  Install install_;
  Fetch fetch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::map<std::string, bool> services_;  // service → done (or queued)
  std::map<std::string, uint64_t> results_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace perfd
