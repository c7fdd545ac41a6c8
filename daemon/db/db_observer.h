// Receives decoded database calls once they are joined to requests. The
// join (daemon/pipeline) calls it on the event thread, single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/db/db_call.h"
#include "daemon/db/request_analysis.h"
#include "daemon/discovery/worker.h"

namespace perfd::db {

class DbObserver {
 public:
  virtual ~DbObserver() = default;
  // Every completed HTTP request of a traced worker (also those with no
  // call: 0 queries per request counts), with the calls its tasks issued in
  // the order they were sent and what they add up to (analysed once, by the
  // caller, for every observer). route is the template ("/users/{id}").
  // pod: the worker's pod (null outside one, or with kubernetes.* off),
  // valid during the call; every callback has it.
  virtual void OnRequestCalls(const std::string& service, const std::string& method,
                              const std::string& route, uint64_t req_start_ns, uint64_t req_end_ns,
                              const std::vector<DbCall>& calls, const RequestAnalysis& analysis,
                              const WorkerPod* pod) = 0;
  // Without a pod (tests, tools).
  void OnRequestCalls(const std::string& service, const std::string& method,
                      const std::string& route, uint64_t req_start_ns, uint64_t req_end_ns,
                      const std::vector<DbCall>& calls, const RequestAnalysis& analysis) {
    OnRequestCalls(service, method, route, req_start_ns, req_end_ns, calls, analysis, nullptr);
  }
  // The same, analysed here with the default N+1 threshold (tests, tools).
  void OnRequestCalls(const std::string& service, const std::string& method,
                      const std::string& route, uint64_t req_start_ns, uint64_t req_end_ns,
                      const std::vector<DbCall>& calls) {
    OnRequestCalls(service, method, route, req_start_ns, req_end_ns, calls,
                   AnalyzeRequest(calls, NPlusOneDetector()), nullptr);
  }
  // A call no request claimed (startup, background task, pool housekeeping
  // between requests, or a worker without request identity).
  virtual void OnUnjoinedCall(const std::string& service, const DbCall& call,
                              const WorkerPod* pod) = 0;
  void OnUnjoinedCall(const std::string& service, const DbCall& call) {
    OnUnjoinedCall(service, call, nullptr);
  }
  // A client connection negotiated TLS: counted, never parsed. system is
  // "postgresql", "redis" or "unknown".
  virtual void OnEncryptedConnection(const std::string& service, const std::string& system,
                                     const WorkerPod* pod) = 0;
  void OnEncryptedConnection(const std::string& service, const std::string& system) {
    OnEncryptedConnection(service, system, nullptr);
  }
};

}  // namespace perfd::db
