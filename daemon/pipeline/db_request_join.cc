#include "daemon/pipeline/db_request_join.h"

#include <algorithm>

namespace perfd {

void DbRequestJoin::OnStart(const RoutedRequest& req) {
  Open o;
  o.start_ns = req.start_ns;
  inflight_[req.pid][req.conn_id].push_back(std::move(o));
}

void DbRequestJoin::OnComplete(const RoutedRequest& req) {
  std::vector<db::DbCall> calls;
  auto p = inflight_.find(req.pid);
  if (p != inflight_.end()) {
    auto c = p->second.find(req.conn_id);
    if (c != p->second.end()) {
      auto& q = c->second;
      auto it = std::find_if(q.begin(), q.end(),
                             [&](const Open& o) { return o.start_ns == req.start_ns; });
      if (it != q.end()) {
        calls = std::move(it->calls);
        q.erase(it);
      }
      if (q.empty()) p->second.erase(c);
    }
    if (p->second.empty()) inflight_.erase(p);
  }
  // Calls complete in reply order across connections: report them in the
  // order they were sent.
  std::stable_sort(calls.begin(), calls.end(), [](const db::DbCall& a, const db::DbCall& b) {
    return a.start_ns < b.start_ns;
  });
  stats_.requests++;
  if (completion_) completion_(req, calls);
  const db::RequestAnalysis analysis = db::AnalyzeRequest(calls, detector_);
  for (auto* o : observers_)
    o->OnRequestCalls(req.service, req.method, req.route, req.latency_start_ns(), req.end_ns, calls,
                      analysis, req.pod);
}

void DbRequestJoin::OnCall(const db::DbCall& call, uint64_t owner_conn) {
  if (!owner_conn) {
    stats_.no_owner++;
    Unjoined(call);
    return;
  }
  auto p = inflight_.find(call.pid);
  if (p != inflight_.end()) {
    auto c = p->second.find(owner_conn);
    if (c != p->second.end()) {
      // The latest request that started no later than the call: once the
      // next request's bytes were read, the previous response was written
      // (its completion reaches us later, when the HTTP tracker knows the
      // response ended). Pipelined requests read together share a start:
      // the first of them is served first.
      Open* owner = nullptr;
      for (Open& o : c->second) {
        if (o.start_ns > call.start_ns) break;
        if (!owner || o.start_ns != owner->start_ns) owner = &o;
      }
      if (owner) {
        if (owner->calls.size() >= kMaxCallsPerRequest) {
          stats_.calls_over_cap++;
          return;
        }
        owner->calls.push_back(call);
        stats_.joined++;
        return;
      }
    }
  }
  stats_.owner_idle++;
  Unjoined(call);
}

void DbRequestJoin::Unjoined(const db::DbCall& call) {
  const std::string* service = router_.ServiceOf(call.pid);
  if (!service) {
    stats_.no_service++;
    return;
  }
  const WorkerPod* pod = router_.PodOf(call.pid);
  for (auto* o : observers_) o->OnUnjoinedCall(*service, call, pod);
}

void DbRequestJoin::OnEncrypted(uint32_t pid, const char* system) {
  const std::string* service = router_.ServiceOf(pid);
  if (!service) {
    stats_.no_service++;
    return;
  }
  const WorkerPod* pod = router_.PodOf(pid);
  for (auto* o : observers_) o->OnEncryptedConnection(*service, system, pod);
}

}  // namespace perfd
