#include "daemon/loader/http_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/loader/percpu_counters.h"
#include "http_trace.skel.h"

namespace perfd {

namespace {

std::string Errno(int err) { return std::strerror(err < 0 ? -err : err); }

// libbpf finds tracepoint ids under tracefs. Minimal hosts and containers
// often lack the mount; perfd runs privileged anyway, so mount it.
void EnsureTracefs() {
  struct stat st;
  if (stat("/sys/kernel/tracing/events", &st) == 0 ||
      stat("/sys/kernel/debug/tracing/events", &st) == 0)
    return;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    throw LoaderError("tracefs is not mounted and mounting it on /sys/kernel/tracing failed: " +
                      Errno(errno));
}

}  // namespace

std::unique_ptr<HttpProbes> HttpProbes::Open(const SharedPyMaps& py) {
  EnsureTracefs();
  std::unique_ptr<HttpProbes> p(new HttpProbes());
  p->skel_ = http_trace__open();
  if (!p->skel_) throw LoaderError("http_trace: open failed: " + Errno(errno));
  const std::pair<bpf_map*, int> shared[] = {{p->skel_->maps.py_procs, py.procs_fd},
                                             {p->skel_->maps.py_ctx_conns, py.ctx_conns_fd},
                                             {p->skel_->maps.py_deliveries, py.deliveries_fd}};
  for (const auto& [map, fd] : shared) {
    if (fd < 0) continue;
    if (int err = bpf_map__reuse_fd(map, fd))
      throw LoaderError(std::string("http_trace: sharing ") + bpf_map__name(map) +
                        " failed: " + Errno(err));
  }
  if (int err = http_trace__load(p->skel_))
    throw LoaderError("http_trace: load failed (verifier or missing BTF?): " + Errno(err));
  if (int err = http_trace__attach(p->skel_))
    throw LoaderError("http_trace: attaching syscall tracepoints failed: " + Errno(err) +
                      " (is tracefs available?)");
  p->ring_ =
      ring_buffer__new(bpf_map__fd(p->skel_->maps.events), &HttpProbes::OnRecord, p.get(), nullptr);
  if (!p->ring_) throw LoaderError("http_trace: ring buffer setup failed: " + Errno(errno));
  return p;
}

HttpProbes::~HttpProbes() {
  if (ring_) ring_buffer__free(ring_);
  if (skel_) http_trace__destroy(skel_);
}

void HttpProbes::TrackPid(uint32_t tgid) {
  uint32_t one = 1;
  if (bpf_map__update_elem(skel_->maps.tracked_pids, &tgid, sizeof(tgid), &one, sizeof(one),
                           BPF_ANY))
    throw LoaderError("tracked_pids update for pid " + std::to_string(tgid) +
                      " failed: " + Errno(errno));
}

void HttpProbes::UntrackPid(uint32_t tgid) {
  bpf_map__delete_elem(skel_->maps.tracked_pids, &tgid, sizeof(tgid), 0);
  // Collect first, delete after: deleting while iterating restarts the walk.
  std::vector<perfd_conn_key> doomed;
  perfd_conn_key key{}, next{};
  const perfd_conn_key* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.conns, prev, &next, sizeof(next)) == 0) {
    if (next.tgid == tgid) doomed.push_back(next);
    key = next;
    prev = &key;
  }
  for (const auto& k : doomed) bpf_map__delete_elem(skel_->maps.conns, &k, sizeof(k), 0);
}

int HttpProbes::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<HttpProbes*>(ctx);
  if (size < sizeof(perfd_http_event_header)) {
    ++self->malformed_;
    return 0;
  }
  const auto* ev = static_cast<const perfd_http_event*>(data);
  // Records carry only the lines they found (header + nlines * LINE_MAX).
  const bool has_lines =
      ev->h.nlines > 0 && ev->h.nlines <= PERFD_MAX_LINES &&
      size >= sizeof(perfd_http_event_header) + size_t{ev->h.nlines} * PERFD_LINE_MAX;
  if (ev->h.nlines > 0 && !has_lines) ++self->malformed_;
  (*self->current_fn_)(ev->h, has_lines ? ev->lines : nullptr);
  return 0;
}

int HttpProbes::Poll(int timeout_ms, const EventFn& fn) {
  current_fn_ = &fn;
  // The kernel side wakes us only when much is pending (see emit() in
  // http_trace.bpf.c): wait up to the timeout, then drain what is there.
  int n = ring_buffer__poll(ring_, timeout_ms);
  if (n >= 0) {
    int more = ring_buffer__consume(ring_);
    n = more < 0 ? more : n + more;
  }
  current_fn_ = nullptr;
  return n == -EINTR ? 0 : n;
}

std::array<uint64_t, PERFD_CNT_MAX> HttpProbes::Counters() const {
  return SumPerCpuCounters<PERFD_CNT_MAX>(skel_->maps.counters);
}

std::vector<ProgramStats> HttpProbes::Programs() const { return ObjectProgramStats(skel_->obj); }

}  // namespace perfd
