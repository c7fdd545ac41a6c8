// Which heuristic templates have earned a row of their own. A service
// without an OpenAPI document has no list of its routes, so perfd learns
// them from traffic; a route that got a row on its first request would let
// anyone who sends a hundred made-up paths take every row (the cap is
// final: Prometheus series are never withdrawn). So a heuristic template
// gets its row at its min_requests-th request; until then its requests go
// to "other". Scanners send each path once, real routes repeat.
//
// The candidates are bounded: when max_candidates are tracked, every count
// is halved and those reaching 0 are forgotten, repeated until there is
// room. One-off paths leave first; a template that keeps coming back
// survives. Pure, not thread-safe (RouteTable locks around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace perfd {

class RouteProbation {
 public:
  RouteProbation(uint32_t min_requests, size_t max_candidates);

  // Counts one request of `route`. True when that was its min_requests-th
  // (it is forgotten here: the caller gives it a row).
  bool Admit(const std::string& route);

  size_t candidates() const { return counts_.size(); }
  // Candidates forgotten to make room.
  uint64_t forgotten() const { return forgotten_; }

 private:
  void MakeRoom();

  const uint32_t min_requests_;
  const size_t max_candidates_;
  std::unordered_map<std::string, uint32_t> counts_;  // each < min_requests_
  uint64_t forgotten_ = 0;
};

}  // namespace perfd
