// Joins decoded database calls to the HTTP request that issued them. The
// kernel names the owner of each call as the serving connection of the
// request whose task wrote it (request identity); uvicorn serves one
// request of a connection at a time, in order, so the owner is the latest
// request of that connection that started no later than the call (a
// request's completion reaches the join late: the HTTP tracker knows a
// response ended only when the next request arrives or the connection
// idles). Calls without an owner, or whose request is not in
// flight (background tasks after the response, startup), are reported as
// unjoined, never guessed. Event thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/db/db_observer.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/protocols/client_tracker.h"

namespace perfd {

class DbRequestJoin : public RequestObserver, public protocols::ClientSink {
 public:
  // Calls kept per request; more are counted (calls_over_cap) and dropped.
  static constexpr size_t kMaxCallsPerRequest = 4096;

  // n_plus_one_min_calls: db.n_plus_one_min_calls, for the one analysis of
  // each request every observer shares.
  explicit DbRequestJoin(RequestRouter& router,
                         uint32_t n_plus_one_min_calls = db::NPlusOneDetector::kDefaultMinCalls)
      : router_(router), detector_(n_plus_one_min_calls) {}
  void AddObserver(db::DbObserver* o) { observers_.push_back(o); }
  // Also every completed request with its calls, in the order they were
  // sent (the request time breakdown needs the request's connection and
  // times, which DbObserver does not carry).
  using CompletionSink =
      std::function<void(const RoutedRequest& req, const std::vector<db::DbCall>& calls)>;
  void SetCompletionSink(CompletionSink sink) { completion_ = std::move(sink); }

  void OnStart(const RoutedRequest& req) override;
  void OnComplete(const RoutedRequest& req) override;
  void OnCall(const db::DbCall& call, uint64_t owner_conn) override;
  void OnEncrypted(uint32_t pid, const char* system) override;
  // The worker is gone: its requests were completed (aborted) by the HTTP
  // tracker before; whatever is left is forgotten.
  void DropProcess(uint32_t pid) { inflight_.erase(pid); }

  struct Stats {
    uint64_t joined = 0;
    uint64_t no_owner = 0;    // unjoined: the kernel named no request
    uint64_t owner_idle = 0;  // unjoined: the owner connection had no request in flight
    uint64_t no_service = 0;  // the pid is no known worker's
    uint64_t calls_over_cap = 0;
    uint64_t requests = 0;  // completed requests reported
  };
  Stats stats() const { return stats_; }

 private:
  struct Open {
    uint64_t start_ns = 0;
    std::vector<db::DbCall> calls;
  };
  void Unjoined(const db::DbCall& call);

  RequestRouter& router_;
  const db::NPlusOneDetector detector_;
  std::vector<db::DbObserver*> observers_;
  CompletionSink completion_;
  // pid → serving conn_id → requests in flight, in start order.
  std::unordered_map<uint32_t, std::unordered_map<uint64_t, std::deque<Open>>> inflight_;
  Stats stats_;
};

}  // namespace perfd
