#include "daemon/loader/py_sampler.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/perf_event.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/loader/percpu_counters.h"
#include "py_sampler.skel.h"

namespace perfd {

namespace {

std::vector<uint32_t> Threads(uint32_t tgid) {
  std::vector<uint32_t> out;
  std::string dir = "/proc/" + std::to_string(tgid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end;
    unsigned long tid = std::strtoul(e->d_name, &end, 10);
    if (*end == 0 && tid > 0) out.push_back(tid);
  }
  closedir(d);
  return out;
}

}  // namespace

std::unique_ptr<PySampler> PySampler::Open(uint32_t frequency_hz) {
  std::unique_ptr<PySampler> p(new PySampler());
  p->frequency_hz_ = frequency_hz;
  p->skel_ = py_sampler__open_and_load();
  if (!p->skel_) throw LoaderError("py_sampler: load failed: " + std::string(strerror(errno)));
  p->ring_ =
      ring_buffer__new(bpf_map__fd(p->skel_->maps.samples), &PySampler::OnRecord, p.get(), nullptr);
  if (!p->ring_) throw LoaderError("py_sampler: ring buffer setup failed");
  return p;
}

PySampler::~PySampler() {
  for (auto& [tgid, threads] : links_)
    for (auto& [tid, link] : threads) bpf_link__destroy(link);
  for (auto& [tgid, link] : context_links_) bpf_link__destroy(link);
  if (ring_) ring_buffer__free(ring_);
  if (skel_) py_sampler__destroy(skel_);
}

int PySampler::py_procs_fd() const { return bpf_map__fd(skel_->maps.py_procs); }
int PySampler::py_ctx_conns_fd() const { return bpf_map__fd(skel_->maps.py_ctx_conns); }
int PySampler::py_deliveries_fd() const { return bpf_map__fd(skel_->maps.py_deliveries); }

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

void PySampler::AttachThread(uint32_t tgid, uint32_t tid) {
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.freq = 1;
  attr.sample_freq = frequency_hz_;
  int fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    if (errno != ESRCH) {  // ESRCH: the thread exited meanwhile
      ++attach_failures_;
      spdlog::warn("perf_event_open for thread {} of pid {} failed: {}", tid, tgid,
                   strerror(errno));
    }
    return;
  }
  bpf_link* link = bpf_program__attach_perf_event(skel_->progs.py_sample, fd);
  if (!link) {
    ++attach_failures_;
    close(fd);
    return;
  }
  links_[tgid][tid] = link;  // the link owns fd from now on
}

void PySampler::AddProcess(uint32_t tgid, const py_proc& proc) {
  if (bpf_map__update_elem(skel_->maps.py_procs, &tgid, sizeof(tgid), &proc, sizeof(proc), BPF_ANY))
    throw LoaderError("py_procs update for pid " + std::to_string(tgid) + " failed");
  std::lock_guard<std::mutex> lock(mu_);
  links_[tgid];
  for (uint32_t tid : Threads(tgid)) AttachThread(tgid, tid);
}

void PySampler::UpdateProcess(uint32_t tgid, const py_proc& proc) {
  if (bpf_map__update_elem(skel_->maps.py_procs, &tgid, sizeof(tgid), &proc, sizeof(proc),
                           BPF_EXIST))
    throw LoaderError("py_procs update for pid " + std::to_string(tgid) + " failed");
}

void PySampler::SyncThreads(uint32_t tgid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = links_.find(tgid);
  if (it == links_.end()) return;
  auto live = Threads(tgid);
  std::set<uint32_t> alive(live.begin(), live.end());
  for (auto l = it->second.begin(); l != it->second.end();) {
    if (!alive.count(l->first)) {
      bpf_link__destroy(l->second);
      l = it->second.erase(l);
    } else {
      ++l;
    }
  }
  for (uint32_t tid : live)
    if (!it->second.count(tid)) AttachThread(tgid, tid);
}

void PySampler::RemoveProcess(uint32_t tgid) {
  bpf_map__delete_elem(skel_->maps.py_procs, &tgid, sizeof(tgid), 0);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto c = context_links_.find(tgid); c != context_links_.end()) {
    bpf_link__destroy(c->second);
    context_links_.erase(c);
  }
  auto it = links_.find(tgid);
  if (it == links_.end()) return;
  for (auto& [tid, link] : it->second) bpf_link__destroy(link);
  links_.erase(it);
}

std::set<uint32_t> PySampler::Processes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<uint32_t> out;
  for (const auto& [tgid, t] : links_) out.insert(tgid);
  return out;
}

size_t PySampler::attached_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [tgid, t] : links_) n += t.size();
  return n;
}

int PySampler::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<PySampler*>(ctx);
  if (size < sizeof(py_sample)) return 0;
  (*self->current_fn_)(*static_cast<const py_sample*>(data));
  return 0;
}

int PySampler::Poll(int timeout_ms, const SampleFn& fn) {
  current_fn_ = &fn;
  int n = ring_buffer__poll(ring_, timeout_ms);
  current_fn_ = nullptr;
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
