#include "daemon/loader/loop_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/loader/percpu_counters.h"
#include "daemon/loader/shared_py_maps.h"
#include "loop_trace.skel.h"

namespace perfd {

namespace {
std::string Errno(int err) { return std::strerror(err < 0 ? -err : err); }
}  // namespace

std::unique_ptr<LoopProbes> LoopProbes::Open(int tracked_pids_fd,
                                             const HttpProbes::SharedPyMaps& py,
                                             uint64_t blocking_threshold_ns) {
  std::unique_ptr<LoopProbes> p(new LoopProbes());
  p->threshold_ns_ = blocking_threshold_ns;
  p->skel_ = loop_trace__open();
  if (!p->skel_) throw LoaderError("loop_trace: open failed: " + Errno(errno));
  p->skel_->rodata->loop_threshold_ns = blocking_threshold_ns;
  if (int err = bpf_map__reuse_fd(p->skel_->maps.tracked_pids, tracked_pids_fd))
    throw LoaderError("loop_trace: sharing tracked_pids failed: " + Errno(err));
  // The walker's maps are the sampler's. Without it there is nothing to
  // walk: the object's own copies (and the stack slots) shrink to nothing
  // instead of holding megabytes of preallocated entries.
  SharePyMaps(p->skel_->obj, py, "loop_trace", /*shrink_unshared=*/true);
  if (py.procs_fd < 0) {
    bpf_map__set_max_entries(p->skel_->maps.loop_stacks, 1);
    bpf_map__set_max_entries(p->skel_->maps.loop_offcpu, 4096);
  }
  if (int err = loop_trace__load(p->skel_))
    throw LoaderError("loop_trace: load failed (verifier or missing BTF?): " + Errno(err));
  if (int err = loop_trace__attach(p->skel_))
    throw LoaderError("loop_trace: attaching epoll and scheduler tracepoints failed: " +
                      Errno(err));
  p->ring_ = ring_buffer__new(bpf_map__fd(p->skel_->maps.loop_events), &LoopProbes::OnRecord,
                              p.get(), nullptr);
  if (!p->ring_) throw LoaderError("loop_trace: ring buffer setup failed: " + Errno(errno));
  if (int err = ring_buffer__add(p->ring_, bpf_map__fd(p->skel_->maps.loop_offcpu),
                                 &LoopProbes::OnStack, p.get()))
    throw LoaderError("loop_trace: stack ring buffer setup failed: " + Errno(err));
  return p;
}

LoopProbes::~LoopProbes() {
  if (ring_) ring_buffer__free(ring_);
  if (skel_) loop_trace__destroy(skel_);
}

int LoopProbes::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<LoopProbes*>(ctx);
  if (size < sizeof(loop_block_event) || !self->current_fn_) return 0;
  (*self->current_fn_)(*static_cast<const loop_block_event*>(data));
  return 0;
}

int LoopProbes::OnStack(void* ctx, void* data, size_t size) {
  auto* self = static_cast<LoopProbes*>(ctx);
  if (size < sizeof(py_sample) || !self->current_stack_fn_) return 0;
  (*self->current_stack_fn_)(*static_cast<const py_sample*>(data));
  return 0;
}

int LoopProbes::Poll(const BlockFn& fn, const StackFn& stack_fn) {
  current_fn_ = &fn;
  current_stack_fn_ = &stack_fn;
  int n = ring_buffer__consume(ring_);
  current_fn_ = nullptr;
  current_stack_fn_ = nullptr;
  return n;
}

std::map<uint32_t, loop_hist> LoopProbes::Histograms() const {
  std::map<uint32_t, loop_hist> out;
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.loop_hists, prev, &next, sizeof(next)) == 0) {
    loop_hist h{};
    if (bpf_map__lookup_elem(skel_->maps.loop_hists, &next, sizeof(next), &h, sizeof(h), 0) == 0)
      out[next] = h;
    key = next;
    prev = &key;
  }
  return out;
}

bool LoopProbes::Histogram(uint32_t tgid, loop_hist* out) const {
  return bpf_map__lookup_elem(skel_->maps.loop_hists, &tgid, sizeof(tgid), out, sizeof(*out), 0) ==
         0;
}

void LoopProbes::ForgetProcess(uint32_t tgid) {
  bpf_map__delete_elem(skel_->maps.loop_hists, &tgid, sizeof(tgid), 0);
  // Collect first, delete after: deleting while iterating restarts the walk.
  std::vector<uint32_t> doomed;
  loop_thread t{};
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.loop_threads, prev, &next, sizeof(next)) == 0) {
    if (bpf_map__lookup_elem(skel_->maps.loop_threads, &next, sizeof(next), &t, sizeof(t), 0) ==
            0 &&
        t.tgid == tgid)
      doomed.push_back(next);
    key = next;
    prev = &key;
  }
  for (uint32_t tid : doomed) {
    bpf_map__delete_elem(skel_->maps.loop_threads, &tid, sizeof(tid), 0);
    bpf_map__delete_elem(skel_->maps.loop_stacks, &tid, sizeof(tid), 0);
  }
}

std::array<uint64_t, LOOP_CNT_MAX> LoopProbes::Counters() const {
  return SumPerCpuCounters<LOOP_CNT_MAX>(skel_->maps.loop_counters);
}

std::vector<ProgramStats> LoopProbes::Programs() const { return ObjectProgramStats(skel_->obj); }

}  // namespace perfd
