/* CPython interpreter layout and stack samples, shared by the BPF stack
 * walker (bpf/py_walk.bpf.h) and user space. Plain C, fixed-width types.
 * Offsets come from tools/pyoffsets (generated from each version's headers)
 * and are verified against the target process before use. */
#ifndef PERFD_BPF_PYTHON_H
#define PERFD_BPF_PYTHON_H

#ifndef __BPF__
#include <linux/types.h>
#endif

#define PY_OFF_NONE 0xffff

/* Frames walked per sample; deeper stacks are emitted truncated. */
#define PY_MAX_FRAMES 128 /* power of two: the verifier bounds the index by mask */
/* Thread states examined to find the one of the sampled thread. */
#define PY_MAX_THREADS 64

struct py_offsets {
  __u16 runtime_interp_head; /* _PyRuntime.interpreters.head */
  __u16 interp_tstate_head;  /* PyInterpreterState.threads.head (tstate_head on 3.10) */
  __u16 tstate_next;         /* PyThreadState.next */
  __u16 tstate_thread_id;    /* PyThreadState.thread_id (== pthread_self == fsbase) */
  __u16 tstate_frame;        /* 3.10 frame, 3.11/3.12 cframe, 3.13 current_frame */
  __u16 cframe_current;      /* _PyCFrame.current_frame (3.11/3.12), else NONE */
  __u16 frame_code;          /* f_code (3.10-3.12) / f_executable (3.13) */
  __u16 frame_previous;      /* f_back (3.10) / previous */
  __u16 frame_instr;         /* f_lasti int (3.10) / prev_instr (3.11, 3.12) / instr_ptr */
  __u16 frame_owner;         /* char owner (3.11+), NONE on 3.10 */
  __u16 frame_gen;           /* PyFrameObject.f_gen (3.10), NONE after */
  __u16 code_adaptive;       /* offsetof(PyCodeObject, co_code_adaptive), NONE on 3.10 */
  __u16 code_firstlineno;
  __u16 code_filename;
  __u16 code_name;
  __u16 code_qualname; /* NONE on 3.10 */
  __u16 code_linetable;
  __u16 unicode_data;   /* first byte of a compact ASCII str */
  __u16 bytes_data;     /* PyBytesObject.ob_sval */
  __u16 var_size;       /* PyVarObject.ob_size */
  __u16 tstate_context; /* PyThreadState.context: the contextvars.Context now entered */
  __u16 context_vars;   /* PyContext.ctx_vars (checks the copy hook's code, see context_hook.h) */
  __u8 major;
  __u8 minor;
  __u8 owner_generator; /* owner value of coroutine/generator frames */
  __u8 owner_cstack;    /* owner value of C shim frames (skip), 0xff if none */
};

/* Per traced process, filled by user space after verification. */
struct py_proc {
  __u64 runtime_addr;   /* &_PyRuntime in the process */
  __u64 code_type_addr; /* &PyCode_Type: frames whose code has another type are skipped */
  struct py_offsets off;
  /* Walk to the task root at status-line writes. Only useful where the
   * write runs inside the task (asyncio transports); uvloop flushes writes
   * from its own loop, so there the walk would cost every request ~1 us of
   * the worker's CPU for nothing. */
  __u8 root_at_writes;
  /* The context-copy uprobe is attached and the context offsets verified:
   * samples look their context up in py_ctx_conns (and the walk at writes,
   * root_at_writes, is skipped: the exact join does not need it). */
  __u8 ctx_tracking;
  __u8 pad[6];
};

struct py_frame {
  __u64 code;        /* PyCodeObject* */
  __u32 instr;       /* code-unit index of the current instruction */
  __s32 firstlineno; /* read with the pointer: a reused address with another
                        first line cannot hit a stale symbol cache entry */
};

enum py_sample_flags {
  PY_SAMPLE_TRUNCATED = 1 << 0,   /* deeper than PY_MAX_FRAMES */
  PY_SAMPLE_NO_TSTATE = 1 << 1,   /* thread has no Python thread state */
  PY_SAMPLE_READ_ERROR = 1 << 2,  /* a frame could not be read (partial stack) */
  PY_SAMPLE_CTX_TRACKED = 1 << 3, /* context tracking was on: conn_id is exact (0: no request) */
  /* Not a CPU sample: the stack of a request's task writing to client
   * connection fd (a database call's call site), rate-limited per process
   * (bpf/py_walk.bpf.h, py_capture_site). */
  PY_SAMPLE_CALL_SITE = 1 << 4,
  /* Not a CPU sample: an event-loop thread's stack when it went off CPU in
   * the longest off-CPU stretch of a blocking iteration
   * (bpf/loop_trace.bpf.c); offcpu_ns says how long that stretch held the
   * loop, offcpu_reason in what (enum loop_block_reason). */
  PY_SAMPLE_OFFCPU = 1 << 5,
};

/* Request identity (docs/ARCHITECTURE.md, "Request identity"). Every
 * contextvars.Context a traced worker creates is tagged with the server
 * connection whose request it serves: the copy made while a request's
 * context is entered inherits that request's connection (child tasks, anyio
 * worker-thread calls, callbacks); the copy made by the first task created
 * right after a read delivered a request line on this thread (uvicorn's
 * RequestResponseCycle task) gets that read's connection. HTTP/1.1 serves a
 * connection's requests in order, so connection + time names the request. */
struct py_ctx_key {
  __u32 tgid;
  __u32 pad;
  __u64 ctx; /* PyContext* in the process */
};

struct py_ctx_conn {
  __u64 conn_id; /* perfd_http_event_header.conn_id of the serving connection */
};

/* A read that delivered a request line, waiting for the task it creates. */
struct py_delivery {
  __u64 conn_id;
  __u64 ts_ns;
};

/* A uvloop stream a request's task queued a write on (bpf/py_sampler.bpf.c,
 * py_stream_queued): uvloop flushes queued writes after the loop's callbacks
 * ran, outside any task, so the write syscall itself cannot see whose it is.
 * The flush of that fd claims the entry (http_trace.bpf.c). */
struct py_owner_key {
  __u32 tgid;
  __s32 fd;
};

struct py_owner {
  __u64 conn_id; /* serving connection of the task that queued the write */
  __u64 ts_ns;
  __u64 ctx; /* that task's contextvars.Context: one per task, so calls of one
                request from different tasks (asyncio.gather) are told apart */
};

/* Index of the context-tracking counters (per-CPU array py_ctx_counters). */
enum py_ctx_counter {
  PY_CTX_CNT_COPIES = 0, /* context copies seen (uretprobe runs in tracked processes) */
  PY_CTX_CNT_INHERITED,  /* copy made inside a request's context */
  PY_CTX_CNT_DELIVERED,  /* copy claimed by the read that delivered a request */
  PY_CTX_CNT_UNTAGGED,   /* copy outside any request */
  PY_CTX_CNT_TABLE_FULL, /* tag lost: py_ctx_conns full */
  PY_CTX_CNT_NO_TSTATE,  /* copying thread's PyThreadState not found */
  PY_CTX_CNT_QUEUED,     /* uvloop stream writes queued inside a request's context */
  PY_CTX_CNT_MAX,
};

/* One garbage collection of a traced worker, measured between CPython's
 * python:gc__start and python:gc__done USDT probes (bpf/py_sampler.bpf.c).
 * The collection runs on the thread that triggered it, inside whatever that
 * thread was running: conn_id names the request whose context was entered
 * (request identity), the request the pause interrupted. */
struct py_gc_pause {
  __u64 start_ns;
  __u64 duration_ns;
  __u64 conn_id;   /* 0: no request context entered (or identity off) */
  __s64 collected; /* objects collected (gc__done's argument) */
  __u32 tgid;
  __u32 tid;
  __s32 generation; /* 0, 1, 2 (gc__start's argument) */
  __u32 pad;
};

struct py_sample_header {
  __u64 ts_ns;
  __u32 tgid;
  __u32 tid;
  __u64 root_frame; /* outermost coroutine frame of the running task, or 0 */
  __u64 conn_id;    /* connection whose request owns the context (PY_SAMPLE_CTX_TRACKED), or 0 */
  __u16 nframes;    /* frames[0] is the leaf */
  __u8 flags;       /* enum py_sample_flags */
  __u8 offcpu_reason; /* PY_SAMPLE_OFFCPU: enum loop_block_reason */
  __s32 fd;           /* PY_SAMPLE_CALL_SITE: the client connection written to */
  __u64 offcpu_ns;    /* PY_SAMPLE_OFFCPU: the stretch's length */
};

struct py_sample {
  struct py_sample_header h;
  struct py_frame frames[PY_MAX_FRAMES];
};

#ifdef __cplusplus
static_assert(sizeof(struct py_offsets) == 48, "py_offsets layout");
static_assert(sizeof(struct py_proc) == 72, "py_proc layout");
static_assert(sizeof(struct py_frame) == 16, "py_frame layout");
static_assert(sizeof(struct py_sample_header) == 48, "py_sample_header layout");
static_assert(sizeof(struct py_ctx_key) == 16, "py_ctx_key layout");
static_assert(sizeof(struct py_delivery) == 16, "py_delivery layout");
static_assert(sizeof(struct py_owner) == 24, "py_owner layout");
static_assert(sizeof(struct py_gc_pause) == 48, "py_gc_pause layout");
#else
_Static_assert(sizeof(struct py_offsets) == 48, "py_offsets layout");
_Static_assert(sizeof(struct py_proc) == 72, "py_proc layout");
_Static_assert(sizeof(struct py_frame) == 16, "py_frame layout");
_Static_assert(sizeof(struct py_sample_header) == 48, "py_sample_header layout");
_Static_assert(sizeof(struct py_ctx_key) == 16, "py_ctx_key layout");
_Static_assert(sizeof(struct py_delivery) == 16, "py_delivery layout");
_Static_assert(sizeof(struct py_owner) == 24, "py_owner layout");
_Static_assert(sizeof(struct py_gc_pause) == 48, "py_gc_pause layout");
#endif

#endif
