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
#include <bpf/usdt.bpf.h>

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

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PY_CTX_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} py_ctx_counters SEC(".maps");

/* A delivery older than this is not claimed: the task of a request is
 * created in the same callback as the read that delivered it, so only
 * preemption separates the two; an unclaimed delivery (a pipelined request
 * whose task starts later, from its predecessor's context) must not tag an
 * unrelated copy much later. */
#define PY_DELIVERY_MAX_AGE_NS (50ull * 1000 * 1000)

static __always_inline void ctx_count(__u32 idx) {
  __u64 *v = bpf_map_lookup_elem(&py_ctx_counters, &idx);
  if (v) *v += 1;
}

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
  s->h.conn_id = 0;
  s->h.nframes = 0;
  s->h.flags = 0;
  s->h.offcpu_reason = 0;
  s->h.fd = -1;
  s->h.offcpu_ns = 0;

  __u64 tstate = py_tstate_cached(proc, id);
  if (!tstate) {
    /* A thread without Python state (e.g. a C library's own thread). */
    s->h.flags |= PY_SAMPLE_NO_TSTATE;
    py_count(PY_CNT_NO_TSTATE);
  } else {
    py_walk_stack(s, tgid, proc, tstate);
    if (s->h.flags & PY_SAMPLE_TRUNCATED) py_count(PY_CNT_TRUNCATED);
    if (s->h.flags & PY_SAMPLE_READ_ERROR) py_count(PY_CNT_READ_ERRORS);
  }
  if (bpf_ringbuf_output(&samples, s, sizeof(*s), 0)) py_count(PY_CNT_RINGBUF_DROPS);
  return 0;
}

/* Return probe on the interpreter's context constructor (context_new_from_vars,
 * or PyContext_CopyCurrent where the former cannot be located; see
 * daemon/python/context_hook.h): tags the new context with the connection
 * whose request it serves. The thread's entered context is still the parent
 * here: the copy does not enter what it creates. */
SEC("uretprobe")
int py_context_copied(struct pt_regs *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  if (!proc || !proc->ctx_tracking) return 0;
  ctx_count(PY_CTX_CNT_COPIES);
  __u64 created = PT_REGS_RC(ctx);
  if (!created) return 0; /* allocation failed: nothing was created */
  struct py_ctx_key key = {.tgid = tgid, .ctx = created};
  __u64 tstate = py_tstate_cached(proc, id);
  if (!tstate) {
    ctx_count(PY_CTX_CNT_NO_TSTATE);
    bpf_map_delete_elem(&py_ctx_conns, &key);
    return 0;
  }
  __u64 conn = py_context_conn(tgid, proc, tstate);
  if (conn) {
    ctx_count(PY_CTX_CNT_INHERITED);
  } else {
    struct py_delivery *d = bpf_map_lookup_elem(&py_deliveries, &tid);
    if (d) {
      if (bpf_ktime_get_ns() - d->ts_ns < PY_DELIVERY_MAX_AGE_NS) {
        conn = d->conn_id;
        ctx_count(PY_CTX_CNT_DELIVERED);
      }
      bpf_map_delete_elem(&py_deliveries, &tid);
    }
  }
  if (!conn) {
    /* The address may have served a request's context before. */
    ctx_count(PY_CTX_CNT_UNTAGGED);
    bpf_map_delete_elem(&py_ctx_conns, &key);
    return 0;
  }
  struct py_ctx_conn v = {.conn_id = conn};
  if (bpf_map_update_elem(&py_ctx_conns, &key, &v, BPF_ANY)) ctx_count(PY_CTX_CNT_TABLE_FULL);
  return 0;
}

/* uvloop's libuv handle layout (uvloop/handles/handle.pxd, libuv's uv.h,
 * x86-64; libuv keeps its struct layout stable across 1.x): a UVHandle
 * object holds its uv_handle_t* after PyObject_HEAD and Cython's vtable
 * pointer; uv_handle_t.type is the int at +16, and a stream handle's
 * io_watcher.fd is at +184. Checked against a live uvloop by
 * tests/bpf/client_owner_test.cc. */
#define UV_OBJ_HANDLE 24
#define UV_HANDLE_TYPE 16
#define UV_STREAM_FD 184
#define UV_NAMED_PIPE 7
#define UV_TCP 12

/* Entry probe on PySet_Add in uvloop workers. uvloop's transport.write()
 * (UVStream.write → Loop._queue_write) adds the stream to the loop's set of
 * streams to flush after this iteration's callbacks; that add runs inside
 * the task that wrote, so the task's request is known here and nowhere
 * later. Any other PySet_Add (the key is not a uvloop stream: its fields do
 * not read as a TCP or pipe handle) is passed over after three reads. */
SEC("uprobe")
int py_stream_queued(struct pt_regs *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  if (!proc || !proc->ctx_tracking) return 0;
  __u64 handle = py_read_ptr(PT_REGS_PARM2(ctx) + UV_OBJ_HANDLE);
  if (!handle) return 0;
  __s32 type = 0, fd = -1;
  if (bpf_probe_read_user(&type, sizeof(type), (void *)(handle + UV_HANDLE_TYPE)) ||
      (type != UV_TCP && type != UV_NAMED_PIPE))
    return 0;
  if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(handle + UV_STREAM_FD)) || fd < 0) return 0;
  /* Server streams (the response) and untracked connections: nothing to do. */
  struct py_owner_key key = {.tgid = tgid, .fd = fd};
  if (!bpf_map_lookup_elem(&py_client_fds, &key)) return 0;
  __u64 tstate = py_tstate_cached(proc, id);
  if (!tstate) return 0;
  __u64 ctx_addr = 0;
  __u64 conn = py_context_conn_of(tgid, proc, tstate, &ctx_addr);
  if (!conn) return 0;
  struct py_owner v = {.conn_id = conn, .ts_ns = bpf_ktime_get_ns(), .ctx = ctx_addr};
  bpf_map_update_elem(&py_owners, &key, &v, BPF_ANY);
  ctx_count(PY_CTX_CNT_QUEUED);
  py_capture_site(tgid, (__u32)id, proc, tstate, conn, fd, 0);
  return 0;
}

/* GC pauses: CPython's python:gc__start(int generation) and
 * python:gc__done(Py_ssize_t collected) USDT probes, attached per worker
 * whose interpreter has them (daemon/python/usdt_notes.h). A collection runs
 * to completion on the thread that started it (the GIL is held, and the
 * gc's own reentrancy guard forbids nesting), so one start per thread is
 * pending at most. A pause is one event: collections are far rarer than
 * syscalls (a gen-0 collection per ~700 net allocations of container
 * objects), and each names its request. */
struct py_gc_start {
  __u64 ts_ns;
  __s32 generation;
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct py_gc_start);
} py_gc_starts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} py_gc SEC(".maps");

SEC("usdt")
int BPF_USDT(py_gc_started, int generation) {
  __u64 id = bpf_get_current_pid_tgid();
  struct py_gc_start s = {.ts_ns = bpf_ktime_get_ns(), .generation = generation};
  bpf_map_update_elem(&py_gc_starts, &id, &s, BPF_ANY);
  return 0;
}

SEC("usdt")
int BPF_USDT(py_gc_done, long collected) {
  __u64 now = bpf_ktime_get_ns();
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  struct py_gc_start *s = bpf_map_lookup_elem(&py_gc_starts, &id);
  if (!s) {
    py_count(PY_CNT_GC_UNPAIRED);
    return 0;
  }
  struct py_gc_pause p = {
      .start_ns = s->ts_ns,
      .duration_ns = now - s->ts_ns,
      .collected = collected,
      .tgid = tgid,
      .tid = (__u32)id,
      .generation = s->generation,
  };
  bpf_map_delete_elem(&py_gc_starts, &id);
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  if (proc && proc->ctx_tracking) {
    __u64 tstate = py_tstate_cached(proc, id);
    if (tstate) p.conn_id = py_context_conn(tgid, proc, tstate);
  }
  py_count(PY_CNT_GC_PAUSES);
  if (bpf_ringbuf_output(&py_gc, &p, sizeof(p), 0)) py_count(PY_CNT_GC_DROPS);
  return 0;
}

/* Threads started by sampled processes. perfd opens a thread's sampling
 * event when it learns of the thread; from its /proc scan alone (every
 * 250 ms) a thread pool's first calls would run unseen. The fork
 * tracepoint runs for every clone on the host: one hash lookup for a new
 * thread (none for a new process), a record for a sampled one. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 * 1024);
} py_new_threads SEC(".maps");

SEC("tp_btf/sched_process_fork")
int BPF_PROG(py_thread_started, struct task_struct *parent, struct task_struct *child) {
  __u32 tgid = BPF_CORE_READ(child, tgid);
  if (tgid != BPF_CORE_READ(parent, tgid)) return 0; /* a new process, not a thread */
  if (!bpf_map_lookup_elem(&py_procs, &tgid)) return 0;
  struct py_new_thread t = {.tgid = tgid, .tid = BPF_CORE_READ(child, pid)};
  py_count(PY_CNT_NEW_THREADS);
  if (bpf_ringbuf_output(&py_new_threads, &t, sizeof(t), 0)) py_count(PY_CNT_NEW_THREAD_DROPS);
  return 0;
}
