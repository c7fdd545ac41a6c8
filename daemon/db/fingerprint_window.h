// One fingerprint's calls over a sliding window of 1-second slots (each call
// counted in the slot of its end): calls, latency, rows, errors by code, and
// which routes and call sites issued it. Route, call-site and error-code
// names are capped per fingerprint (BoundedNames): past the cap they are
// counted under "_OTHER", so a fingerprint costs bounded memory whatever the
// application does.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "daemon/aggregator/latency_sketch.h"
#include "daemon/aggregator/second_slots.h"
#include "daemon/db/bounded_names.h"
#include "daemon/db/db_call.h"

namespace perfd::db {

// What does not change between calls of one fingerprint.
struct FingerprintInfo {
  System system = System::kPostgresql;
  uint64_t fingerprint_id = 0;  // 0 for the "_OTHER" entry of a service
  std::string text;             // literal-free statement / command name
  std::string operation;
  std::string collection;
  bool housekeeping = false;
  bool unresolved = false;
};

struct FingerprintStats {
  FingerprintInfo info;
  uint64_t calls = 0;
  uint64_t errors = 0;
  uint64_t rows = 0;        // sum over calls with a known row count
  uint64_t rows_known = 0;  // calls with a known row count
  double total_seconds = 0;
  LatencySketch latency;                        // seconds
  std::map<std::string, uint64_t> error_codes;  // "57014" -> count ("" when no code)
  std::map<std::string, uint64_t> routes;       // "GET /users/{id}" -> calls
  std::map<std::string, uint64_t> call_sites;   // "mod.fn (f.py:12)" -> calls
};

struct FingerprintCaps {
  size_t routes = 16;
  size_t call_sites = 16;
  size_t error_codes = 16;
};

class FingerprintWindow {
 public:
  FingerprintWindow(FingerprintInfo info, uint32_t window_max_seconds, FingerprintCaps caps);

  // route: "METHOD /template" or "(no request)". Returns the names folded
  // into "_OTHER" by a cap (0..3).
  uint32_t Record(const DbCall& call, const std::string& route);

  // calls == 0 when nothing of it is in the window.
  FingerprintStats Snapshot(uint32_t window_seconds, uint64_t now_ns) const;
  const FingerprintInfo& info() const { return info_; }
  uint64_t last_ns() const { return last_ns_; }
  size_t allocated_slots() const { return slots_.size(); }

 private:
  struct Slot {
    explicit Slot(uint64_t s) : second(s) {}
    uint64_t second;
    uint64_t calls = 0;
    uint64_t errors = 0;
    uint64_t rows = 0;
    uint64_t rows_known = 0;
    uint64_t call_ns = 0;
    LatencySketch latency;
    IndexCounts routes;
    IndexCounts call_sites;  // calls with a known call site only
    IndexCounts error_codes;
  };

  FingerprintInfo info_;
  SecondSlots<Slot> slots_;
  BoundedNames routes_;
  BoundedNames call_sites_;
  BoundedNames error_codes_;
  uint64_t last_ns_ = 0;
};

}  // namespace perfd::db
