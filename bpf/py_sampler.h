/* Shared between py_sampler.bpf.c and user space (see python.h for the
 * sample layout). */
#ifndef PERFD_BPF_PY_SAMPLER_H
#define PERFD_BPF_PY_SAMPLER_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

/* Index of the sampler's in-kernel counters (per-CPU array). */
enum py_counter {
  PY_CNT_SAMPLES = 0,   /* perf events handled */
  PY_CNT_NOT_PYTHON,    /* event for a process without verified offsets */
  PY_CNT_NO_TSTATE,     /* thread had no Python thread state */
  PY_CNT_TRUNCATED,     /* stack deeper than PY_MAX_FRAMES */
  PY_CNT_READ_ERRORS,   /* a frame could not be read: partial stack */
  PY_CNT_RINGBUF_DROPS, /* sample lost: ring buffer full */
  PY_CNT_GC_PAUSES,     /* GC pauses measured (gc__done after a gc__start) */
  PY_CNT_GC_UNPAIRED,   /* gc__done without its start (attached mid-collection) */
  PY_CNT_GC_DROPS,      /* GC pause lost: ring buffer full */
  PY_CNT_NEW_THREADS,   /* threads started by sampled processes */
  PY_CNT_NEW_THREAD_DROPS, /* such a start not reported: ring buffer full */
  PY_CNT_MAX,
};

/* A thread started by a sampled process (py_new_threads ring buffer). */
struct py_new_thread {
  __u32 tgid;
  __u32 tid;
};

#endif
