#include "daemon/exporters/self_metrics.h"

#include <stdexcept>

namespace perfd {

const std::vector<SelfMetricDef> kSelfMetrics = {
    {"perfd_tracked_workers", SelfMetricType::kGauge, "uvicorn worker processes traced now"},
    {"perfd_tracked_connections", SelfMetricType::kGauge,
     "server connections with decoder state now"},
    {"perfd_events_total", SelfMetricType::kCounter, "Ring-buffer events decoded, by kind"},
    {"perfd_ringbuf_drops_total", SelfMetricType::kCounter,
     "Events lost in the kernel because the ring buffer was full"},
    {"perfd_conn_table_full_total", SelfMetricType::kCounter,
     "Connections not traced because the kernel connection table was full"},
    {"perfd_args_table_full_total", SelfMetricType::kCounter,
     "Syscalls not traced because the kernel argument table was full"},
    {"perfd_args_quota_refused_total", SelfMetricType::kCounter,
     "Syscalls not traced because their process already had 1024 (PERFD_STASH_QUOTA) threads "
     "inside traced syscalls (e.g. blocked in read)"},
    {"perfd_args_stale_reclaimed_total", SelfMetricType::kCounter,
     "Kernel syscall-argument entries of exited threads (their syscall exit was missed) deleted "
     "by the periodic sweep"},
    {"perfd_read_faults_total", SelfMetricType::kCounter,
     "Reads/writes whose bytes the kernel could not copy (page not resident)"},
    {"perfd_adopted_connections_total", SelfMetricType::kCounter,
     "Connections accepted before perfd attached, adopted at their first request line"},
    {"perfd_sock_table_full_total", SelfMetricType::kCounter,
     "Server sockets or listener ports not registered for arrival times because a kernel "
     "map update failed (those requests get queue time 0)"},
    {"perfd_client_connections", SelfMetricType::kGauge,
     "client connections (databases, caches) of traced workers with decoder state now"},
    {"perfd_client_connects_total", SelfMetricType::kCounter,
     "client connections tracked from their connect()"},
    {"perfd_client_connections_seeded_total", SelfMetricType::kCounter,
     "client TCP connections found open in /proc when a worker was attached (traced "
     "mid-stream)"},
    {"perfd_client_transfers_cut_total", SelfMetricType::kCounter,
     "client reads/writes longer than the kernel's capture (1024 bytes): the rest not decoded"},
    {"perfd_client_bytes_uncaptured_total", SelfMetricType::kCounter,
     "client-connection bytes transferred beyond what the kernel captured"},
    {"perfd_client_events_total", SelfMetricType::kCounter, "client-connection events decoded"},
    {"perfd_client_events_dropped_total", SelfMetricType::kCounter,
     "client-connection events with no decoder to take them"},
    {"perfd_client_connections_classified_total", SelfMetricType::kCounter,
     "client connections by the protocol their first bytes showed"},
    {"perfd_client_untracked_total", SelfMetricType::kCounter,
     "client connections untracked at their first write: no decoded protocol (their bytes "
     "never leave the kernel)"},
    {"perfd_client_replies_before_request_total", SelfMetricType::kCounter,
     "reads on a client connection before its first write was seen (attach mid-stream)"},
    {"perfd_client_connections_evicted_total", SelfMetricType::kCounter,
     "client connections forgotten after an hour without events"},
    {"perfd_client_writes_owned_total", SelfMetricType::kCounter,
     "client writes the kernel joined to a request, by how it knew the request"},
    {"perfd_db_call_sites_total", SelfMetricType::kCounter,
     "Python stacks of database writes (rate-limited per worker): captured, unused (no write "
     "followed), and calls that got one"},
    {"perfd_db_calls_total", SelfMetricType::kCounter,
     "database/cache calls decoded, by how they were joined to a request"},
    {"perfd_pgsql_decoder_total", SelfMetricType::kCounter,
     "PostgreSQL decoder events: records, losses, refusals (docs/PGSQL.md)"},
    {"perfd_redis_decoder_total", SelfMetricType::kCounter,
     "Redis decoder events: records, losses, refusals (docs/REDIS.md)"},
    {"perfd_http_framing_lost_total", SelfMetricType::kCounter,
     "Times a server connection's read or write side lost HTTP/1.x message framing in the "
     "kernel (a boundary past the scanned bytes, unparsable lengths); its lines are held back "
     "until it resynchronises"},
    {"perfd_malformed_records_total", SelfMetricType::kCounter,
     "Ring-buffer records shorter than their declared layout"},
    {"perfd_http_decoder_total", SelfMetricType::kCounter,
     "HTTP decoder outcomes and anomalies, by kind (unparsed lines/bytes, unmatched "
     "responses, dropped lines, ...)"},
    {"perfd_http_requests_total", SelfMetricType::kCounter,
     "Requests decoded, by outcome (completed, aborted)"},
    {"perfd_requests_unknown_worker_total", SelfMetricType::kCounter,
     "Requests from processes no longer mapped to a service"},
    {"perfd_route_folded_total", SelfMetricType::kCounter,
     "Requests reported under a pseudo-route instead of their own, by reason: cap (\"other\", "
     "routes.max_per_service reached), unproven (\"other\", a heuristic template below "
     "routes.heuristic_min_requests), unmatched (\"unmatched\", no template of the service's "
     "OpenAPI document matches)"},
    {"perfd_route_templates_refused_total", SelfMetricType::kCounter,
     "OpenAPI route templates not used, by reason: too_many (paths past the first 2000 of a "
     "document, or valid templates past 2000), too_long "
     "(over 256 bytes), too_many_segments (over 32), bad_parameter_name (not [A-Za-z0-9_]), "
     "bad_character (control character), invalid (syntax); counted at every fetch"},
    {"perfd_route_lookups_over_budget_total", SelfMetricType::kCounter,
     "Route lookups that exhausted the per-lookup matching budget (then \"unmatched\" with an "
     "OpenAPI document, the path heuristics without)"},
    {"perfd_openapi_fetches_total", SelfMetricType::kCounter,
     "OpenAPI document fetches, by result: ok, http_error, invalid_document, "
     "malformed_response, too_large, socket_path_refused (a symlink in a unix listener's "
     "path, or not a socket), netns_failed (the worker's network namespace could not be "
     "entered: fetch aborted), internal_error (all final: heuristic routes), unreachable, "
     "timed_out (routes.openapi_timeout_ms reached; both retried)"},
    {"perfd_errors_total", SelfMetricType::kCounter, "Internal errors, by component"},
    {"perfd_python_workers", SelfMetricType::kGauge,
     "Workers whose interpreter was verified for stack walking, or refused (HTTP still traced)"},
    {"perfd_python_interpreter_opens_total", SelfMetricType::kCounter,
     "Opens of a file a worker maps as its interpreter, by result: map_files (the mapped inode, "
     "through /proc/<pid>/map_files), root_path (by name under /proc/<pid>/root, same inode: no "
     "CAP_SYS_ADMIN), or refused: not_regular (FIFO, directory, device), not_the_mapped_file "
     "(another device/inode), unopenable"},
    {"perfd_python_threads_started_total", SelfMetricType::kCounter,
     "Threads started by sampled workers, by result: seen (their sampling event is opened at "
     "once, not at the next scan), ringbuf_drop (not reported: sampled from the next scan)"},
    {"perfd_python_sampled_threads", SelfMetricType::kGauge,
     "Threads with a sampling perf event attached"},
    {"perfd_python_unsampled_threads", SelfMetricType::kGauge,
     "Live threads of sampled workers left unsampled by a cap now"},
    {"perfd_python_threads_over_cap_total", SelfMetricType::kCounter,
     "Threads not sampled (each counted once), by cap: per_worker "
     "(python.max_threads_per_worker reached; the main thread is always sampled), fd_budget "
     "(perfd's descriptor budget for perf events spent, or EMFILE)"},
    {"perfd_kubernetes_pods", SelfMetricType::kGauge,
     "Pods of this node known from the Kubernetes API (kubernetes.*; absent when the API is "
     "not watched)"},
    {"perfd_kubernetes_pods_dropped_total", SelfMetricType::kCounter,
     "Pods not kept because kubernetes.max_pods were known already"},
    {"perfd_kubernetes_api_failures_total", SelfMetricType::kCounter,
     "Kubernetes API failures, by kind: list, watch (retried with backoff), gone (410: the "
     "watch's resourceVersion expired, listed again), event (an unreadable watch event)"},
    {"perfd_discovery_read_errors_total", SelfMetricType::kCounter,
     "/proc reads that failed for a reason other than the process exiting, by errno "
     "(EMFILE, ENFILE, EACCES, ENOMEM, other); the process is kept and read again next scan"},
    {"perfd_event_loop_tracing", SelfMetricType::kGauge,
     "1 when the event-loop probes are loaded (event_loop.enabled and they attached), else 0"},
    {"perfd_event_loop_kernel_total", SelfMetricType::kCounter,
     "Event-loop probes in the kernel, by kind: iterations ended, blocking_events emitted, "
     "ringbuf_drop (a blocking event lost), threads_full (a loop thread not tracked), "
     "stack_walks (Python stacks taken when a busy loop thread blocked), offcpu_stacks (the "
     "longest stretch's stack sent with a blocking event), offcpu_stack_drop (lost: ring "
     "buffer full), stack_slots_full (not taken: no stack slot for the thread), "
     "stack_walks_over_budget (not taken: the thread blocked more than 100 times a second)"},
    {"perfd_event_loop_blocking_joined_total", SelfMetricType::kCounter,
     "Blocking events joined with their stacks, requests and victims, by result: decided "
     "(reported; includes without_evidence), without_evidence (no stack seen: route "
     "\"(unattributed)\"), unknown_process (no service), pending_overflow (dropped: too many "
     "waiting for their worker)"},
    {"perfd_event_loop_blocking_pending", SelfMetricType::kGauge,
     "Blocking events waiting for their samples and victims (decided ~2 s after they end)"},
    {"perfd_event_loop_blocking_window_dropped_total", SelfMetricType::kCounter,
     "Blocking events perfctl blocking can no longer show: a service had 20,000 in its window"},
    {"perfd_event_loop_offcpu_stacks_total", SelfMetricType::kCounter,
     "Off-CPU stacks of blocking events, by result: received, orphan (matched no event)"},
    {"perfd_event_loop_samples_overflow_total", SelfMetricType::kCounter,
     "Samples not kept for the blocking-event join: the worker's buffer was full"},
    {"perfd_request_breakdowns_total", SelfMetricType::kCounter,
     "Request time breakdowns: decided, or not kept (pending_overflow: too many requests "
     "waiting for their evidence in one worker)"},
    {"perfd_request_breakdowns_cpu_clamped_total", SelfMetricType::kCounter,
     "Breakdowns whose sampled CPU exceeded the time the measured waits left and was scaled "
     "down to fit (sampling noise on short requests)"},
    {"perfd_request_breakdowns_pending", SelfMetricType::kGauge,
     "Completed requests waiting for their samples, GC pauses and blocking events"},
    {"perfd_request_breakdown_evidence_dropped_total", SelfMetricType::kCounter,
     "Evidence no breakdown used, by kind: samples_overflow and gc_overflow (a worker's buffer "
     "was full), samples_unclaimed (a connection's samples outside its requests: work after the "
     "response), blocking_unattributed (a blocking event with no stack: no one's loop_wait)"},
    {"perfd_request_breakdown_routes_folded_total", SelfMetricType::kCounter,
     "Breakdowns counted under the route \"_OTHER\" (route cap of the window or the metric)"},
    {"perfd_event_loop_blocked_routes_folded_total", SelfMetricType::kCounter,
     "Blocked time reported under http_route=\"_OTHER\": the service had 256 route series "
     "in perfd_event_loop_blocked_seconds_total"},
    {"perfd_event_loop_unknown_process_total", SelfMetricType::kCounter,
     "Blocking events of a process with no service (it exited before they were read)"},
    {"perfd_event_loop_services", SelfMetricType::kGauge,
     "Services with perfd_event_loop_* series"},
    {"perfd_event_loop_services_evicted_total", SelfMetricType::kCounter,
     "Services whose perfd_event_loop_* series were removed after aggregation.idle_seconds "
     "without an iteration"},
    {"perfd_python_gc_probes", SelfMetricType::kGauge,
     "Sampled workers by the state of their GC pause probes: attached (pauses measured in "
     "perfd_python_gc_pause_seconds), no_usdt (the interpreter was built without the "
     "python:gc__start/gc__done USDT probes: pauses unknown, not zero), failed (would not attach; "
     "logged)"},
    {"perfd_python_gc_pauses_total", SelfMetricType::kCounter,
     "GC pause records, by result: measured, unpaired (a collection already running when the "
     "probes attached), ringbuf_drop (lost: ring buffer full), unknown_process (its worker was "
     "gone)"},
    {"perfd_python_gc_series", SelfMetricType::kGauge,
     "(service, generation) label sets of perfd_python_gc_pause_seconds exported now"},
    {"perfd_python_gc_series_evicted_total", SelfMetricType::kCounter,
     "perfd_python_gc_pause_seconds label sets removed after aggregation.idle_seconds without a "
     "pause"},
    {"perfd_python_sampler_total", SelfMetricType::kCounter,
     "Kernel-side sampler outcomes: samples, truncated stacks, read errors, drops, ..."},
    {"perfd_python_samples_total", SelfMetricType::kCounter,
     "Samples in user space, by result: attributed_exact (joined by request identity), "
     "attributed_interval (time join, identity off), attributed_unattributed, "
     "attributed_no_request, unknown_process, no_python_frame"},
    {"perfd_request_identity_contexts_total", SelfMetricType::kCounter,
     "Context copies seen by the request-identity probe, by kind: copied (all), inherited (made "
     "inside a request), delivered (a request's task), untagged, table_full, no_tstate"},
    {"perfd_request_identity_stream_probes_total", SelfMetricType::kCounter,
     "uvloop workers with a client connection given the PySet_Add probe that names the "
     "request behind each queued database write (attached), or left without (refused)"},
    {"perfd_request_identity_workers_total", SelfMetricType::kCounter,
     "Workers request identity was switched on for, by mode: all_copies (context constructor "
     "hooked), capi_copies (PyContext_CopyCurrent hooked); refused: time join only"},
    {"perfd_python_request_cpu_exact_ratio", SelfMetricType::kGauge,
     "Share of request CPU samples (all routes plus (unattributed)) joined exactly to their "
     "request, since start"},
    {"perfd_python_samples_pending", SelfMetricType::kGauge,
     "Samples waiting for the request they belong to"},
    {"perfd_python_symbolizer_total", SelfMetricType::kCounter,
     "Symbol cache hits, misses, evictions, read failures (of which rejected: a length, kind "
     "or size in the target's memory out of range), stale entries, and code objects whose line "
     "table exceeded the cap (linetable_truncated: no line numbers)"},
    {"perfd_python_stacks", SelfMetricType::kGauge, "Distinct stacks interned"},
    {"perfd_python_stacks_overflow_total", SelfMetricType::kCounter,
     "Samples whose stack was not interned because the stack table was full (200,000 "
     "stacks); they count under \"[stack table full]\""},
    {"perfd_python_frames", SelfMetricType::kGauge, "Distinct frames interned"},
    {"perfd_python_cpu_evicted_total", SelfMetricType::kCounter,
     "Python CPU entries dropped after aggregation.idle_seconds without a sample, by kind: "
     "series (perfd_python_cpu_seconds_total label sets), service (CPU profile windows)"},
    {"perfd_aggregator_entries", SelfMetricType::kGauge,
     "What the windowed aggregator behind the API holds now, by kind: services, routes "
     "((method, route) entries), slots (1-second slots allocated over all routes)"},
    {"perfd_aggregator_overflow_total", SelfMetricType::kCounter,
     "Requests counted under \"_OTHER\" in the aggregator, by cap: max_services (service), "
     "max_routes (route; aggregation.* caps), unknown_method (method)"},
    {"perfd_aggregator_evicted_total", SelfMetricType::kCounter,
     "Aggregator entries dropped after aggregation.idle_seconds without a request, by kind "
     "(route, service)"},
    {"perfd_http_metrics_series", SelfMetricType::kGauge,
     "Label sets of the http_server_* / perfd_http_server_* families exported now"},
    {"perfd_http_metrics_overflow_total", SelfMetricType::kCounter,
     "Observations of the HTTP metric families under \"_OTHER\" labels, by cap: max_series "
     "(aggregation.max_series reached: service, route and method \"_OTHER\"), "
     "unknown_method, status_out_of_range (status outside 100..599)"},
    {"perfd_http_metrics_evicted_total", SelfMetricType::kCounter,
     "HTTP metric label sets removed after aggregation.idle_seconds without a request"},
    {"perfd_db_aggregator_entries", SelfMetricType::kGauge,
     "What the DB aggregator behind GetQueries / GetTop holds now, by kind: services, routes, "
     "fingerprints, slots"},
    {"perfd_db_aggregator_overflow_total", SelfMetricType::kCounter,
     "DB calls or requests counted under \"_OTHER\" in the DB aggregator, by cap: "
     "max_services, max_routes, max_fingerprints (calls folded into a service's \"_OTHER\" "
     "fingerprint), names (route / call-site / error-code names per fingerprint past 16), "
     "patterns (N+1 / fan-out findings past 16 fingerprints per route, dropped)"},
    {"perfd_db_aggregator_evicted_total", SelfMetricType::kCounter,
     "DB aggregator entries dropped after aggregation.idle_seconds idle, by kind (route, "
     "fingerprint, service)"},
    {"perfd_db_metrics_series", SelfMetricType::kGauge,
     "Label sets of the db_client_* / perfd_db_* families exported now"},
    {"perfd_db_metrics_overflow_total", SelfMetricType::kCounter,
     "Observations of the DB metric families under \"_OTHER\" labels, by cap: max_series "
     "(every label \"_OTHER\"), operation (operation name not a short upper-case word), "
     "untracked_fingerprint (past db.max_fingerprints_per_service scored for the top K: "
     "db_query_id \"other\")"},
    {"perfd_db_metrics_evicted_total", SelfMetricType::kCounter,
     "DB metric label sets removed after aggregation.idle_seconds without an observation"},
    {"perfd_bpf_program_runs_total", SelfMetricType::kCounter,
     "BPF program invocations (needs sysctl kernel.bpf_stats_enabled=1)"},
    {"perfd_bpf_program_run_seconds_total", SelfMetricType::kCounter,
     "CPU time spent in BPF programs (needs kernel.bpf_stats_enabled=1)"},
    {"perfd_bpf_program_recursion_misses_total", SelfMetricType::kCounter,
     "BPF program invocations skipped by the kernel because of recursion"},
};

namespace {

const SelfMetricDef* Find(const std::string& name) {
  for (const auto& d : kSelfMetrics)
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace

void SelfMetrics::Publish(std::vector<SelfSample> samples) {
  for (const auto& s : samples)
    if (!Find(s.name)) throw std::invalid_argument("unknown self-metric " + s.name);
  std::lock_guard<std::mutex> lock(mu_);
  samples_ = std::move(samples);
}

std::vector<prometheus::MetricFamily> SelfMetrics::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<prometheus::MetricFamily> out;
  for (const auto& def : kSelfMetrics) {
    prometheus::MetricFamily fam;
    fam.name = def.name;
    fam.help = def.help;
    fam.type = def.type == SelfMetricType::kCounter ? prometheus::MetricType::Counter
                                                    : prometheus::MetricType::Gauge;
    for (const auto& s : samples_) {
      if (s.name != def.name) continue;
      prometheus::ClientMetric m;
      for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
      if (def.type == SelfMetricType::kCounter)
        m.counter.value = s.value;
      else
        m.gauge.value = s.value;
      fam.metric.push_back(std::move(m));
    }
    if (!fam.metric.empty()) out.push_back(std::move(fam));
  }
  return out;
}

}  // namespace perfd
