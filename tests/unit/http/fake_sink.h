// Records what a decoder hands to its RequestSink, in order.
#pragma once

#include <string>
#include <vector>

#include "daemon/protocols/http/http_types.h"

namespace perfd::http::testing {

class FakeSink : public RequestSink {
 public:
  void OnRequestStart(const RequestStart& s) override {
    starts.push_back(s);
    log.push_back("start " + s.method + " " + s.path);
  }
  void OnRequestComplete(const CompletedRequest& r) override {
    done.push_back(r);
    log.push_back(std::string(r.outcome == Outcome::kCompleted ? "done " : "abort ") + r.method +
                  " " + r.path + " " + std::to_string(r.status));
  }

  std::vector<RequestStart> starts;
  std::vector<CompletedRequest> done;
  std::vector<std::string> log;  // both kinds, in call order
};

}  // namespace perfd::http::testing
