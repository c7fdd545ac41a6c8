#include "daemon/loader/py_sampler.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/perf_event.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/loader/percpu_counters.h"
#include "py_sampler.skel.h"

namespace perfd {

namespace {

// Thread ids of the process, ascending; nullopt when the task directory
// cannot be read. A failure (EMFILE, ...) must not look like "no threads":
// that would detach every thread of a live worker.
std::optional<std::vector<uint32_t>> Threads(uint32_t tgid) {
  std::vector<uint32_t> out;
  std::string dir = "/proc/" + std::to_string(tgid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return std::nullopt;
  for (;;) {
    errno = 0;
    dirent* e = readdir(d);
    if (!e) {
      if (errno != 0) {
        closedir(d);
        return std::nullopt;
      }
      break;
    }
    char* end;
    unsigned long tid = std::strtoul(e->d_name, &end, 10);
    if (*end == 0 && tid > 0) out.push_back(tid);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::unique_ptr<PySampler> PySampler::Open(uint32_t frequency_hz, uint32_t max_threads_per_worker) {
  std::unique_ptr<PySampler> p(new PySampler());
  p->frequency_hz_ = frequency_hz;
  p->max_threads_per_worker_ = std::max<uint32_t>(1, max_threads_per_worker);
  p->skel_ = py_sampler__open_and_load();
  if (!p->skel_) throw LoaderError("py_sampler: load failed: " + std::string(strerror(errno)));
  p->ring_ =
      ring_buffer__new(bpf_map__fd(p->skel_->maps.samples), &PySampler::OnRecord, p.get(), nullptr);
  if (!p->ring_) throw LoaderError("py_sampler: ring buffer setup failed");
  // Database call sites (PY_SAMPLE_CALL_SITE) come through the same poller.
  if (ring_buffer__add(p->ring_, bpf_map__fd(p->skel_->maps.py_sites), &PySampler::OnRecord,
                       p.get()))
    throw LoaderError("py_sampler: call-site ring buffer setup failed");
  if (ring_buffer__add(p->ring_, bpf_map__fd(p->skel_->maps.py_gc), &PySampler::OnGcPause, p.get()))
    throw LoaderError("py_sampler: GC ring buffer setup failed");
  if (ring_buffer__add(p->ring_, bpf_map__fd(p->skel_->maps.py_new_threads),
                       &PySampler::OnThreadStarted, p.get()))
    throw LoaderError("py_sampler: thread ring buffer setup failed");
  // Host-wide, unlike the per-process probes: no process is sampled yet.
  p->thread_start_link_ = bpf_program__attach(p->skel_->progs.py_thread_started);
  if (!p->thread_start_link_)
    throw LoaderError("py_sampler: attaching sched_process_fork failed: " +
                      std::string(strerror(errno)));
  return p;
}

PySampler::~PySampler() {
  for (auto& [tgid, proc] : procs_)
    for (auto& [tid, link] : proc.links) bpf_link__destroy(link);
  for (auto& [tgid, link] : context_links_) bpf_link__destroy(link);
  for (auto& [tgid, link] : stream_links_) bpf_link__destroy(link);
  for (auto& [tgid, links] : gc_links_)
    for (bpf_link* link : links) bpf_link__destroy(link);
  if (thread_start_link_) bpf_link__destroy(thread_start_link_);
  if (ring_) ring_buffer__free(ring_);
  if (skel_) py_sampler__destroy(skel_);
}

int PySampler::py_procs_fd() const { return bpf_map__fd(skel_->maps.py_procs); }
int PySampler::py_ctx_conns_fd() const { return bpf_map__fd(skel_->maps.py_ctx_conns); }
int PySampler::py_deliveries_fd() const { return bpf_map__fd(skel_->maps.py_deliveries); }
int PySampler::py_owners_fd() const { return bpf_map__fd(skel_->maps.py_owners); }
int PySampler::py_client_fds_fd() const { return bpf_map__fd(skel_->maps.py_client_fds); }
int PySampler::py_sites_fd() const { return bpf_map__fd(skel_->maps.py_sites); }
int PySampler::py_site_last_fd() const { return bpf_map__fd(skel_->maps.py_site_last); }
int PySampler::py_tstates_fd() const { return bpf_map__fd(skel_->maps.py_tstates); }

void PySampler::AttachContextHook(uint32_t tgid, const std::string& path, uint64_t file_offset) {
  // A return probe: the new context is the return value. The hooked
  // function is plain C that always returns (no longjmp, no unwinding
  // through it), which is what makes a return probe safe here.
  bpf_link* link = bpf_program__attach_uprobe(skel_->progs.py_context_copied, /*retprobe=*/true,
                                              static_cast<pid_t>(tgid), path.c_str(), file_offset);
  if (!link) {
    int err = errno;
    throw LoaderError("context probe on " + path + "+" + std::to_string(file_offset) + " for pid " +
                      std::to_string(tgid) + " failed: " + strerror(err));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = context_links_.emplace(tgid, link);
  if (!inserted) {
    bpf_link__destroy(it->second);
    it->second = link;
  }
}

void PySampler::AttachGcProbes(uint32_t tgid, const std::string& path) {
  std::vector<bpf_link*> links;
  for (auto [prog, name] : {std::pair{skel_->progs.py_gc_started, "gc__start"},
                            std::pair{skel_->progs.py_gc_done, "gc__done"}}) {
    // libbpf reads the probe's note (address, argument spec, semaphore) from
    // the ELF and raises the semaphore in this process only, so CPython
    // starts firing the probe here and nowhere else.
    bpf_link* link =
        bpf_program__attach_usdt(prog, static_cast<pid_t>(tgid), path.c_str(), "python", name,
                                 /*opts=*/nullptr);
    if (!link) {
      int err = errno;
      for (bpf_link* l : links) bpf_link__destroy(l);
      throw LoaderError(std::string("USDT probe python:") + name + " on " + path + " for pid " +
                        std::to_string(tgid) + " failed: " + strerror(err));
    }
    links.push_back(link);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = gc_links_[tgid];
  for (bpf_link* l : slot) bpf_link__destroy(l);
  slot = std::move(links);
}

void PySampler::AttachStreamProbe(uint32_t tgid, const std::string& path, uint64_t file_offset) {
  bpf_link* link = bpf_program__attach_uprobe(skel_->progs.py_stream_queued, /*retprobe=*/false,
                                              static_cast<pid_t>(tgid), path.c_str(), file_offset);
  if (!link) {
    int err = errno;
    throw LoaderError("PySet_Add probe on " + path + "+" + std::to_string(file_offset) +
                      " for pid " + std::to_string(tgid) + " failed: " + strerror(err));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = stream_links_.emplace(tgid, link);
  if (!inserted) {
    bpf_link__destroy(it->second);
    it->second = link;
  }
}

PySampler::Attach PySampler::AttachThread(uint32_t tgid, uint32_t tid, Process& p) {
  if ((attached_ + 1) * kFdsPerThread > fd_budget_) return Attach::kOverBudget;
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.freq = 1;
  attr.sample_freq = frequency_hz_;
  int fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ESRCH) return Attach::kGone;  // the thread exited meanwhile
    if (err == EMFILE || err == ENFILE) {
      // Out of descriptors despite the budget (a low limit, or another
      // descriptor user): the same outcome as the budget, logged once.
      if (!fd_exhaustion_logged_) {
        fd_exhaustion_logged_ = true;
        spdlog::warn(
            "perf_event_open: {} with {} threads sampled; further threads are not "
            "sampled (perfd_python_threads_over_cap_total{{cap=\"fd_budget\"}})",
            strerror(err), attached_);
      }
      return Attach::kOverBudget;
    }
    ++attach_failures_;
    spdlog::warn("perf_event_open for thread {} of pid {} failed: {}", tid, tgid, strerror(err));
    return Attach::kFailed;
  }
  bpf_link* link = bpf_program__attach_perf_event(skel_->progs.py_sample, fd);
  if (!link) {
    const int err = errno;
    close(fd);
    if (err == EMFILE || err == ENFILE) return Attach::kOverBudget;
    ++attach_failures_;
    return Attach::kFailed;
  }
  p.links[tid] = link;  // the link owns fd from now on
  ++attached_;
  return Attach::kAttached;
}

void PySampler::SyncLocked(uint32_t tgid, Process& p, const std::vector<uint32_t>& live) {
  std::set<uint32_t> alive(live.begin(), live.end());
  for (auto l = p.links.begin(); l != p.links.end();) {
    if (!alive.count(l->first)) {
      bpf_link__destroy(l->second);
      --attached_;
      l = p.links.erase(l);
    } else {
      ++l;
    }
  }
  for (auto r = p.refused.begin(); r != p.refused.end();)
    r = alive.count(*r) ? std::next(r) : p.refused.erase(r);

  // The main thread runs the event loop of an asyncio worker: it is sampled
  // whatever the cap. The rest in ascending id order, so the sampled set is
  // stable from scan to scan (a thread is never swapped out for another).
  std::vector<uint32_t> order;
  order.reserve(live.size());
  if (alive.count(tgid)) order.push_back(tgid);
  for (uint32_t tid : live)
    if (tid != tgid) order.push_back(tid);
  for (uint32_t tid : order) {
    if (p.links.count(tid)) continue;
    const bool over_cap = tid != tgid && p.links.size() >= max_threads_per_worker_;
    const Attach result = over_cap ? Attach::kOverWorkerCap : AttachThread(tgid, tid, p);
    if (result == Attach::kAttached) {
      p.refused.erase(tid);
    } else if (result == Attach::kOverWorkerCap || result == Attach::kOverBudget) {
      // Counted once per thread, however many scans find it unsampled.
      if (p.refused.insert(tid).second) ++(over_cap ? over_worker_cap_ : over_fd_budget_);
    }
  }
}

void PySampler::AddProcess(uint32_t tgid, const py_proc& proc) {
  if (bpf_map__update_elem(skel_->maps.py_procs, &tgid, sizeof(tgid), &proc, sizeof(proc), BPF_ANY))
    throw LoaderError("py_procs update for pid " + std::to_string(tgid) + " failed");
  auto live = Threads(tgid);
  std::lock_guard<std::mutex> lock(mu_);
  Process& p = procs_[tgid];
  p.proc = proc;
  if (live) SyncLocked(tgid, p, *live);  // else: the next SyncThreads attaches them
}

void PySampler::ModifyProc(uint32_t tgid, const std::function<void(py_proc&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(tgid);
  if (it == procs_.end()) throw LoaderError("pid " + std::to_string(tgid) + " is not sampled");
  py_proc proc = it->second.proc;
  change(proc);
  if (bpf_map__update_elem(skel_->maps.py_procs, &tgid, sizeof(tgid), &proc, sizeof(proc),
                           BPF_EXIST))
    throw LoaderError("py_procs update for pid " + std::to_string(tgid) + " failed");
  it->second.proc = proc;
}

void PySampler::SetRootAtWrites(uint32_t tgid, bool on) {
  ModifyProc(tgid, [on](py_proc& p) { p.root_at_writes = on; });
}

void PySampler::EnableContextTracking(uint32_t tgid) {
  ModifyProc(tgid, [](py_proc& p) { p.ctx_tracking = 1; });
}

void PySampler::SyncThreads(uint32_t tgid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!procs_.count(tgid)) return;
  }
  auto live = Threads(tgid);
  if (!live) return;  // unknown, not "no threads": keep what is attached
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(tgid);
  if (it != procs_.end()) SyncLocked(tgid, it->second, *live);
}

void PySampler::RemoveProcess(uint32_t tgid) {
  bpf_map__delete_elem(skel_->maps.py_procs, &tgid, sizeof(tgid), 0);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto c = context_links_.find(tgid); c != context_links_.end()) {
    bpf_link__destroy(c->second);
    context_links_.erase(c);
  }
  if (auto c = stream_links_.find(tgid); c != stream_links_.end()) {
    bpf_link__destroy(c->second);
    stream_links_.erase(c);
  }
  if (auto c = gc_links_.find(tgid); c != gc_links_.end()) {
    for (bpf_link* link : c->second) bpf_link__destroy(link);
    gc_links_.erase(c);
  }
  auto it = procs_.find(tgid);
  if (it == procs_.end()) return;
  for (auto& [tid, link] : it->second.links) bpf_link__destroy(link);
  attached_ -= it->second.links.size();
  procs_.erase(it);
}

std::set<uint32_t> PySampler::Processes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<uint32_t> out;
  for (const auto& [tgid, p] : procs_) out.insert(tgid);
  return out;
}

size_t PySampler::attached_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return attached_;
}

void PySampler::SetFdBudget(size_t max_fds) {
  std::lock_guard<std::mutex> lock(mu_);
  fd_budget_ = max_fds;
}

uint64_t PySampler::threads_over_worker_cap() const {
  std::lock_guard<std::mutex> lock(mu_);
  return over_worker_cap_;
}

uint64_t PySampler::threads_over_fd_budget() const {
  std::lock_guard<std::mutex> lock(mu_);
  return over_fd_budget_;
}

size_t PySampler::unsampled_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [tgid, p] : procs_) n += p.refused.size();
  return n;
}

uint64_t PySampler::attach_failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return attach_failures_;
}

int PySampler::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<PySampler*>(ctx);
  if (size < sizeof(py_sample)) return 0;
  (*self->current_fn_)(*static_cast<const py_sample*>(data));
  return 0;
}

int PySampler::OnGcPause(void* ctx, void* data, size_t size) {
  auto* self = static_cast<PySampler*>(ctx);
  if (size < sizeof(py_gc_pause) || !self->gc_fn_) return 0;
  self->gc_fn_(*static_cast<const py_gc_pause*>(data));
  return 0;
}

int PySampler::OnThreadStarted(void* ctx, void* data, size_t size) {
  auto* self = static_cast<PySampler*>(ctx);
  if (size < sizeof(py_new_thread)) return 0;
  self->threads_started_.insert(static_cast<const py_new_thread*>(data)->tgid);
  return 0;
}

int PySampler::Poll(int timeout_ms, const SampleFn& fn) {
  current_fn_ = &fn;
  int n = ring_buffer__poll(ring_, timeout_ms);
  // epoll reports a ring only after the kernel's (adaptive, deferred)
  // wakeup: drain every ring as well, so a call site committed before the
  // client write it belongs to is never read after that write.
  if (n >= 0) {
    int more = ring_buffer__consume(ring_);
    n = more < 0 ? more : n + more;
  }
  current_fn_ = nullptr;
  // New threads are sampled from now, not from the next scan.
  for (uint32_t tgid : std::exchange(threads_started_, {})) SyncThreads(tgid);
  return n == -EINTR ? 0 : n;
}

std::array<uint64_t, PY_CNT_MAX> PySampler::Counters() const {
  return SumPerCpuCounters<PY_CNT_MAX>(skel_->maps.py_counters);
}

std::vector<ProgramStats> PySampler::Programs() const { return ObjectProgramStats(skel_->obj); }

std::array<uint64_t, PY_CTX_CNT_MAX> PySampler::ContextCounters() const {
  return SumPerCpuCounters<PY_CTX_CNT_MAX>(skel_->maps.py_ctx_counters);
}

}  // namespace perfd
