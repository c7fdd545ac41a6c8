/* Event-loop iterations of traced workers (bpf/loop_trace.bpf.c), shared
 * with user space (daemon/loader/loop_probes.h). */
#ifndef PERFD_BPF_LOOP_TRACE_H
#define PERFD_BPF_LOOP_TRACE_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

/* Busy-time histogram: bucket k counts iterations busy for [2^k, 2^(k+1))
 * ns; bucket 0 also holds shorter ones, the last also longer ones. 2^30 ns
 * is 1.07 s. */
#define LOOP_HIST_BUCKETS 31

/* What an off-CPU stretch of a busy loop thread was blocked in, from the
 * syscall it was inside when it switched out. */
enum loop_block_reason {
  LOOP_BLOCK_SLEEP = 0, /* nanosleep, clock_nanosleep, select/poll with no fd ready ... */
  LOOP_BLOCK_LOCK,      /* futex: a lock, a condition, waiting for the GIL */
  LOOP_BLOCK_IO,        /* read, write, recv, send, connect, poll, select, ... */
  LOOP_BLOCK_OTHER,     /* any other syscall, or none (a page fault) */
  LOOP_BLOCK_REASONS,
};

/* Per loop thread (key: tid): the iteration in progress. */
struct loop_thread {
  __u64 iter_start; /* the wait returned (0: no iteration yet) */
  __u64 off_start;  /* switched out while busy (0: on CPU or waiting) */
  __u64 wake_ns;    /* woken after a blocking switch-out (0: not yet) */
  __u64 runnable_ns;
  __u64 blocked_ns[LOOP_BLOCK_REASONS];
  /* The longest off-CPU stretch of this iteration whose Python stack was
   * taken: its length (0: none yet) and reason; its stack is
   * loop_stacks[tid].slot[best_slot]. */
  __u64 best_stretch_ns;
  /* Stack-walk budget (GCRA): the walk's theoretical arrival time. */
  __u64 walk_tat;
  __u32 tgid;
  __u8 in_wait;
  __u8 off_blocked;   /* the switch-out was a block (else a preemption) */
  __u8 off_reason;    /* enum loop_block_reason */
  __u8 best_slot;     /* 0 or 1; the other slot takes the next switch-out's stack */
  __u8 stack_pending; /* the other slot holds the current stretch's stack */
  __u8 best_reason;
  __u8 pad[6];
};

/* Per traced process (key: tgid), summed over its loop threads. */
struct loop_hist {
  __u64 buckets[LOOP_HIST_BUCKETS];
  __u64 iterations;
  __u64 busy_ns;
  __u64 oncpu_ns;
  __u64 runnable_ns; /* ready to run, waiting for a CPU */
  __u64 blocked_ns[LOOP_BLOCK_REASONS];
  __u64 max_busy_ns;
  __u64 blocking_events; /* iterations busy past the threshold */
};

/* One iteration busy past the threshold (loop_threshold_ns). */
struct loop_block_event {
  __u64 start_ns; /* the wait returned */
  __u64 busy_ns;  /* until the next wait began */
  __u64 oncpu_ns;
  __u64 runnable_ns;
  __u64 blocked_ns[LOOP_BLOCK_REASONS];
  __u32 tgid;
  __u32 tid;
};

/* Index of the in-kernel counters (per-CPU array loop_counters). */
enum loop_counter {
  LOOP_CNT_ITERATIONS = 0,
  LOOP_CNT_BLOCKING,     /* blocking events emitted */
  LOOP_CNT_DROPS,        /* blocking event lost: ring buffer full */
  LOOP_CNT_THREADS_FULL, /* a loop thread not tracked: loop_threads full */
  LOOP_CNT_STACK_WALKS,  /* Python stacks taken at a busy loop thread's switch-out */
  LOOP_CNT_STACKS,       /* off-CPU stacks sent with a blocking event */
  LOOP_CNT_STACK_DROPS,  /* off-CPU stack lost: ring buffer full */
  LOOP_CNT_STACKS_FULL,  /* stack not taken: loop_stacks full */
  LOOP_CNT_WALKS_OVER_BUDGET, /* stack not taken: the thread's walk budget was spent */
  LOOP_CNT_MAX,
};

#ifdef __cplusplus
static_assert(sizeof(struct loop_hist) == (LOOP_HIST_BUCKETS + 10) * 8, "loop_hist layout");
static_assert(sizeof(struct loop_block_event) == 72, "loop_block_event layout");
static_assert(sizeof(struct loop_thread) == 96, "loop_thread layout");
#endif

#endif
