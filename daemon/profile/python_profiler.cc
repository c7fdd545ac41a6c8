#include "daemon/profile/python_profiler.h"

#include <vector>

#include "daemon/profile/route_label.h"
#include "daemon/python/library_file.h"

namespace perfd {

PythonProfiler::PythonProfiler(std::vector<python::CategoryRule> user_rules,
                               uint32_t window_max_seconds, double seconds_per_sample,
                               prometheus::Registry& registry)
    : classifier_(std::move(user_rules)),
      store_(window_max_seconds, seconds_per_sample),
      attributor_([this](const std::string& service, const std::string& route,
                         const ProfileSample& s,
                         JoinKind join) { Record(service, route, s, join); }),
      cpu_series_(registry) {}

void PythonProfiler::AddProcess(uint32_t pid, const std::string& service,
                                const py_offsets& offsets) {
  Proc& p = procs_[pid];
  p.service = service;
  p.offsets = offsets;
  p.memory = std::make_unique<python::ProcessMemoryReader>(pid);
  attributor_.SetService(pid, service);
}

void PythonProfiler::RemoveProcess(uint32_t pid, uint64_t now_ns) {
  attributor_.DropProcess(pid, now_ns);
  symbolizer_.DropPid(pid);
  procs_.erase(pid);
}

std::string PythonProfiler::CallSite(const py_sample& s) {
  auto it = procs_.find(s.h.tgid);
  if (it == procs_.end()) return "";
  Proc& p = it->second;
  const size_t n = std::min<size_t>(s.h.nframes, PY_MAX_FRAMES);
  for (size_t i = 0; i < n; ++i) {
    python::Symbol sym = symbolizer_.Resolve(*p.memory, s.h.tgid, p.offsets, s.frames[i]);
    if (!sym.ok || IsLibraryFile(sym.filename)) continue;
    return sym.qualname + " (" + sym.filename + ":" + std::to_string(sym.line) + ")";
  }
  return "";
}

void PythonProfiler::OnSample(const py_sample& s) {
  const bool offcpu = s.h.flags & PY_SAMPLE_OFFCPU;
  if (!offcpu) ++stats_.samples;
  auto it = procs_.find(s.h.tgid);
  if (it == procs_.end()) {
    if (!offcpu) ++stats_.unknown_process;
    return;
  }
  Proc& p = it->second;
  const bool truncated = s.h.flags & PY_SAMPLE_TRUNCATED;
  const size_t n = std::min<size_t>(s.h.nframes, PY_MAX_FRAMES);
  if (!offcpu) {
    if (truncated) ++stats_.truncated_samples;
    if (s.h.flags & PY_SAMPLE_READ_ERROR) ++stats_.partial_samples;
    if (n == 0) ++stats_.empty_samples;
  }

  std::vector<python::Symbol> symbols;
  symbols.reserve(n);
  std::vector<FrameInfo> frames;
  frames.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    python::Symbol sym = symbolizer_.Resolve(*p.memory, s.h.tgid, p.offsets, s.frames[i]);
    if (!sym.ok) {
      ++stats_.unresolved_frames;
      frames.push_back({"<unknown>", "", 0, s.frames[i].firstlineno});
    } else {
      frames.push_back({sym.qualname, sym.filename, sym.line, s.frames[i].firstlineno});
    }
    symbols.push_back(std::move(sym));
  }
  std::vector<const python::Symbol*> leaf_first;
  leaf_first.reserve(symbols.size());
  for (const auto& sym : symbols)
    if (sym.ok) leaf_first.push_back(&sym);
  if (n == 0) frames.push_back({"<no Python frame>", "", 0, 0});

  ProfileSample ps;
  ps.pid = s.h.tgid;
  ps.tid = s.h.tid;
  ps.ts_ns = s.h.ts_ns;
  ps.root = s.h.root_frame;
  ps.identity = s.h.flags & PY_SAMPLE_CTX_TRACKED;
  ps.conn_id = s.h.conn_id;
  ps.category = static_cast<int>(classifier_.Classify(leaf_first));
  ps.stack_id = stacks_.Intern(frames, truncated);
  if (offcpu) {
    ps.offcpu_ns = s.h.offcpu_ns;
    ps.offcpu_reason = s.h.offcpu_reason;
  }
  attributor_.OnSample(ps);
}

void PythonProfiler::Record(const std::string& service, const std::string& route,
                            const ProfileSample& s, JoinKind join) {
  if (listener_) listener_(service, route, s);
  if (s.offcpu_ns) return;  // a stack that held the loop, not CPU time
  store_.Add(service, route, s.category, s.stack_id, s.ts_ns, join == JoinKind::kExact);
  const std::string category = kCategoryNames[s.category];
  // The Prometheus label is the bare template (http_route semantics).
  const std::string http_route = HttpRouteLabel(route);
  cpu_series_.Add(service, http_route, category, store_.seconds_per_sample(), s.ts_ns);
  ++stats_.attributed[route == kNoRequestRoute      ? "no_request"
                      : route == kUnattributedRoute ? "unattributed"
                      : join == JoinKind::kExact    ? "exact"
                                                    : "interval"];
}

void PythonProfiler::Tick(uint64_t now_ns) { attributor_.Tick(now_ns); }

void PythonProfiler::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  cpu_series_.EvictIdle(now_ns, idle_ns);
  store_.EvictIdle(now_ns, idle_ns);
}

void PythonProfiler::OnStart(const RoutedRequest& r) {
  attributor_.OnRequestStart(r.pid, r.conn_id, r.start_ns);
}

void PythonProfiler::OnComplete(const RoutedRequest& r) {
  // Samples are kept per "METHOD /template", like the rows of perfctl top.
  attributor_.OnRequestComplete(r.pid, r.conn_id, r.method + " " + r.route, r.start_ns, r.end_ns,
                                r.py_root);
}

}  // namespace perfd
