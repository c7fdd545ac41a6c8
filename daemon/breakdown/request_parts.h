// Where one request's wall time went (pure): its latency — arrival to the
// last byte of the response — split into parts that sum to it exactly
// (docs/METRICS.md, "Request time breakdown").
//
// What perfd measures exactly are intervals: the wait in the socket before
// the first read (queued), the request's own GC pauses, its database calls
// until their replies arrived (db_wait), and the waits for its worker's
// loop (loop_wait): from a reply's arrival until the loop read it, and the
// blocking events of other code while the request was in flight. They can overlap (a call in flight
// during another request's blocking event), so each instant counts once, in
// that order of precedence: a GC pause is the request's own CPU; a call in
// flight is waiting for the database even if the loop is also blocked (the
// reply may not have arrived yet).
// CPU is an estimate: the request's Python samples (on its loop thread and
// worker threads, request identity) times the sample period, by category,
// minus samples taken inside its GC pauses. It fills the time the intervals
// leave; if sampling noise puts it above that time it is scaled down to fit
// (counted: cpu_clamped), so the parts still sum to the latency. What is
// left is `other`: awaiting timers and untracked I/O, a sync call's own
// blocking, sub-threshold waits for the loop, a CPU run queue.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "daemon/python/categories.h"

namespace perfd::breakdown {

enum class Part {
  kQueued,
  kCpuAuth,
  kCpuValidation,
  kCpuSerialization,
  kCpuDbDriver,
  kCpuFramework,
  kCpuApp,
  kDbWait,
  kLoopWait,
  kGc,
  kOther,
};
inline constexpr size_t kNumParts = 11;

// "queued", "cpu_auth", ..., "other": Prometheus `part` label and API name.
std::string_view PartName(Part p);
inline std::string_view PartName(size_t i) { return PartName(static_cast<Part>(i)); }
// The CPU part of a sample category (python::Category order).
Part CpuPart(int category);

struct Interval {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

struct RequestEvidence {
  uint64_t arrival_ns = 0;   // latency start (RoutedRequest::latency_start_ns)
  uint64_t start_ns = 0;     // first read
  uint64_t end_ns = 0;       // last byte written
  std::vector<Interval> gc;  // the request's own GC pauses
  std::vector<Interval> db;  // its database calls until their replies arrived
  // Waiting for the loop: other code's blocking events on its loop, and
  // from each reply's arrival until the worker read it.
  std::vector<Interval> loop;
  // CPU samples per python::Category, outside its GC pauses.
  std::array<uint32_t, python::kNumCategories> cpu_samples{};
  uint64_t sample_period_ns = 0;
};

struct RequestParts {
  std::array<uint64_t, kNumParts> ns{};  // sums to latency_ns
  uint64_t latency_ns = 0;
  bool cpu_clamped = false;  // the sampled CPU did not fit and was scaled down
};

RequestParts ComputeParts(const RequestEvidence& e);

// Length of the union of `intervals` clipped to [lo, hi), minus what
// `taken` (already sorted, disjoint) covers; appends the counted pieces to
// `taken`, kept sorted and disjoint. Exposed for tests.
uint64_t ClaimIntervals(std::vector<Interval> intervals, uint64_t lo, uint64_t hi,
                        std::vector<Interval>* taken);

}  // namespace perfd::breakdown
