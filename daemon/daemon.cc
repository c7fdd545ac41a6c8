#include "daemon/daemon.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <utility>
#include <vector>

#include "daemon/aggregator/aggregator.h"
#include "daemon/aggregator/blocking_window.h"
#include "daemon/aggregator/gc_windows.h"
#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"
#include "daemon/api/grpc_tls.h"
#include "daemon/breakdown/breakdown_tracker.h"
#include "daemon/breakdown/breakdown_window.h"
#include "daemon/client_self_stats.h"
#include "daemon/db/db_aggregator.h"
#include "daemon/exporters/breakdown_metrics.h"
#include "daemon/exporters/cardinality_stats.h"
#include "daemon/exporters/db_metrics.h"
#include "daemon/exporters/gc_metrics.h"
#include "daemon/exporters/http_metrics.h"
#include "daemon/exporters/loop_metrics.h"
#include "daemon/exporters/process_metrics.h"
#include "daemon/exporters/self_metrics.h"
#include "daemon/fd_limits.h"
#include "daemon/health/health_server.h"
#include "daemon/kubernetes/kube_settings.h"
#include "daemon/kubernetes/pod_resolver.h"
#include "daemon/kubernetes/pod_watcher.h"
#include "daemon/lifecycle/bpf_worker_loader.h"
#include "daemon/lifecycle/discovery_thread.h"
#include "daemon/lifecycle/pipeline_workers.h"
#include "daemon/lifecycle/worker_lifecycle.h"
#include "daemon/loader/http_probes.h"
#include "daemon/loader/loop_probes.h"
#include "daemon/loader/py_sampler.h"
#include "daemon/loop/blocking_tracker.h"
#include "daemon/pipeline/aggregator_observer.h"
#include "daemon/pipeline/db_request_join.h"
#include "daemon/pipeline/openapi_fetcher.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/profile/python_profiler.h"
#include "daemon/protocols/http/http_tracker.h"
#include "daemon/python/categories.h"

namespace perfd {

namespace {

// Blocking events are decided this long after they end (the samples of
// their iteration must be attributed first); a request's breakdown waits
// for them, and for its own samples, a second longer.
constexpr uint64_t kBlockingFinalizeNs = 2000000000ull;
constexpr uint64_t kBreakdownDelayNs = kBlockingFinalizeNs + 1000000000ull;

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

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
                                         const WorkerLifecycle& lifecycle,
                                         const BpfWorkerLoader& loader,
                                         const DiscoveryThread& discovery) {
  std::vector<SelfSample> s;
  const SelfSampleSink add{&s};
  add("perfd_tracked_workers", lifecycle.Workers().size());
  add("perfd_tracked_connections", tracker.connections());
  auto k = probes.Counters();
  add("perfd_ringbuf_drops_total", k[PERFD_CNT_RINGBUF_DROPS]);
  add("perfd_conn_table_full_total", k[PERFD_CNT_CONN_TABLE_FULL]);
  add("perfd_args_table_full_total", k[PERFD_CNT_ARGS_TABLE_FULL]);
  add("perfd_args_quota_refused_total", k[PERFD_CNT_ARGS_QUOTA]);
  add("perfd_args_stale_reclaimed_total", loader.stash_reclaimed());
  add("perfd_read_faults_total", k[PERFD_CNT_READ_FAULTS]);
  add("perfd_adopted_connections_total", k[PERFD_CNT_ADOPTED]);
  add("perfd_sock_table_full_total", k[PERFD_CNT_SOCK_TABLE_FULL]);
  add("perfd_http_framing_lost_total", k[PERFD_CNT_FRAMING_LOST]);
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
  for (const auto& [key, n] : router.RouteFolds())
    add("perfd_route_folded_total", n, {{"service_name", key.first}, {"reason", key.second}});
  for (const auto& [key, n] : router.RouteTemplatesRefused())
    add("perfd_route_templates_refused_total", n,
        {{"service_name", key.first}, {"reason", key.second}});
  for (const auto& [svc, n] : router.RouteLookupsOverBudget())
    add("perfd_route_lookups_over_budget_total", n, {{"service_name", svc}});
  for (const auto& [result, n] : fetcher.Results())
    add("perfd_openapi_fetches_total", n, {{"result", result}});
  add("perfd_errors_total", lifecycle.errors(), {{"component", "loader"}});
  for (const auto& [error, n] : discovery.read_errors())
    add("perfd_discovery_read_errors_total", n, {{"error", error}});
  AddProgramStats(probes.Programs(), &s);
  return s;
}

// Request time breakdowns: how many were decided, and what was lost.
void AddBreakdownStats(const breakdown::BreakdownTracker& t, const BreakdownMetrics& m,
                       const breakdown::BreakdownWindow& w, std::vector<SelfSample>* s) {
  auto add = [s](const char* name, double v, std::map<std::string, std::string> labels = {}) {
    s->push_back({name, std::move(labels), v});
  };
  const breakdown::TrackerStats& st = t.stats();
  add("perfd_request_breakdowns_total", st.decided, {{"result", "decided"}});
  add("perfd_request_breakdowns_total", st.requests_overflow, {{"result", "pending_overflow"}});
  add("perfd_request_breakdowns_cpu_clamped_total", st.cpu_clamped);
  add("perfd_request_breakdowns_pending", t.pending());
  add("perfd_request_breakdown_evidence_dropped_total", st.samples_overflow,
      {{"kind", "samples_overflow"}});
  add("perfd_request_breakdown_evidence_dropped_total", st.gc_overflow, {{"kind", "gc_overflow"}});
  add("perfd_request_breakdown_evidence_dropped_total", st.samples_unclaimed,
      {{"kind", "samples_unclaimed"}});
  add("perfd_request_breakdown_evidence_dropped_total", st.blocking_unattributed,
      {{"kind", "blocking_unattributed"}});
  add("perfd_request_breakdown_routes_folded_total",
      double(m.stats().routes_folded + w.routes_folded()));
}

// Event-loop tracing: what the kernel side did, and what became of it.
void AddLoopStats(const LoopProbes* loop, const LoopMetrics& m, const BlockingTracker& b,
                  const BlockingWindow& w, std::vector<SelfSample>* s) {
  const SelfSampleSink add{s};
  add("perfd_event_loop_tracing", loop ? 1 : 0);
  if (!loop) return;
  const auto k = loop->Counters();
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_ITERATIONS], {{"kind", "iterations"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_BLOCKING], {{"kind", "blocking_events"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_DROPS], {{"kind", "ringbuf_drop"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_THREADS_FULL], {{"kind", "threads_full"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_STACK_WALKS], {{"kind", "stack_walks"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_STACKS], {{"kind", "offcpu_stacks"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_STACK_DROPS], {{"kind", "offcpu_stack_drop"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_STACKS_FULL], {{"kind", "stack_slots_full"}});
  add("perfd_event_loop_kernel_total", k[LOOP_CNT_WALKS_OVER_BUDGET],
      {{"kind", "stack_walks_over_budget"}});
  const BlockingTrackerStats& bs = b.stats();
  add("perfd_event_loop_blocking_joined_total", bs.decided, {{"result", "decided"}});
  add("perfd_event_loop_blocking_joined_total", bs.without_evidence,
      {{"result", "without_evidence"}});
  add("perfd_event_loop_blocking_joined_total", bs.unknown_process,
      {{"result", "unknown_process"}});
  add("perfd_event_loop_blocking_joined_total", bs.pending_overflow,
      {{"result", "pending_overflow"}});
  add("perfd_event_loop_blocking_pending", b.pending_events());
  add("perfd_event_loop_blocking_window_dropped_total", w.dropped());
  add("perfd_event_loop_offcpu_stacks_total", bs.offcpu_stacks, {{"result", "received"}});
  add("perfd_event_loop_offcpu_stacks_total", bs.offcpu_stacks_orphan, {{"result", "orphan"}});
  add("perfd_event_loop_samples_overflow_total", bs.samples_overflow);
  add("perfd_event_loop_blocked_routes_folded_total", m.stats().blocked_routes_folded);
  add("perfd_event_loop_unknown_process_total", m.stats().unknown_process);
  add("perfd_event_loop_services", m.stats().services);
  add("perfd_event_loop_services_evicted_total", m.stats().series_evicted);
  AddProgramStats(loop->Programs(), s);
}

// GC pauses (perfd_python_gc_pause_seconds): which workers can have them
// measured, and what became of the probes' records.
void AddGcStats(const BpfWorkerLoader& loader, const GcMetrics& gc, std::vector<SelfSample>* s) {
  const SelfSampleSink add{s};
  const auto probes = loader.gc_probes();
  add("perfd_python_gc_probes", probes.attached, {{"state", "attached"}});
  add("perfd_python_gc_probes", probes.no_usdt, {{"state", "no_usdt"}});
  add("perfd_python_gc_probes", probes.failed, {{"state", "failed"}});
  add("perfd_python_gc_pauses_total", gc.stats().unknown_process, {{"result", "unknown_process"}});
  add("perfd_python_gc_series", gc.stats().series);
  add("perfd_python_gc_series_evicted_total", gc.stats().series_evicted);
}

void AddPythonStats(const PySampler* sampler, const PythonProfiler& profiler,
                    const WorkerLifecycle& lifecycle, const BpfWorkerLoader& loader,
                    std::vector<SelfSample>* s) {
  const SelfSampleSink add{s};
  add("perfd_python_workers", lifecycle.python_verified(), {{"result", "verified"}});
  add("perfd_python_workers", lifecycle.python_unverified(), {{"result", "refused"}});
  const auto opens = python::MappedFileOpenCounts();
  for (size_t r = 0; r < opens.size(); ++r)
    add("perfd_python_interpreter_opens_total", opens[r],
        {{"result", python::OpenResultName(static_cast<python::OpenResult>(r))}});
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
    add("perfd_python_threads_started_total", k[PY_CNT_NEW_THREADS], {{"result", "seen"}});
    add("perfd_python_threads_started_total", k[PY_CNT_NEW_THREAD_DROPS],
        {{"result", "ringbuf_drop"}});
    // The GC probes' records share the sampler's counters (read once here).
    add("perfd_python_gc_pauses_total", k[PY_CNT_GC_PAUSES], {{"result", "measured"}});
    add("perfd_python_gc_pauses_total", k[PY_CNT_GC_UNPAIRED], {{"result", "unpaired"}});
    add("perfd_python_gc_pauses_total", k[PY_CNT_GC_DROPS], {{"result", "ringbuf_drop"}});
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
  const auto id = loader.identity();
  add("perfd_request_identity_workers_total", id.all_copies, {{"mode", "all_copies"}});
  add("perfd_request_identity_workers_total", id.capi_copies, {{"mode", "capi_copies"}});
  add("perfd_request_identity_workers_total", id.refused, {{"mode", "refused"}});
  add("perfd_request_identity_stream_probes_total", id.stream_probes, {{"result", "attached"}});
  add("perfd_request_identity_stream_probes_total", id.stream_probes_refused,
      {{"result", "refused"}});
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

// Pod metadata (kubernetes.*): the watcher runs on its own thread; the
// resolver is what discovery asks.
struct KubernetesParts {
  k8s::KubeSettings settings;
  std::unique_ptr<k8s::PodMap> map;
  std::unique_ptr<k8s::PodWatcher> watcher;
  std::unique_ptr<k8s::PodResolver> resolver;

  void AddStats(std::vector<SelfSample>* s) const {
    if (!watcher) return;
    s->push_back({"perfd_kubernetes_pods", {}, double(map->size())});
    s->push_back({"perfd_kubernetes_pods_dropped_total", {}, double(map->dropped())});
    const auto failures = watcher->failures();
    for (const char* kind : {"list", "watch", "gone", "event"}) {
      const auto it = failures.find(kind);
      s->push_back({"perfd_kubernetes_api_failures_total",
                    {{"kind", kind}},
                    double(it == failures.end() ? 0 : it->second)});
    }
  }
};

// Validated by main (ResolveKubeSettings throws ConfigError there first).
std::unique_ptr<KubernetesParts> StartKubernetes(const Config& config) {
  auto k = std::make_unique<KubernetesParts>();
  k->settings =
      k8s::ResolveKubeSettings(config.kubernetes, [](const char* n) { return std::getenv(n); });
  if (!k->settings.enabled) return k;
  if (k->settings.api) {
    k->map = std::make_unique<k8s::PodMap>(config.kubernetes.max_pods,
                                           config.kubernetes.service_label_keys);
    k->watcher =
        std::make_unique<k8s::PodWatcher>(k->settings.endpoint, k->settings.node_name, *k->map);
    k->watcher->Start();
    spdlog::info("kubernetes: watching the pods of node {} at {}", k->settings.node_name,
                 k->settings.endpoint.server);
  } else {
    spdlog::info(
        "kubernetes: no API server known (KUBERNETES_SERVICE_HOST unset, "
        "kubernetes.api_server empty): workers get pod UID and container ID from their cgroup "
        "only");
  }
  k->resolver = std::make_unique<k8s::PodResolver>("/proc", k->map.get());
  return k;
}

}  // namespace

int RunDaemon(const Config& config, const std::atomic<bool>& stop) {
  // Probes answer from the start: /healthz 503 until the loop beats, /readyz
  // 503 until the first scan is applied.
  HealthState health;
  std::unique_ptr<HealthServer> health_server;
  if (!config.health_address.empty()) {
    try {
      health_server = std::make_unique<HealthServer>(config.health_address, health, MonotonicNs);
    } catch (const std::exception& e) {
      spdlog::critical("cannot serve the health endpoint: {}", e.what());
      return 1;
    }
    spdlog::info("serving /healthz and /readyz on http://{}", config.health_address);
  }
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
  HttpProbes::SharedPyMaps py;
  try {
    if (sampler) {
      py.procs_fd = sampler->py_procs_fd();
      py.ctx_conns_fd = sampler->py_ctx_conns_fd();
      py.deliveries_fd = sampler->py_deliveries_fd();
      py.owners_fd = sampler->py_owners_fd();
      py.client_fds_fd = sampler->py_client_fds_fd();
      py.sites_fd = sampler->py_sites_fd();
      py.site_last_fd = sampler->py_site_last_fd();
      py.tstates_fd = sampler->py_tstates_fd();
    }
    probes = HttpProbes::Open(py);
  } catch (const LoaderError& e) {
    spdlog::critical("cannot load BPF programs: {}", e.what());
    return 1;
  }
  spdlog::info("BPF programs attached ({} programs)", probes->Programs().size());
  // Event-loop iterations: optional, like sampling (perfd still traces HTTP
  // without them).
  std::unique_ptr<LoopProbes> loop;
  if (config.event_loop) {
    try {
      loop = LoopProbes::Open(probes->tracked_pids_fd(), py,
                              uint64_t(config.loop_blocking_threshold_ms) * 1000000ull);
      spdlog::info("event-loop tracing on (blocking events from {} ms)",
                   config.loop_blocking_threshold_ms);
    } catch (const LoaderError& e) {
      spdlog::error("event-loop tracing is off: {}", e.what());
    }
  }
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
  const std::unique_ptr<KubernetesParts> kube = StartKubernetes(config);
  const PodLabels pod_labels{config.kubernetes.metric_labels && kube->settings.enabled,
                             kube->settings.node_name};
  HttpMetrics http_metrics(*registry, SeriesLimits{config.max_series, idle_ns}, pod_labels);
  // Database calls joined to requests (db_join below) reach both.
  db::DbLimits db_limits;
  db_limits.max_services = config.max_services;
  db_limits.max_routes = config.max_routes;
  db_limits.max_fingerprints_per_service = config.max_fingerprints_per_service;
  db_limits.idle_ns = idle_ns;
  db::DbAggregator db_aggregator(config.window_max_seconds, db_limits);
  DbMetrics db_metrics(
      *registry, DbMetricsLimits{SeriesLimits{config.max_series, idle_ns}, config.top_k_query_ids,
                                 config.max_fingerprints_per_service, pod_labels});
  auto self_metrics = std::make_shared<SelfMetrics>();
  std::vector<python::CategoryRule> category_rules;
  for (const auto& r : config.category_rules) {
    python::CategoryRule rule{r.module, r.function, python::Category::kApp};
    python::ParseCategory(r.category, &rule.category);  // names validated by the config
    category_rules.push_back(std::move(rule));
  }
  PythonProfiler profiler(std::move(category_rules), config.window_max_seconds,
                          1.0 / config.sample_hz, *registry);
  LoopMetrics loop_metrics(*registry, idle_ns);
  LoopWindows loop_windows(config.window_max_seconds);
  loop_metrics.SetWindows(&loop_windows);
  // Each request's latency split into parts, once its evidence is in.
  BreakdownMetrics breakdown_metrics(*registry, idle_ns);
  breakdown::BreakdownWindow breakdown_window(config.window_max_seconds);
  breakdown::BreakdownTracker breakdown(
      [&breakdown_metrics, &breakdown_window](const std::string& service,
                                              const breakdown::DecidedRequest& r) {
        breakdown_metrics.OnRequest(service, r, MonotonicNs());
        breakdown_window.Add(service, r);
      },
      sampler ? uint64_t(1e9 / config.sample_hz) : 0, kBreakdownDelayNs);
  // Blocking events joined with the stacks and requests around them.
  BlockingWindow blocking_window(config.window_max_seconds);
  BlockingTracker blocking(
      profiler.stacks(),
      [&loop_metrics, &blocking_window, &breakdown](const std::string& service,
                                                    const BlockingEvent& e) {
        loop_metrics.OnBlockingDecided(service, e, MonotonicNs());
        blocking_window.Add(service, e);
        breakdown.OnBlockingEvent(e);
      },
      kBlockingFinalizeNs);
  profiler.SetSampleListener(
      [&blocking, &breakdown, tracing_loop = loop != nullptr](
          const std::string& service, const std::string& route, const ProfileSample& s) {
        if (tracing_loop) blocking.OnAttributedSample(service, route, s);
        breakdown.OnAttributedSample(s);
      });
  GcMetrics gc_metrics(*registry, idle_ns);
  GcWindows gc_windows(config.window_max_seconds);
  if (sampler)
    sampler->SetGcPauseHandler(
        [&router, &gc_metrics, &gc_windows, &breakdown](const py_gc_pause& p) {
          breakdown.OnGcPause(p);
          if (const std::string* service = router.ServiceOf(p.tgid)) {
            gc_metrics.OnPause(*service, p.generation, p.duration_ns, p.start_ns + p.duration_ns);
            gc_windows.AddPause(*service, p.generation, p.duration_ns, p.start_ns + p.duration_ns);
          } else
            gc_metrics.OnUnknownProcess();
        });
  router.AddObserver(&agg_observer);
  router.AddObserver(&http_metrics);
  // Request intervals matter to the profiler only when samples can come.
  if (sampler) router.AddObserver(&profiler);
  http::HttpTracker tracker(router, uint64_t(config.response_idle_timeout_ms) * 1000000ull);
  // Client connections (databases, caches): decoded, joined to requests.
  DbRequestJoin db_join(router, config.n_plus_one_min_calls);
  router.AddObserver(&db_join);
  if (loop) router.AddObserver(&blocking);
  db_join.AddObserver(&db_aggregator);
  db_join.AddObserver(&db_metrics);
  db_join.SetCompletionSink(
      [&breakdown](const RoutedRequest& req, const std::vector<db::DbCall>& calls) {
        breakdown.OnRequest(req, calls, MonotonicNs());
      });
  protocols::ClientTracker client_tracker(db_join);
  probes->SetClientHandler(
      [&client_tracker](const perfd_http_event_header& h, std::string_view data) {
        client_tracker.OnEvent(h, data);
      });

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(config.metrics_address);
  } catch (const std::exception& e) {
    spdlog::critical("cannot serve /metrics on {}: {}", config.metrics_address, e.what());
    return 1;
  }
  exposer->RegisterCollectable(registry);
  exposer->RegisterCollectable(self_metrics);
  // The exposer holds collectables by weak_ptr: this one lives as long as it.
  const auto process_metrics = std::make_shared<ProcessMetrics>();
  exposer->RegisterCollectable(process_metrics);
  spdlog::info("serving Prometheus metrics on http://{}/metrics", config.metrics_address);

  OpenApiFetcher fetcher(
      config.openapi_path, config.openapi_timeout_ms,
      [&router](const std::string& service, std::vector<std::string> paths, uint64_t omitted) {
        router.Routes(service)->SetOpenApiTemplates(paths, omitted);
      });

  http::HttpTracker* t = &tracker;
  const HttpProbes::EventFn on_event = [t](const perfd_http_event_header& h,
                                           const char(*lines)[PERFD_LINE_MAX]) {
    t->OnEvent(h, lines);
  };
  PythonProfiler* prof = &profiler;
  protocols::ClientTracker* clients = &client_tracker;
  const PySampler::SampleFn on_sample = [prof, clients](const py_sample& s) {
    if (s.h.flags & PY_SAMPLE_CALL_SITE) {
      clients->OnCallSite(s.h.tgid, s.h.fd, s.h.ts_ns, prof->CallSite(s));
      return;
    }
    prof->OnSample(s);
  };

  // Discovery scans (and reads what new workers' processes map) on its own
  // thread; every worker's life (attach, verify, sample, detach) is applied
  // here, on the event thread, in scan order.
  DiscoveryThread discovery(config, sampler != nullptr, kube->resolver.get());
  BpfWorkerLoader loader(*probes, sampler.get(), config.request_identity);
  const LoopProbes::BlockFn on_blocking = [&router, &loop_metrics,
                                           &blocking](const loop_block_event& e) {
    spdlog::debug(
        "pid {} tid {}: loop blocked {:.1f} ms (on CPU {:.1f}, runnable {:.1f}, "
        "sleep {:.1f}, lock {:.1f}, io {:.1f}, other {:.1f})",
        e.tgid, e.tid, e.busy_ns / 1e6, e.oncpu_ns / 1e6, e.runnable_ns / 1e6,
        e.blocked_ns[LOOP_BLOCK_SLEEP] / 1e6, e.blocked_ns[LOOP_BLOCK_LOCK] / 1e6,
        e.blocked_ns[LOOP_BLOCK_IO] / 1e6, e.blocked_ns[LOOP_BLOCK_OTHER] / 1e6);
    if (const std::string* service = router.ServiceOf(e.tgid)) {
      loop_metrics.OnBlockingEvent(*service, e, MonotonicNs());
      blocking.SetService(e.tgid, *service);
      blocking.OnLoopEvent(e);
    } else
      loop_metrics.OnUnknownProcess();
  };
  // The stack that held a blocking iteration's loop off CPU: attributed to
  // its request like a sample (then joined to its event).
  const LoopProbes::StackFn on_offcpu_stack = [prof](const py_sample& s) {
    spdlog::debug("pid {} tid {}: off-CPU stack, {} frames, {:.1f} ms", s.h.tgid, s.h.tid,
                  s.h.nframes, s.h.offcpu_ns / 1e6);
    prof->OnSample(s);
  };
  PipelineWorkers pipeline(router, tracker, profiler, config.openapi ? &fetcher : nullptr, [&] {
    probes->Poll(0, on_event);
    if (sampler) sampler->Poll(0, on_sample);
    if (loop) loop->Poll(on_blocking, on_offcpu_stack);
  });
  // Each worker's cumulative loop histogram into its service's series.
  auto update_loop = [&](uint32_t pid, const loop_hist& h, uint64_t now) {
    if (const std::string* service = router.ServiceOf(pid))
      loop_metrics.Update(pid, *service, h, now);
  };
  pipeline.AlsoDrop([&](uint32_t pid) {
    client_tracker.DropProcess(pid);
    db_join.DropProcess(pid);
    if (loop) {
      // Its last iterations were drained before (PipelineWorkers).
      loop_hist h{};
      if (loop->Histogram(pid, &h)) update_loop(pid, h, MonotonicNs());
      loop->ForgetProcess(pid);
      loop_metrics.ProcessGone(pid);
      blocking.DropProcess(pid, MonotonicNs());
    }
    // After the blocking events it may wait for were decided.
    breakdown.DropProcess(pid);
  });
  client_tracker.SetOnFirstConnection(
      [&loader](uint32_t pid) { loader.ClientConnectionSeen(pid); });
  WorkerLifecycle lifecycle(loader, pipeline);
  const bool sampling = sampler != nullptr;
  PerfdService service(aggregator, lifecycle, config.window_max_seconds,
                       sampling ? &profiler.store() : nullptr,
                       sampling ? &profiler.stacks() : nullptr);
  service.SetDbAggregator(&db_aggregator);
  service.SetGcWindows(&gc_windows, &loader);
  service.SetBreakdown(&breakdown_window, sampling ? 1.0 / config.sample_hz : 0,
                       loop ? config.loop_blocking_threshold_ms / 1000.0 : 0);
  if (loop) {
    service.SetLoopWindows(&loop_windows, config.loop_blocking_threshold_ms / 1000.0);
    service.SetBlocking(&blocking_window, sampling ? &profiler.stacks() : nullptr,
                        config.loop_blocking_threshold_ms / 1000.0);
  }
  ApiServer api(service);
  if (config.grpc_socket.empty() && config.grpc_tcp.empty()) {
    // Both listeners switched off on purpose: a metrics-only perfd.
    spdlog::warn(
        "gRPC API disabled (listen.grpc_socket and listen.grpc_tcp are empty): perfctl cannot "
        "connect; only /metrics is served");
  } else {
    try {
      api.Start(config.grpc_socket, config.grpc_socket_group, config.grpc_tcp,
                config.grpc_tcp.empty() ? nullptr : GrpcTcpCredentials(config));
    } catch (const std::exception& e) {
      spdlog::critical("cannot start the gRPC API: {}", e.what());
      return 1;
    }
  }

  // Attach to what runs now before serving events. Pod names first, when
  // they come quickly: a worker found before them is renamed (detached and
  // attached again) once they arrive.
  if (kube->watcher && !kube->watcher->WaitSynced(std::chrono::seconds(3)))
    spdlog::warn(
        "kubernetes: no pod list yet; workers are named without pod labels until it comes");
  discovery.ScanOnce();
  lifecycle.Apply(discovery.Take(), MonotonicNs());
  discovery.Start(stop);
  health.Beat(MonotonicNs());
  health.SetReady();

  uint64_t last_flush = 0, last_stats = 0;
  while (!stop) {
    // A 20 ms batching tick: the kernel wakes us early only under load.
    // Samples first: a database call's call-site record must be in before
    // the client write it belongs to.
    probes->Wait(20);
    if (sampler) sampler->Poll(0, on_sample);
    int n = probes->Poll(0, on_event);
    if (n < 0) spdlog::warn("ring buffer poll failed: {}", n);
    if (loop) loop->Poll(on_blocking, on_offcpu_stack);
    const uint64_t now = MonotonicNs();
    health.Beat(now);
    lifecycle.Apply(discovery.Take(), now);
    if (now - last_flush > 100000000ull) {
      tracker.FlushIdle(now);
      profiler.Tick(now);
      if (loop) blocking.Tick(now);
      breakdown.Tick(now);
      last_flush = now;
    }
    if (now - last_stats > 1000000000ull) {
      aggregator.EvictIdle(now);
      client_tracker.FlushIdle(now);
      http_metrics.EvictIdle(now);
      db_aggregator.EvictIdle(now);
      db_metrics.EvictIdle(now);
      gc_metrics.EvictIdle(now);
      gc_windows.EvictIdle(now, idle_ns);
      breakdown_metrics.EvictIdle(now);
      breakdown_window.EvictIdle(now, idle_ns);
      if (loop) {
        for (const auto& [pid, h] : loop->Histograms()) update_loop(pid, h, now);
        loop_metrics.EvictIdle(now);
        loop_windows.EvictIdle(now, idle_ns);
        blocking_window.EvictIdle(now, idle_ns);
      }
      profiler.EvictIdle(now, idle_ns);
      auto samples =
          CollectSelfStats(*probes, tracker, router, fetcher, lifecycle, loader, discovery);
      AddPythonStats(sampler.get(), profiler, lifecycle, loader, &samples);
      AddGcStats(loader, gc_metrics, &samples);
      AddLoopStats(loop.get(), loop_metrics, blocking, blocking_window, &samples);
      AddBreakdownStats(breakdown, breakdown_metrics, breakdown_window, &samples);
      AddCardinalityStats(aggregator.Stats(), http_metrics.stats(), &samples);
      AddDbCardinalityStats(db_aggregator.Stats(), db_metrics.stats(), &samples);
      kube->AddStats(&samples);
      AddClientStats(probes->Counters(), client_tracker, db_join, probes->client_events_dropped(),
                     probes->client_connections_seeded(), &samples);
      self_metrics->Publish(std::move(samples));
      last_stats = now;
    }
  }
  spdlog::info("stopping: detaching probes");
  discovery.Stop();
  if (kube->watcher) kube->watcher->Stop();
  api.Shutdown();
  return 0;
}

}  // namespace perfd
