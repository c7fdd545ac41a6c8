// SPDX-License-Identifier: GPL-2.0
/* Python stack sampling: a perf_event program (one software cpu-clock event
 * per thread of each verified worker, opened by user space) that walks the
 * interpreter frames of the interrupted thread and emits code-object
 * references and instruction indexes. No strings are read in the kernel;
 * user space symbolizes (daemon/python). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "py_walk.bpf.h"
#include "py_sampler.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 * 1024 * 1024);
} samples SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PY_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} py_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct py_sample);
} py_scratch SEC(".maps");

static __always_inline void py_count(__u32 idx) {
  __u64 *v = bpf_map_lookup_elem(&py_counters, &idx);
  if (v) *v += 1;
}

SEC("perf_event")
int py_sample(struct bpf_perf_event_data *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  py_count(PY_CNT_SAMPLES);
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  if (!proc) {
    py_count(PY_CNT_NOT_PYTHON);
    return 0;
  }
  __u32 zero = 0;
  struct py_sample *s = bpf_map_lookup_elem(&py_scratch, &zero);
  if (!s) return 0;
  s->h.ts_ns = bpf_ktime_get_ns();
  s->h.tgid = tgid;
  s->h.tid = (__u32)id;
  s->h.root_frame = 0;
  s->h.nframes = 0;
  s->h.flags = 0;

  __u64 tstate = py_find_tstate(proc);
  if (!tstate) {
    /* A thread without Python state (e.g. a C library's own thread). */
    s->h.flags |= PY_SAMPLE_NO_TSTATE;
    py_count(PY_CNT_NO_TSTATE);
  } else {
    struct py_walk_ctx c = {.proc = proc, .frame = py_top_frame(proc, tstate), .frames = s->frames};
    bpf_loop(PY_MAX_FRAMES + 16, py_walk_step, &c, 0);
    /* Frames left when the loop budget ran out: deeper than we walk. */
    if (c.frame && !(c.flags & PY_SAMPLE_READ_ERROR)) c.flags |= PY_SAMPLE_TRUNCATED;
    s->h.nframes = c.n;
    s->h.flags |= c.flags;
    s->h.root_frame = c.root;
    if (c.flags & PY_SAMPLE_TRUNCATED) py_count(PY_CNT_TRUNCATED);
    if (c.flags & PY_SAMPLE_READ_ERROR) py_count(PY_CNT_READ_ERRORS);
  }
  if (bpf_ringbuf_output(&samples, s, sizeof(*s), 0)) py_count(PY_CNT_RINGBUF_DROPS);
  return 0;
}
