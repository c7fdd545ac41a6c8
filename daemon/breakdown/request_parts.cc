#include "daemon/breakdown/request_parts.h"

#include <algorithm>

namespace perfd::breakdown {

std::string_view PartName(Part p) {
  switch (p) {
    case Part::kQueued:
      return "queued";
    case Part::kCpuAuth:
      return "cpu_auth";
    case Part::kCpuValidation:
      return "cpu_validation";
    case Part::kCpuSerialization:
      return "cpu_serialization";
    case Part::kCpuDbDriver:
      return "cpu_db_driver";
    case Part::kCpuFramework:
      return "cpu_framework";
    case Part::kCpuApp:
      return "cpu_app";
    case Part::kDbWait:
      return "db_wait";
    case Part::kLoopWait:
      return "loop_wait";
    case Part::kGc:
      return "gc";
    case Part::kOther:
      return "other";
  }
  return "other";
}

Part CpuPart(int category) {
  switch (static_cast<python::Category>(category)) {
    case python::Category::kAuth:
      return Part::kCpuAuth;
    case python::Category::kValidation:
      return Part::kCpuValidation;
    case python::Category::kSerialization:
      return Part::kCpuSerialization;
    case python::Category::kDb:
      return Part::kCpuDbDriver;
    case python::Category::kFramework:
      return Part::kCpuFramework;
    case python::Category::kApp:
      return Part::kCpuApp;
  }
  return Part::kCpuApp;
}

namespace {

// Sorted, merged union of the intervals clipped to [lo, hi).
std::vector<Interval> Union(std::vector<Interval> v, uint64_t lo, uint64_t hi) {
  for (Interval& i : v) {
    i.start_ns = std::max(i.start_ns, lo);
    i.end_ns = std::min(i.end_ns, hi);
  }
  v.erase(
      std::remove_if(v.begin(), v.end(), [](const Interval& i) { return i.end_ns <= i.start_ns; }),
      v.end());
  std::sort(v.begin(), v.end(),
            [](const Interval& a, const Interval& b) { return a.start_ns < b.start_ns; });
  std::vector<Interval> out;
  for (const Interval& i : v) {
    if (!out.empty() && i.start_ns <= out.back().end_ns)
      out.back().end_ns = std::max(out.back().end_ns, i.end_ns);
    else
      out.push_back(i);
  }
  return out;
}

}  // namespace

uint64_t ClaimIntervals(std::vector<Interval> intervals, uint64_t lo, uint64_t hi,
                        std::vector<Interval>* taken) {
  const std::vector<Interval> want = Union(std::move(intervals), lo, hi);
  std::vector<Interval> pieces;
  uint64_t total = 0;
  size_t t = 0;
  for (const Interval& w : want) {
    uint64_t cur = w.start_ns;
    while (t < taken->size() && (*taken)[t].end_ns <= cur) ++t;
    for (size_t k = t; k < taken->size() && cur < w.end_ns; ++k) {
      const Interval& tk = (*taken)[k];
      if (tk.start_ns >= w.end_ns) break;
      if (tk.start_ns > cur) {
        pieces.push_back({cur, tk.start_ns});
        total += tk.start_ns - cur;
      }
      cur = std::max(cur, tk.end_ns);
    }
    if (cur < w.end_ns) {
      pieces.push_back({cur, w.end_ns});
      total += w.end_ns - cur;
    }
  }
  taken->insert(taken->end(), pieces.begin(), pieces.end());
  *taken = Union(std::move(*taken), 0, UINT64_MAX);
  return total;
}

RequestParts ComputeParts(const RequestEvidence& e) {
  RequestParts r;
  const uint64_t arrival = std::min(e.arrival_ns, e.start_ns);
  if (e.end_ns <= arrival) return r;
  r.latency_ns = e.end_ns - arrival;
  const uint64_t start = std::min(e.start_ns, e.end_ns);
  auto& ns = r.ns;
  ns[size_t(Part::kQueued)] = start - arrival;

  // Served time, claimed by the exact intervals in order of precedence.
  std::vector<Interval> taken;
  ns[size_t(Part::kGc)] = ClaimIntervals(e.gc, start, e.end_ns, &taken);
  ns[size_t(Part::kDbWait)] = ClaimIntervals(e.db, start, e.end_ns, &taken);
  ns[size_t(Part::kLoopWait)] = ClaimIntervals(e.loop, start, e.end_ns, &taken);
  uint64_t left = e.end_ns - start - ns[size_t(Part::kGc)] - ns[size_t(Part::kDbWait)] -
                  ns[size_t(Part::kLoopWait)];

  // CPU fills what is left, scaled down when sampling noise overshoots it.
  uint64_t cpu_total = 0;
  for (uint32_t n : e.cpu_samples) cpu_total += uint64_t(n) * e.sample_period_ns;
  const bool clamp = cpu_total > left;
  r.cpu_clamped = clamp;
  uint64_t cpu_given = 0;
  for (size_t c = 0; c < e.cpu_samples.size(); ++c) {
    const uint64_t want = uint64_t(e.cpu_samples[c]) * e.sample_period_ns;
    const uint64_t got = clamp ? uint64_t((unsigned __int128)want * left / cpu_total) : want;
    ns[size_t(CpuPart(int(c)))] += got;
    cpu_given += got;
  }
  ns[size_t(Part::kOther)] = left - cpu_given;
  return r;
}

}  // namespace perfd::breakdown
