#include "daemon/loader/http_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf/python.h"
#include "daemon/loader/client_seed.h"
#include "daemon/loader/percpu_counters.h"
#include "daemon/loader/shared_py_maps.h"
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
  SharePyMaps(p->skel_->obj, py, "http_trace", /*shrink_unshared=*/false);
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

int HttpProbes::tracked_pids_fd() const { return bpf_map__fd(skel_->maps.tracked_pids); }

void HttpProbes::TrackPid(uint32_t tgid) {
  uint32_t one = 1;
  if (bpf_map__update_elem(skel_->maps.tracked_pids, &tgid, sizeof(tgid), &one, sizeof(one),
                           BPF_ANY))
    throw LoaderError("tracked_pids update for pid " + std::to_string(tgid) +
                      " failed: " + Errno(errno));
}

size_t HttpProbes::SeedClientConnections(uint32_t tgid) {
  size_t added = 0;
  struct timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  // conn_ids are kernel timestamps elsewhere: one from the same clock, made
  // unique per connection, cannot collide with a live one of this process.
  uint64_t conn_id = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
  for (const SeedConn& c : FindClientConnections(tgid)) {
    perfd_conn_key key{tgid, c.fd};
    perfd_conn_info info{};
    info.conn_id = conn_id++;
    info.role = PERFD_ROLE_CLIENT;
    info.mid_stream = 1;
    info.peer_port = c.peer_port;
    if (bpf_map__update_elem(skel_->maps.conns, &key, sizeof(key), &info, sizeof(info),
                             BPF_NOEXIST) != 0)
      continue;
    ++added;
    ++seeded_;
    py_owner_key fk{tgid, c.fd};
    uint8_t one = 1;
    bpf_map__update_elem(skel_->maps.py_client_fds, &fk, sizeof(fk), &one, sizeof(one), BPF_ANY);
  }
  return added;
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
  // The process is gone, so are its threads: every entry left is stale.
  // Reclaimed before the quota entry goes, so a reused pid starts at 0.
  size_t seen = 0;
  ReclaimStashIf([tgid](uint64_t id) { return (id >> 32) == tgid; }, &seen);
  bpf_map__delete_elem(skel_->maps.stash_held, &tgid, sizeof(tgid), 0);
}

size_t HttpProbes::ReclaimStashIf(const std::function<bool(uint64_t)>& dead, size_t* seen) {
  std::vector<uint64_t> doomed;
  uint64_t key = 0, next = 0;
  const uint64_t* prev = nullptr;
  *seen = 0;
  while (bpf_map__get_next_key(skel_->maps.stashed, prev, &next, sizeof(next)) == 0) {
    ++*seen;
    if (dead(next)) doomed.push_back(next);
    key = next;
    prev = &key;
  }
  size_t reclaimed = 0;
  const int prog_fd = bpf_program__fd(skel_->progs.reclaim_stash);
  for (uint64_t id : doomed) {
    // The delete and the quota release must be one atomic step with respect
    // to the kernel side, hence a BPF program rather than a map delete here.
    struct {
      uint64_t pid_tgid;
    } args{id};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
    if (bpf_prog_test_run_opts(prog_fd, &opts) == 0 && opts.retval == 1) ++reclaimed;
  }
  return reclaimed;
}

HttpProbes::StashSweep HttpProbes::ReclaimStash() {
  StashSweep sweep;
  sweep.reclaimed = ReclaimStashIf(
      [](uint64_t id) {
        const pid_t tgid = static_cast<pid_t>(id >> 32), tid = static_cast<pid_t>(id & 0xffffffff);
        // ESRCH: no such thread in that process. EPERM cannot happen as
        // root; anything but ESRCH keeps the entry.
        return syscall(SYS_tgkill, tgid, tid, 0) != 0 && errno == ESRCH;
      },
      &sweep.entries);
  return sweep;
}

bool HttpProbes::InjectStaleStashForTest(uint64_t pid_tgid) {
  // struct stash in http_trace.bpf.c: ptr, fd, kind, how (+ padding).
  unsigned char value[16] = {};
  if (bpf_map__value_size(skel_->maps.stashed) != sizeof(value)) return false;
  if (bpf_map__update_elem(skel_->maps.stashed, &pid_tgid, sizeof(pid_tgid), value, sizeof(value),
                           BPF_NOEXIST))
    return false;
  const uint32_t tgid = pid_tgid >> 32;
  // Not atomic with the kernel's updates: fine in a test that makes no
  // traced syscalls meanwhile.
  int64_t held = std::max<int64_t>(StashHeld(tgid), 0) + 1;
  return bpf_map__update_elem(skel_->maps.stash_held, &tgid, sizeof(tgid), &held, sizeof(held),
                              BPF_ANY) == 0;
}

int64_t HttpProbes::StashHeld(uint32_t tgid) const {
  int64_t held = 0;
  if (bpf_map__lookup_elem(skel_->maps.stash_held, &tgid, sizeof(tgid), &held, sizeof(held), 0))
    return -1;
  return held;
}

int HttpProbes::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<HttpProbes*>(ctx);
  if (size < sizeof(perfd_http_event_header)) {
    ++self->malformed_;
    return 0;
  }
  const auto* ev = static_cast<const perfd_http_event*>(data);
  if (ev->h.role == PERFD_ROLE_CLIENT) {
    if (!self->client_fn_) {
      ++self->client_dropped_;
      return 0;
    }
    const size_t room = size - sizeof(perfd_http_event_header);
    if (ev->h.data_len > room) ++self->malformed_;
    self->client_fn_(ev->h, std::string_view(ev->data, std::min<size_t>(ev->h.data_len, room)));
    return 0;
  }
  // Records carry only the lines they found (header + nlines * LINE_MAX).
  const bool has_lines =
      ev->h.nlines > 0 && ev->h.nlines <= PERFD_MAX_LINES &&
      size >= sizeof(perfd_http_event_header) + size_t{ev->h.nlines} * PERFD_LINE_MAX;
  if (ev->h.nlines > 0 && !has_lines) ++self->malformed_;
  (*self->current_fn_)(ev->h, has_lines ? ev->lines : nullptr);
  return 0;
}

void HttpProbes::Wait(int timeout_ms) {
  epoll_event ev{};
  epoll_wait(ring_buffer__epoll_fd(ring_), &ev, 1, timeout_ms);
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
