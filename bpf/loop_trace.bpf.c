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
 * thread (bench/README.md has the measured cost).
 *
 * Off-CPU stacks: when a busy loop thread of a verified interpreter
 * (py_procs, shared with the sampler) blocks, its Python stack is walked
 * into a spare slot (the memory it names changes once it runs again); if
 * that stretch off CPU turns out the iteration's longest, the slot becomes
 * the kept one. A blocking iteration sends its kept stack with its event:
 * one stack per blocking event, none for other iterations. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "loop_trace.h"
#include "py_walk.bpf.h"

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

/* Two stack slots per loop thread: the kept stack of the iteration's longest
 * off-CPU stretch, and the one being taken. LRU: loop threads exit without
 * telling us; one evicted loses at most one stack. */
struct loop_stack_slots {
  struct py_sample slot[2];
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32); /* tid */
  __type(value, struct loop_stack_slots);
} loop_stacks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1024 * 1024);
} loop_offcpu SEC(".maps");

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
  /* The stack first: user space joins it to the event by thread and time. */
  if (t->best_stretch_ns) {
    struct loop_stack_slots *slots = bpf_map_lookup_elem(&loop_stacks, &tid);
    if (slots) {
      struct py_sample *kept = &slots->slot[t->best_slot & 1];
      kept->h.offcpu_ns = t->best_stretch_ns;
      kept->h.offcpu_reason = t->best_reason;
      if (bpf_ringbuf_output(&loop_offcpu, kept, sizeof(*kept), 0))
        loop_count(LOOP_CNT_STACK_DROPS);
      else
        loop_count(LOOP_CNT_STACKS);
    }
  }
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
  t->best_stretch_ns = 0;
  t->stack_pending = 0;
  for (int r = 0; r < LOOP_BLOCK_REASONS; r++) t->blocked_ns[r] = 0;
  return 0;
}

/* prev, a busy loop thread of tgid, is switching out blocked: its Python
 * stack into the slot that is not kept. Runs as prev (current), so the
 * walker's user-memory reads are prev's. */
/* A walk costs ~17 µs (measured, 25 frames); a loop thread that blocks
 * often (waiting for the GIL behind a busy thread pool) must not pay that
 * at every switch-out: at most one walk per LOOP_WALK_INTERVAL_NS on
 * average, bursts of LOOP_WALK_BURST. A blocking event whose stretch came
 * past the budget has no off-CPU stack (counted). */
#define LOOP_WALK_INTERVAL_NS (10ull * 1000 * 1000)
#define LOOP_WALK_BURST 20

static __always_inline bool walk_allowed(struct loop_thread *t, __u64 now) {
  const __u64 window = LOOP_WALK_INTERVAL_NS * LOOP_WALK_BURST;
  if (t->walk_tat > now + window) return false;
  t->walk_tat = (t->walk_tat > now ? t->walk_tat : now) + LOOP_WALK_INTERVAL_NS;
  return true;
}

static __always_inline void take_offcpu_stack(struct loop_thread *t, __u32 tid, __u64 now) {
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &t->tgid);
  if (!proc) return; /* sampling off, or not a verified interpreter */
  if (!walk_allowed(t, now)) {
    loop_count(LOOP_CNT_WALKS_OVER_BUDGET);
    return;
  }
  struct loop_stack_slots *slots = bpf_map_lookup_elem(&loop_stacks, &tid);
  if (!slots) {
    static const struct loop_stack_slots zero;
    if (bpf_map_update_elem(&loop_stacks, &tid, &zero, BPF_NOEXIST) &&
        !bpf_map_lookup_elem(&loop_stacks, &tid)) {
      loop_count(LOOP_CNT_STACKS_FULL);
      return;
    }
    slots = bpf_map_lookup_elem(&loop_stacks, &tid);
    if (!slots) return;
  }
  __u64 id = ((__u64)t->tgid << 32) | tid;
  __u64 tstate = py_tstate_cached(proc, id);
  if (!tstate) return;
  struct py_sample *s = &slots->slot[(t->best_slot & 1) ^ 1];
  s->h.ts_ns = now;
  s->h.tgid = t->tgid;
  s->h.tid = tid;
  s->h.root_frame = 0;
  s->h.conn_id = 0;
  s->h.fd = -1;
  s->h.flags = PY_SAMPLE_OFFCPU;
  s->h.offcpu_reason = 0;
  s->h.offcpu_ns = 0;
  py_walk_stack(s, t->tgid, proc, tstate);
  t->stack_pending = 1;
  loop_count(LOOP_CNT_STACK_WALKS);
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
    t->stack_pending = 0;
    if (t->off_blocked) {
      struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
      t->off_reason = block_reason(regs ? (long)BPF_CORE_READ(regs, orig_ax) : -1);
      take_offcpu_stack(t, prev_tid, now);
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
  /* The whole stretch held the loop, its runnable tail included. */
  if (t->stack_pending && now - t->off_start > t->best_stretch_ns) {
    t->best_slot = (t->best_slot & 1) ^ 1;
    t->best_stretch_ns = now - t->off_start;
    t->best_reason = t->off_reason;
  }
  t->stack_pending = 0;
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
