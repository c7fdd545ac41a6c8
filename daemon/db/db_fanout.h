// Passes each DbObserver call on to several observers in order (the DB
// aggregator behind the API and the Prometheus metrics), so the join that
// produces calls holds one observer.
#pragma once

#include <string>
#include <vector>

#include "daemon/db/db_observer.h"

namespace perfd::db {

class DbFanOut : public DbObserver {
 public:
  void Add(DbObserver* observer) { observers_.push_back(observer); }

  void OnRequestCalls(const std::string& service, const std::string& method,
                      const std::string& route, uint64_t req_start_ns, uint64_t req_end_ns,
                      const std::vector<DbCall>& calls) override {
    for (DbObserver* o : observers_)
      o->OnRequestCalls(service, method, route, req_start_ns, req_end_ns, calls);
  }
  void OnUnjoinedCall(const std::string& service, const DbCall& call) override {
    for (DbObserver* o : observers_) o->OnUnjoinedCall(service, call);
  }
  void OnEncryptedConnection(const std::string& service, const std::string& system) override {
    for (DbObserver* o : observers_) o->OnEncryptedConnection(service, system);
  }

 private:
  std::vector<DbObserver*> observers_;
};

}  // namespace perfd::db
