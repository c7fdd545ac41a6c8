// Fetches a service's OpenAPI document from one of its workers, so routes can
// be reported as the FastAPI templates the service declares. Runs on its own
// thread: discovery enqueues services, the fetcher retries with backoff and
// installs the templates into the service's RouteTable.
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

namespace perfd {

// Where a process listens: "tcp:<ip>:<port>" or "unix:<path>". Read from the
// process's own /proc view, so it works inside a container's network
// namespace too (the fetch enters that namespace).
std::vector<std::string> ListenAddresses(uint32_t pid, const std::string& proc_root = "/proc");

// How one fetch ended. Everything but kUnreachable is a definite answer
// from the service; the fetcher counts each kind by name.
enum class FetchOutcome {
  kOk,                 // HTTP 200 with a complete, well-framed body
  kUnreachable,        // no listener, connect/IO error or timeout: retried
  kHttpError,          // a valid response with a status other than 200
  kMalformedResponse,  // not valid HTTP/1.x, truncated, unsupported coding
  kTooLarge,           // over a cap of http::HttpResponseLimits
};

struct FetchResult {
  FetchOutcome outcome = FetchOutcome::kUnreachable;
  int status = 0;
  std::string body;
  std::string error;
};

// GET <path> from one listen address ("tcp:<ip>:<port>" / "unix:<path>") in
// the calling thread's network namespace. Blocking, bounded by timeout_ms.
FetchResult FetchFromAddress(const std::string& addr, const std::string& path, uint32_t timeout_ms);

// GET <path> from the first address of the process that answers, inside the
// process's network namespace. Blocking, bounded by timeout_ms per address.
FetchResult FetchFromProcess(uint32_t pid, const std::string& path, uint32_t timeout_ms);

class OpenApiFetcher {
 public:
  using Install = std::function<void(const std::string& service, std::vector<std::string>)>;
  // FetchFromProcess in production; tests substitute a fetch that needs no
  // other process or network namespace.
  using Fetch =
      std::function<FetchResult(uint32_t pid, const std::string& path, uint32_t timeout_ms)>;
  OpenApiFetcher(std::string path, uint32_t timeout_ms, Install install,
                 Fetch fetch = FetchFromProcess);
  ~OpenApiFetcher();

  // Asks for the service's document via this worker, unless already done.
  void Request(const std::string& service, uint32_t pid);
  // "ok", "http_error", "unreachable", "invalid_document", "malformed_response",
  // "too_large", "internal_error" → count.
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
  Attempt Try(const Job& job);
  // Called with mu_ held.
  void Record(const Job& job, const Attempt& a);

  const std::string path_;
  const uint32_t timeout_ms_;
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
