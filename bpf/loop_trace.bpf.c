// SPDX-License-Identifier: GPL-2.0
/* Event-loop iterations of traced workers. A loop thread is a thread of a
 * tracked process (tracked_pids, shared with http_trace) that waits in
 * epoll_wait, epoll_pwait or epoll_pwait2 — asyncio's selector and libuv
 * (uvloop) both do. An iteration's busy time runs from the wait's return to
 * the next wait's start; it is split into on-CPU, runnable (ready, waiting
 * for a CPU) and blocked by what (the syscall the thread was in when it
 * switched out: sleep, lock/futex — the GIL included — I/O, other), from
 * sched_switch and sched_wakeup. Off-CPU time inside the wait is idle, not
 * busy. Per process, iterations land in a log2 histogram in the kernel; only
 * iterations busy past loop_threshold_ns (a blocked loop) become events.
 *
 * The scheduler tracepoints fire for every task on the host: each costs one
 * or two hash lookups that miss for every thread that is not a busy loop
 * thread (bench/README.md has the measured cost). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "loop_trace.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load (event_loop.blocking_threshold_ms). */
const volatile __u64 loop_threshold_ns = 20ull * 1000 * 1000;

/* Shared with http_trace (bpf_map__reuse_fd): the processes discovery traces. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, __u32);
} tracked_pids SEC(".maps");

/* LRU: a thread that exits inside a busy phase leaves no trace but this entry. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32); /* tid */
  __type(value, struct loop_thread);
} loop_threads SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192); /* = tracked_pids */
  __type(key, __u32);        /* tgid */
  __type(value, struct loop_hist);
} loop_hists SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} loop_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, LOOP_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} loop_counters SEC(".maps");

static __always_inline void loop_count(__u32 idx) {
  __u64 *v = bpf_map_lookup_elem(&loop_counters, &idx);
  if (v) *v += 1;
}

static __always_inline __u32 log2_bucket(__u64 v) {
  __u32 k = 0;
  if (v >> 32) {
    v >>= 32;
    k += 32;
  }
  if (v >> 16) {
    v >>= 16;
    k += 16;
  }
  if (v >> 8) {
    v >>= 8;
    k += 8;
  }
  if (v >> 4) {
    v >>= 4;
    k += 4;
  }
  if (v >> 2) {
    v >>= 2;
    k += 2;
  }
  if (v >> 1) k += 1;
  return k < LOOP_HIST_BUCKETS ? k : LOOP_HIST_BUCKETS - 1;
}

/* x86-64 syscall numbers. select/poll count as I/O: a sync HTTP client waits
 * in poll on its socket; time.sleep is clock_nanosleep (3.11+) or select
 * with no fds (3.10), the latter then shows as I/O. */
static __always_inline __u8 block_reason(long nr) {
  switch (nr) {
    case 35:  /* nanosleep */
    case 230: /* clock_nanosleep */
    case 34:  /* pause */
      return LOOP_BLOCK_SLEEP;
    case 202: /* futex */
    case 449: /* futex_waitv */
      return LOOP_BLOCK_LOCK;
    case 0:
    case 1:
    case 7:
    case 17:
    case 18:
    case 19:
    case 20:
    case 23:
    case 40:
    case 42:
    case 43:
    case 44:
    case 45:
    case 46:
    case 47:
    case 74:
    case 75:
    case 232:
    case 257:
    case 270:
    case 271:
    case 281:
    case 288:
    case 299:
    case 307:
    case 426:
    case 441:
      return LOOP_BLOCK_IO;
    default:
      return LOOP_BLOCK_OTHER;
  }
}

/* The thread enters a wait: the iteration that ran since the last wait ends. */
static __always_inline int wait_enter(void) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!bpf_map_lookup_elem(&tracked_pids, &tgid)) return 0;
  struct loop_thread *t = bpf_map_lookup_elem(&loop_threads, &tid);
  if (!t) {
    struct loop_thread fresh = {.tgid = tgid, .in_wait = 1};
    if (bpf_map_update_elem(&loop_threads, &tid, &fresh, BPF_NOEXIST) &&
        !bpf_map_lookup_elem(&loop_threads, &tid))
      loop_count(LOOP_CNT_THREADS_FULL);
    return 0;
  }
  if (t->in_wait || !t->iter_start) {
    t->in_wait = 1;
    return 0;
  }
  __u64 now = bpf_ktime_get_ns();
  __u64 busy = now - t->iter_start;
  __u64 blocked = 0;
  for (int r = 0; r < LOOP_BLOCK_REASONS; r++) blocked += t->blocked_ns[r];
  __u64 off = blocked + t->runnable_ns;
  __u64 oncpu = busy > off ? busy - off : 0;
  t->in_wait = 1;
  loop_count(LOOP_CNT_ITERATIONS);

  struct loop_hist *h = bpf_map_lookup_elem(&loop_hists, &tgid);
  if (!h) {
    struct loop_hist zero = {};
    bpf_map_update_elem(&loop_hists, &tgid, &zero, BPF_NOEXIST);
    h = bpf_map_lookup_elem(&loop_hists, &tgid);
    if (!h) return 0;
  }
  /* Atomic: two loop threads of one process (rare) may end iterations at once. */
  __sync_fetch_and_add(&h->buckets[log2_bucket(busy)], 1);
  __sync_fetch_and_add(&h->iterations, 1);
  __sync_fetch_and_add(&h->busy_ns, busy);
  __sync_fetch_and_add(&h->oncpu_ns, oncpu);
  __sync_fetch_and_add(&h->runnable_ns, t->runnable_ns);
  for (int r = 0; r < LOOP_BLOCK_REASONS; r++)
    if (t->blocked_ns[r]) __sync_fetch_and_add(&h->blocked_ns[r], t->blocked_ns[r]);
  if (busy > h->max_busy_ns) h->max_busy_ns = busy;
  if (busy < loop_threshold_ns) return 0;

  __sync_fetch_and_add(&h->blocking_events, 1);
  struct loop_block_event e = {
      .start_ns = t->iter_start,
      .busy_ns = busy,
      .oncpu_ns = oncpu,
      .runnable_ns = t->runnable_ns,
      .tgid = tgid,
      .tid = tid,
  };
  for (int r = 0; r < LOOP_BLOCK_REASONS; r++) e.blocked_ns[r] = t->blocked_ns[r];
  loop_count(LOOP_CNT_BLOCKING);
  if (bpf_ringbuf_output(&loop_events, &e, sizeof(e), 0)) loop_count(LOOP_CNT_DROPS);
  return 0;
}

/* The wait returned: a new iteration starts. */
static __always_inline int wait_exit(void) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct loop_thread *t = bpf_map_lookup_elem(&loop_threads, &tid);
  if (!t) return 0;
  t->iter_start = bpf_ktime_get_ns();
  t->in_wait = 0;
  t->off_start = 0;
  t->wake_ns = 0;
  t->runnable_ns = 0;
  for (int r = 0; r < LOOP_BLOCK_REASONS; r++) t->blocked_ns[r] = 0;
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_epoll_wait")
int loop_enter_epoll_wait(void *ctx) { return wait_enter(); }
SEC("tracepoint/syscalls/sys_enter_epoll_pwait")
int loop_enter_epoll_pwait(void *ctx) { return wait_enter(); }
SEC("tracepoint/syscalls/sys_enter_epoll_pwait2")
int loop_enter_epoll_pwait2(void *ctx) { return wait_enter(); }
SEC("tracepoint/syscalls/sys_exit_epoll_wait")
int loop_exit_epoll_wait(void *ctx) { return wait_exit(); }
SEC("tracepoint/syscalls/sys_exit_epoll_pwait")
int loop_exit_epoll_pwait(void *ctx) { return wait_exit(); }
SEC("tracepoint/syscalls/sys_exit_epoll_pwait2")
int loop_exit_epoll_pwait2(void *ctx) { return wait_exit(); }

SEC("tp_btf/sched_switch")
int BPF_PROG(loop_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state) {
  __u64 now = 0;
  __u32 prev_tid = BPF_CORE_READ(prev, pid);
  struct loop_thread *t = bpf_map_lookup_elem(&loop_threads, &prev_tid);
  if (t && !t->in_wait && t->iter_start) {
    now = bpf_ktime_get_ns();
    t->off_start = now;
    t->wake_ns = 0;
    /* TASK_RUNNING (0): preempted, still runnable; else it blocked. */
    t->off_blocked = prev_state != 0;
    if (t->off_blocked) {
      struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
      t->off_reason = block_reason(regs ? (long)BPF_CORE_READ(regs, orig_ax) : -1);
    }
  }
  __u32 next_tid = BPF_CORE_READ(next, pid);
  t = bpf_map_lookup_elem(&loop_threads, &next_tid);
  if (!t || t->in_wait || !t->off_start) return 0;
  if (!now) now = bpf_ktime_get_ns();
  if (t->off_blocked) {
    __u64 wake = t->wake_ns && t->wake_ns >= t->off_start ? t->wake_ns : now;
    __u8 r = t->off_reason < LOOP_BLOCK_REASONS ? t->off_reason : LOOP_BLOCK_OTHER;
    t->blocked_ns[r & 3] += wake - t->off_start;
    t->runnable_ns += now - wake;
  } else {
    t->runnable_ns += now - t->off_start;
  }
  t->off_start = 0;
  t->wake_ns = 0;
  return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(loop_sched_wakeup, struct task_struct *p) {
  __u32 tid = BPF_CORE_READ(p, pid);
  struct loop_thread *t = bpf_map_lookup_elem(&loop_threads, &tid);
  if (t && t->off_start && t->off_blocked && !t->wake_ns) t->wake_ns = bpf_ktime_get_ns();
  return 0;
}
