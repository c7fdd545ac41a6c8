#include "daemon/daemon.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "daemon/aggregator/aggregator.h"
#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"
#include "daemon/decoders/http/http_tracker.h"
#include "daemon/discovery/discovery.h"
#include "daemon/discovery/proc_reader.h"
#include "daemon/exporters/cardinality_stats.h"
#include "daemon/exporters/http_metrics.h"
#include "daemon/exporters/self_metrics.h"
#include "daemon/fd_limits.h"
#include "daemon/loader/http_probes.h"
#include "daemon/loader/py_sampler.h"
#include "daemon/pipeline/aggregator_observer.h"
#include "daemon/pipeline/openapi_fetcher.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/profile/python_profiler.h"
#include "daemon/python/elf_symbols.h"
#include "daemon/python/python_target.h"
#include "daemon/requests/identity_attacher.h"

namespace perfd {

namespace {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// Discovery runs on its own thread (reading /proc must never delay event
// draining); it attaches new workers at once and hands the changes to the
// event thread, which owns the decoder and router state.
// uvloop flushes transport writes from its own loop, outside the task that
// wrote: a task-root walk at the write syscall finds nothing there.
bool UsesUvloop(uint32_t pid) {
  auto maps = python::ReadMaps(pid);
  if (auto* entries = std::get_if<std::vector<python::MapEntry>>(&maps))
    for (const auto& m : *entries)
      if (m.path.find("/uvloop/loop.") != std::string::npos) return true;
  return false;
}

// A worker whose interpreter was verified, for the event thread's profiler.
struct ProfiledWorker {
  uint32_t pid;
  std::string service;
  py_offsets offsets;
};

class DiscoveryLoop : public WorkerDirectory {
 public:
  DiscoveryLoop(const Config& config, HttpProbes& probes, PySampler* sampler)
      : config_(config), discovery_(config, reader_), probes_(probes), sampler_(sampler) {
    if (sampler_ && config.request_identity)
      identity_ = std::make_unique<IdentityAttacher>(*sampler_);
  }
  ~DiscoveryLoop() override { Stop(); }

  void Start(const std::atomic<bool>& stop) {
    thread_ = std::thread([this, &stop] {
      while (!stop && !stopping_) {
        ScanOnce();
        std::this_thread::sleep_for(std::chrono::milliseconds(config_.scan_interval_ms));
      }
    });
  }
  void Stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  void ScanOnce() {
    Discovery::Diff diff = discovery_.Scan();
    // Stale syscall-argument entries are rare (a missed exit, then the
    // thread exited): a sweep every ~10 s keeps the per-process stash quota
    // exact at the cost of one map walk (measured: docs/ARCHITECTURE.md).
    if (++scans_ % kStashSweepEvery == 0) {
      const auto sweep = probes_.ReclaimStash();
      stash_reclaimed_ += sweep.reclaimed;
      if (sweep.reclaimed != 0)
        spdlog::debug("stash sweep: {} of {} entries were of exited threads", sweep.reclaimed,
                      sweep.entries);
    }
    std::vector<ProfiledWorker> profiled;
    for (const auto& w : diff.added) {
      try {
        probes_.TrackPid(w.pid);
        spdlog::info("tracking worker pid {} of service {} ({} {})", w.pid, w.service, w.server,
                     w.app_spec);
      } catch (const LoaderError& e) {
        spdlog::error("{}", e.what());
        ++errors_;
      }
      if (sampler_) StartSampling(w, &profiled);
    }
    if (sampler_) {
      for (uint32_t pid : sampler_->Processes()) sampler_->SyncThreads(pid);
      if (identity_) identity_->Recheck();
      RecheckLoops();
      for (const auto& w : diff.removed) {
        if (identity_) identity_->Forget(w.pid);
        loop_rechecks_.erase(w.pid);
      }
    }
    if (diff.added.empty() && diff.removed.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& w : diff.added) pending_.added.push_back(std::move(w));
    for (auto& w : diff.removed) pending_.removed.push_back(std::move(w));
    for (auto& p : profiled) pending_profiled_.push_back(std::move(p));
  }

  // Verifies the worker's interpreter against the offsets table and, if it
  // checks out, starts sampling its threads. A refusal keeps HTTP tracing
  // and is logged once per interpreter binary and reason.
  void StartSampling(const Worker& w, std::vector<ProfiledWorker>* out) {
    auto target = python::InspectPython(w.pid);
    if (auto* reason = std::get_if<std::string>(&target)) {
      ++unverified_;
      if (refusals_logged_.insert(*reason).second)
        spdlog::warn("pid {} ({}): Python stacks refused: {}", w.pid, w.service, *reason);
      return;
    }
    auto t = std::get<python::PythonTarget>(target);
    t.proc.root_at_writes = !UsesUvloop(w.pid);
    try {
      sampler_->AddProcess(w.pid, t.proc);
      // uvicorn imports uvloop while it starts: look again for a while.
      if (t.proc.root_at_writes) loop_rechecks_[w.pid] = kLoopRechecks;
      if (identity_) identity_->Start(w.pid, t);
      ++verified_;
      spdlog::info("pid {}: sampling Python {}.{} stacks ({})", w.pid, t.major, t.minor, t.binary);
      out->push_back({w.pid, w.service, t.proc.off});
    } catch (const LoaderError& e) {
      spdlog::error("{}", e.what());
      ++errors_;
    }
  }

  // Workers not (yet) seen with uvloop mapped are re-checked for kLoopRechecks
  // scans; once uvloop shows up the task-root walk at writes is switched off.
  void RecheckLoops() {
    for (auto it = loop_rechecks_.begin(); it != loop_rechecks_.end();) {
      int& left = it->second;
      if (UsesUvloop(it->first)) {
        try {
          sampler_->SetRootAtWrites(it->first, false);
        } catch (const LoaderError&) {
          // The worker exited meanwhile: discovery removes it.
        }
        it = loop_rechecks_.erase(it);
      } else if (--left <= 0) {
        it = loop_rechecks_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::vector<ProfiledWorker> TakeProfiled() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(pending_profiled_, {});
  }
  uint64_t python_verified() const { return verified_; }
  IdentityAttacher::Counts identity() const {
    return identity_ ? identity_->counts() : IdentityAttacher::Counts{};
  }
  uint64_t python_unverified() const { return unverified_; }

  Discovery::Diff TakePending() {
    std::lock_guard<std::mutex> lock(mu_);
    Discovery::Diff out = std::move(pending_);
    pending_ = {};
    return out;
  }

  std::vector<Worker> Workers() const override { return discovery_.Workers(); }
  std::map<std::string, uint64_t> read_errors() const { return discovery_.read_errors(); }
  uint64_t errors() const { return errors_; }
  uint64_t stash_reclaimed() const { return stash_reclaimed_; }

 private:
  const Config& config_;
  ProcReader reader_;
  Discovery discovery_;
  HttpProbes& probes_;
  PySampler* sampler_;
  std::unique_ptr<IdentityAttacher> identity_;  // with sampler_ only
  std::mutex mu_;
  Discovery::Diff pending_;
  std::vector<ProfiledWorker> pending_profiled_;
  std::set<std::string> refusals_logged_;   // discovery thread only
  static constexpr int kLoopRechecks = 40;  // ~10 s at the default scan interval
  std::map<uint32_t, int> loop_rechecks_;   // pid → scans left; discovery thread only
  std::atomic<uint64_t> verified_{0}, unverified_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> errors_{0};
  static constexpr uint64_t kStashSweepEvery = 40;  // scans (~10 s at the default interval)
  uint64_t scans_ = 0;                              // discovery thread only
  std::atomic<uint64_t> stash_reclaimed_{0};
  std::thread thread_;
};

// perfd_bpf_program_* for every program of one BPF object.
void AddProgramStats(const std::vector<ProgramStats>& programs, std::vector<SelfSample>* s) {
  for (const auto& p : programs) {
    const std::map<std::string, std::string> labels = {{"program", p.name}};
    s->push_back({"perfd_bpf_program_runs_total", labels, double(p.run_count)});
    s->push_back({"perfd_bpf_program_run_seconds_total", labels, p.run_time_ns / 1e9});
    s->push_back({"perfd_bpf_program_recursion_misses_total", labels, double(p.recursion_misses)});
  }
}

std::vector<SelfSample> CollectSelfStats(const HttpProbes& probes, const http::HttpTracker& tracker,
                                         const RequestRouter& router, const OpenApiFetcher& fetcher,
                                         const DiscoveryLoop& discovery) {
  std::vector<SelfSample> s;
  auto add = [&s](std::string name, double v, std::map<std::string, std::string> labels = {}) {
    s.push_back({std::move(name), std::move(labels), v});
  };
  add("perfd_tracked_workers", discovery.Workers().size());
  add("perfd_tracked_connections", tracker.connections());
  auto k = probes.Counters();
  add("perfd_ringbuf_drops_total", k[PERFD_CNT_RINGBUF_DROPS]);
  add("perfd_conn_table_full_total", k[PERFD_CNT_CONN_TABLE_FULL]);
  add("perfd_args_table_full_total", k[PERFD_CNT_ARGS_TABLE_FULL]);
  add("perfd_args_quota_refused_total", k[PERFD_CNT_ARGS_QUOTA]);
  add("perfd_args_stale_reclaimed_total", discovery.stash_reclaimed());
  add("perfd_read_faults_total", k[PERFD_CNT_READ_FAULTS]);
  add("perfd_adopted_connections_total", k[PERFD_CNT_ADOPTED]);
  add("perfd_sock_table_full_total", k[PERFD_CNT_SOCK_TABLE_FULL]);
  add("perfd_malformed_records_total", probes.malformed_records());
  const auto t = tracker.stats();
  add("perfd_events_total", t.accepts, {{"kind", "accept"}});
  add("perfd_events_total", t.reads, {{"kind", "read"}});
  add("perfd_events_total", t.writes, {{"kind", "write"}});
  add("perfd_events_total", t.closes, {{"kind", "close"}});
  add("perfd_events_total", t.unknown_kind, {{"kind", "unknown"}});
  const auto& st = t.stitch;
  add("perfd_http_requests_total", st.requests_completed, {{"outcome", "completed"}});
  add("perfd_http_requests_total", st.requests_aborted, {{"outcome", "aborted"}});
  const std::pair<const char*, uint64_t> decoder[] = {
      {"malformed_event", t.malformed},
      {"lines_dropped", t.lines_dropped},
      {"scan_limited", t.scan_limited},
      {"conns_evicted_idle", t.conns_evicted_idle},
      {"conns_evicted_stale", t.conns_evicted_stale},
      {"unparsed_request_lines", st.unparsed_request_lines},
      {"unparsed_status_lines", st.unparsed_status_lines},
      {"unparsed_read_bytes", st.unparsed_read_bytes},
      {"unmatched_responses", st.unmatched_responses},
      {"unmatched_write_bytes", st.unmatched_write_bytes},
      {"queue_overflows", st.queue_overflows},
      {"upgrades", st.upgrades},
      {"arrival_unknown", st.arrival_unknown},
      {"arrival_after_read", st.arrival_after_read},
  };
  for (const auto& [kind, v] : decoder) add("perfd_http_decoder_total", v, {{"kind", kind}});
  add("perfd_requests_unknown_worker_total", router.unknown_pid_requests());
  for (const auto& [svc, n] : router.RouteOverflows())
    add("perfd_route_overflow_total", n, {{"service_name", svc}});
  for (const auto& [key, n] : router.RouteTemplatesRefused())
    add("perfd_route_templates_refused_total", n,
        {{"service_name", key.first}, {"reason", key.second}});
  for (const auto& [svc, n] : router.RouteLookupsOverBudget())
    add("perfd_route_lookups_over_budget_total", n, {{"service_name", svc}});
  for (const auto& [result, n] : fetcher.Results())
    add("perfd_openapi_fetches_total", n, {{"result", result}});
  add("perfd_errors_total", discovery.errors(), {{"component", "loader"}});
  for (const auto& [error, n] : discovery.read_errors())
    add("perfd_discovery_read_errors_total", n, {{"error", error}});
  AddProgramStats(probes.Programs(), &s);
  return s;
}

void AddPythonStats(const PySampler* sampler, const PythonProfiler& profiler,
                    const DiscoveryLoop& discovery, std::vector<SelfSample>* s) {
  auto add = [s](std::string name, double v, std::map<std::string, std::string> labels = {}) {
    s->push_back({std::move(name), std::move(labels), v});
  };
  add("perfd_python_workers", discovery.python_verified(), {{"result", "verified"}});
  add("perfd_python_workers", discovery.python_unverified(), {{"result", "refused"}});
  if (sampler) {
    auto k = sampler->Counters();
    add("perfd_python_sampled_threads", sampler->attached_threads());
    add("perfd_python_unsampled_threads", sampler->unsampled_threads());
    add("perfd_python_threads_over_cap_total", sampler->threads_over_worker_cap(),
        {{"cap", "per_worker"}});
    add("perfd_python_threads_over_cap_total", sampler->threads_over_fd_budget(),
        {{"cap", "fd_budget"}});
    add("perfd_python_sampler_total", k[PY_CNT_SAMPLES], {{"kind", "samples"}});
    add("perfd_python_sampler_total", k[PY_CNT_NOT_PYTHON], {{"kind", "not_python"}});
    add("perfd_python_sampler_total", k[PY_CNT_NO_TSTATE], {{"kind", "no_thread_state"}});
    add("perfd_python_sampler_total", k[PY_CNT_TRUNCATED], {{"kind", "truncated"}});
    add("perfd_python_sampler_total", k[PY_CNT_READ_ERRORS], {{"kind", "read_error"}});
    add("perfd_python_sampler_total", k[PY_CNT_RINGBUF_DROPS], {{"kind", "ringbuf_drop"}});
    add("perfd_python_sampler_total", sampler->attach_failures(), {{"kind", "attach_failure"}});
    auto c = sampler->ContextCounters();
    add("perfd_request_identity_contexts_total", c[PY_CTX_CNT_COPIES], {{"kind", "copied"}});
    add("perfd_request_identity_contexts_total", c[PY_CTX_CNT_INHERITED], {{"kind", "inherited"}});
    add("perfd_request_identity_contexts_total", c[PY_CTX_CNT_DELIVERED], {{"kind", "delivered"}});
    add("perfd_request_identity_contexts_total", c[PY_CTX_CNT_UNTAGGED], {{"kind", "untagged"}});
    add("perfd_request_identity_contexts_total", c[PY_CTX_CNT_TABLE_FULL],
        {{"kind", "table_full"}});
    add("perfd_request_identity_contexts_total", c[PY_CTX_CNT_NO_TSTATE], {{"kind", "no_tstate"}});
    AddProgramStats(sampler->Programs(), s);
  }
  const auto id = discovery.identity();
  add("perfd_request_identity_workers_total", id.all_copies, {{"mode", "all_copies"}});
  add("perfd_request_identity_workers_total", id.capi_copies, {{"mode", "capi_copies"}});
  add("perfd_request_identity_workers_total", id.refused, {{"mode", "refused"}});
  const auto st = profiler.stats();
  add("perfd_python_samples_total", st.unknown_process, {{"result", "unknown_process"}});
  add("perfd_python_samples_total", st.empty_samples, {{"result", "no_python_frame"}});
  for (const auto& [kind, n] : st.attributed)
    add("perfd_python_samples_total", n, {{"result", "attributed_" + kind}});
  add("perfd_python_samples_pending", profiler.pending_samples());
  add("perfd_python_request_cpu_exact_ratio", st.ExactRatio());
  const auto sym = profiler.symbolizer_stats();
  add("perfd_python_symbolizer_total", sym.hits, {{"kind", "hit"}});
  add("perfd_python_symbolizer_total", sym.misses, {{"kind", "miss"}});
  add("perfd_python_symbolizer_total", sym.evictions, {{"kind", "eviction"}});
  add("perfd_python_symbolizer_total", sym.read_failures, {{"kind", "read_failure"}});
  add("perfd_python_symbolizer_total", sym.rejected, {{"kind", "rejected"}});
  add("perfd_python_symbolizer_total", sym.linetables_truncated, {{"kind", "linetable_truncated"}});
  add("perfd_python_symbolizer_total", sym.stale_reads, {{"kind", "stale_read"}});
  add("perfd_python_stacks", profiler.stacks().stacks());
  add("perfd_python_frames", profiler.stacks().frames());
  add("perfd_python_stacks_overflow_total", profiler.stacks().overflowed());
  add("perfd_python_cpu_evicted_total", profiler.cpu_series().evicted(), {{"kind", "series"}});
  add("perfd_python_cpu_evicted_total", profiler.store().services_evicted(), {{"kind", "service"}});
}

}  // namespace

int RunDaemon(const Config& config, const std::atomic<bool>& stop) {
  // The sampler first: it owns the map of verified interpreters that the
  // HTTP probes read to tag responses with their task's root frame.
  std::unique_ptr<PySampler> sampler;
  if (config.python_sampling) {
    try {
      sampler = PySampler::Open(config.sample_hz, config.max_threads_per_worker);
    } catch (const LoaderError& e) {
      spdlog::error("Python stack sampling is off: {}", e.what());
    }
  }
  std::unique_ptr<HttpProbes> probes;
  try {
    HttpProbes::SharedPyMaps py;
    if (sampler) {
      py.procs_fd = sampler->py_procs_fd();
      py.ctx_conns_fd = sampler->py_ctx_conns_fd();
      py.deliveries_fd = sampler->py_deliveries_fd();
    }
    probes = HttpProbes::Open(py);
  } catch (const LoaderError& e) {
    spdlog::critical("cannot load BPF programs: {}", e.what());
    return 1;
  }
  spdlog::info("BPF programs attached ({} programs)", probes->Programs().size());
  if (sampler) {
    // The BPF objects are open now: what the limit leaves beyond them and
    // the reserve is what sampled threads may hold.
    const uint64_t soft = SoftFdLimit();
    const size_t open_now = OpenFdCount();
    const size_t budget = SamplingFdBudget(soft, open_now);
    sampler->SetFdBudget(budget);
    spdlog::info(
        "thread sampling: at most {} threads per worker, {} fds in all ({} open, "
        "{} reserved, limit {})",
        config.max_threads_per_worker, budget, open_now, kFdReserve, soft);
  }

  const uint64_t idle_ns = uint64_t(config.idle_seconds) * 1000000000ull;
  Aggregator aggregator(config.window_max_seconds,
                        AggregatorLimits{config.max_services, config.max_routes, idle_ns});
  RequestRouter router(config);
  AggregatorObserver agg_observer(aggregator);
  auto registry = std::make_shared<prometheus::Registry>();
  HttpMetrics http_metrics(*registry, SeriesLimits{config.max_series, idle_ns});
  auto self_metrics = std::make_shared<SelfMetrics>();
  std::vector<python::CategoryRule> category_rules;
  for (const auto& r : config.category_rules) {
    python::CategoryRule rule{r.module, r.function, python::Category::kApp};
    python::ParseCategory(r.category, &rule.category);  // names validated by the config
    category_rules.push_back(std::move(rule));
  }
  PythonProfiler profiler(std::move(category_rules), config.window_max_seconds,
                          1.0 / config.sample_hz, *registry);
  router.AddObserver(&agg_observer);
  router.AddObserver(&http_metrics);
  // Request intervals matter to the profiler only when samples can come.
  if (sampler) router.AddObserver(&profiler);
  http::HttpTracker tracker(router, uint64_t(config.response_idle_timeout_ms) * 1000000ull);

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(config.metrics_address);
  } catch (const std::exception& e) {
    spdlog::critical("cannot serve /metrics on {}: {}", config.metrics_address, e.what());
    return 1;
  }
  exposer->RegisterCollectable(registry);
  exposer->RegisterCollectable(self_metrics);
  spdlog::info("serving Prometheus metrics on http://{}/metrics", config.metrics_address);

  OpenApiFetcher fetcher(config.openapi_path, config.openapi_timeout_ms,
                         [&router](const std::string& service, std::vector<std::string> paths) {
                           router.Routes(service)->SetOpenApiTemplates(paths);
                         });

  DiscoveryLoop discovery(config, *probes, sampler.get());
  const bool sampling = sampler != nullptr;
  PerfdService service(aggregator, discovery, config.window_max_seconds,
                       sampling ? &profiler.store() : nullptr,
                       sampling ? &profiler.stacks() : nullptr);
  ApiServer api(service);
  if (config.grpc_socket.empty() && config.grpc_tcp.empty()) {
    // Both listeners switched off on purpose: a metrics-only perfd.
    spdlog::warn(
        "gRPC API disabled (listen.grpc_socket and listen.grpc_tcp are empty): perfctl cannot "
        "connect; only /metrics is served");
  } else {
    try {
      api.Start(config.grpc_socket, config.grpc_socket_group, config.grpc_tcp);
    } catch (const std::exception& e) {
      spdlog::critical("cannot start the gRPC API: {}", e.what());
      return 1;
    }
  }

  discovery.ScanOnce();  // attach to what runs now before serving events
  discovery.Start(stop);

  http::HttpTracker* t = &tracker;
  const HttpProbes::EventFn on_event = [t](const perfd_http_event_header& h,
                                           const char(*lines)[PERFD_LINE_MAX]) {
    t->OnEvent(h, lines);
  };
  PythonProfiler* prof = &profiler;
  const PySampler::SampleFn on_sample = [prof](const py_sample& s) { prof->OnSample(s); };
  uint64_t last_flush = 0, last_stats = 0;
  while (!stop) {
    // A 20 ms batching tick: the kernel wakes us early only under load.
    int n = probes->Poll(20, on_event);
    if (n < 0) spdlog::warn("ring buffer poll failed: {}", n);
    if (sampler) sampler->Poll(0, on_sample);
    const uint64_t now = MonotonicNs();
    Discovery::Diff diff = discovery.TakePending();
    for (const auto& w : diff.added) {
      router.AddWorker(w);
      if (config.openapi) fetcher.Request(w.service, w.pid);
    }
    for (const auto& p : discovery.TakeProfiled()) profiler.AddProcess(p.pid, p.service, p.offsets);
    for (const auto& w : diff.removed) {
      // Drain what the kernel already queued for it, then close its books:
      // completed requests are kept, in-flight ones reported as aborted.
      probes->Poll(0, on_event);
      if (sampler) sampler->Poll(0, on_sample);
      tracker.DropProcess(w.pid, now);
      router.ForgetWorker(w.pid);
      probes->UntrackPid(w.pid);
      if (sampler) sampler->RemoveProcess(w.pid);
      profiler.RemoveProcess(w.pid, now);
      spdlog::info("worker pid {} of service {} exited; probes detached", w.pid, w.service);
    }
    if (now - last_flush > 100000000ull) {
      tracker.FlushIdle(now);
      profiler.Tick(now);
      last_flush = now;
    }
    if (now - last_stats > 1000000000ull) {
      aggregator.EvictIdle(now);
      http_metrics.EvictIdle(now);
      profiler.EvictIdle(now, idle_ns);
      auto samples = CollectSelfStats(*probes, tracker, router, fetcher, discovery);
      AddPythonStats(sampler.get(), profiler, discovery, &samples);
      AddCardinalityStats(aggregator.Stats(), http_metrics.stats(), &samples);
      self_metrics->Publish(std::move(samples));
      last_stats = now;
    }
  }
  spdlog::info("stopping: detaching probes");
  discovery.Stop();
  api.Shutdown();
  return 0;
}

}  // namespace perfd
