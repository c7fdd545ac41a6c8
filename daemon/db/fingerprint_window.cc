#include "daemon/db/fingerprint_window.h"

#include <algorithm>
#include <utility>

namespace perfd::db {

FingerprintWindow::FingerprintWindow(FingerprintInfo info, uint32_t window_max_seconds,
                                     FingerprintCaps caps)
    : info_(std::move(info)),
      slots_(window_max_seconds),
      routes_(caps.routes),
      call_sites_(caps.call_sites),
      error_codes_(caps.error_codes) {}

uint32_t FingerprintWindow::Record(const DbCall& call, const std::string& route) {
  last_ns_ = std::max(last_ns_, call.end_ns);
  Slot* slot = slots_.At(call.end_ns / kNsPerSecond);
  if (slot == nullptr) return 0;
  bool route_folded = false, site_folded = false, code_folded = false;
  ++slot->calls;
  slot->call_ns += call.duration_ns();
  slot->latency.Add(static_cast<double>(call.duration_ns()) / 1e9);
  if (call.rows >= 0) {
    slot->rows += static_cast<uint64_t>(call.rows);
    ++slot->rows_known;
  }
  if (call.error) {
    ++slot->errors;
    AddCount(slot->error_codes, error_codes_.Index(call.error_code, &code_folded));
  }
  AddCount(slot->routes, routes_.Index(route, &route_folded));
  if (!call.call_site.empty())
    AddCount(slot->call_sites, call_sites_.Index(call.call_site, &site_folded));
  return uint32_t(route_folded) + uint32_t(site_folded) + uint32_t(code_folded);
}

FingerprintStats FingerprintWindow::Snapshot(uint32_t window_seconds, uint64_t now_ns) const {
  FingerprintStats out;
  out.info = info_;
  uint64_t call_ns = 0;
  slots_.ForWindow(window_seconds, now_ns, [&](const Slot& s) {
    out.calls += s.calls;
    out.errors += s.errors;
    out.rows += s.rows;
    out.rows_known += s.rows_known;
    call_ns += s.call_ns;
    out.latency.Merge(s.latency);
    for (const auto& [i, n] : s.routes) out.routes[routes_.Name(i)] += n;
    for (const auto& [i, n] : s.call_sites) out.call_sites[call_sites_.Name(i)] += n;
    for (const auto& [i, n] : s.error_codes) out.error_codes[error_codes_.Name(i)] += n;
  });
  out.total_seconds = static_cast<double>(call_ns) / 1e9;
  return out;
}

}  // namespace perfd::db
