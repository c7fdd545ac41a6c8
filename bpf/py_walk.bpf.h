/* CPython frame walking in BPF, shared by py_sampler.bpf.c (stacks at
 * samples) and http_trace.bpf.c (the running task's root coroutine frame at
 * the write of a response's status line). Include after vmlinux.h and the
 * libbpf headers. Every read is bpf_probe_read_user: a failure (freed
 * memory, page not resident) ends the walk and is reported, never guessed
 * around. */
#ifndef PERFD_BPF_PY_WALK_BPF_H
#define PERFD_BPF_PY_WALK_BPF_H

#include "python.h"

/* Processes whose interpreter user space verified, with their offsets. The
 * sampler object owns the map; http_trace reuses its fd. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct py_proc);
} py_procs SEC(".maps");

/* Request identity (python.h): context → serving connection. LRU because
 * contexts die without telling us; a dead entry is only ever hit again when
 * its address is reused, and every reuse through the copy hook rewrites it.
 * Owned by the sampler object, shared like py_procs. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct py_ctx_key);
  __type(value, struct py_ctx_conn);
} py_ctx_conns SEC(".maps");

/* tid → the read that just delivered a request line on that thread, set by
 * http_trace, claimed by the next context copy outside any request. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct py_delivery);
} py_deliveries SEC(".maps");

/* (tgid, fd) → the request whose task queued a write on that uvloop stream
 * (python.h, struct py_owner); set by the sampler's PySet_Add probe, claimed
 * by http_trace at the flush. LRU: server streams' entries are never
 * claimed (only client connections look), and are simply rewritten. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct py_owner_key);
  __type(value, struct py_owner);
} py_owners SEC(".maps");

/* (tgid, fd) of the client connections http_trace tracks (connect() or
 * seeded at attach): the PySet_Add probe records owners and call sites for
 * these streams only, and passes over every other write at one lookup. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct py_owner_key);
  __type(value, __u8);
} py_client_fds SEC(".maps");

/* Call sites of database calls (PY_SAMPLE_CALL_SITE samples), owned by the
 * sampler object (whose poller drains them), shared with http_trace. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} py_sites SEC(".maps");

/* Its own scratch: a CPU sample (perf event, from an interrupt) may run in
 * the middle of a capture and must not share the buffer. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct py_sample);
} py_site_scratch SEC(".maps");

/* Call-site budget of a process: captures in the current second. */
struct py_site_budget {
  __u64 second; /* bpf_ktime_get_ns() / 1e9 of the window counted */
  __u32 used;
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct py_site_budget);
} py_site_last SEC(".maps");

/* A walk costs microseconds, and a call site is a property of a query's
 * fingerprint, which repeats: one database write in PY_SITE_ODDS gets its
 * stack, chosen at random (a fixed gap would always pick the same write of
 * a request, e.g. the query before a loop, never the loop's), and at most
 * PY_SITE_MAX_PER_SECOND per process. */
#define PY_SITE_ODDS 16
#define PY_SITE_MAX_PER_SECOND 100

static __always_inline __u64 py_read_ptr(__u64 addr) {
  __u64 v = 0;
  if (bpf_probe_read_user(&v, sizeof(v), (void *)addr)) return 0;
  return v;
}

struct py_tstate_ctx {
  const struct py_proc *proc;
  __u64 fsbase;
  __u64 cur;
  __u64 found;
};

static long py_tstate_step(__u32 i, void *data) {
  struct py_tstate_ctx *c = data;
  if (!c->cur) return 1;
  __u64 tid = py_read_ptr(c->cur + c->proc->off.tstate_thread_id);
  if (tid == c->fsbase) {
    c->found = c->cur;
    return 1;
  }
  c->cur = py_read_ptr(c->cur + c->proc->off.tstate_next);
  return 0;
}

/* The PyThreadState of the current thread: its thread_id is the thread's
 * pthread_self(), which on x86-64 is the fs base. (gilstate's
 * "current" tstate is wrong while the GIL is released.) */
static __always_inline __u64 py_find_tstate(const struct py_proc *proc) {
  struct task_struct *task = bpf_get_current_task_btf();
  __u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
  __u64 interp = py_read_ptr(proc->runtime_addr + proc->off.runtime_interp_head);
  if (!interp || !fsbase) return 0;
  struct py_tstate_ctx c = {.proc = proc, .fsbase = fsbase};
  c.cur = py_read_ptr(interp + proc->off.interp_tstate_head);
  bpf_loop(PY_MAX_THREADS, py_tstate_step, &c, 0);
  return c.found;
}

/* The serving connection of the context the thread has entered, or 0;
 * *ctx_out (if given) gets the context's address. */
static __always_inline __u64 py_context_conn_of(__u32 tgid, const struct py_proc *proc,
                                                __u64 tstate, __u64 *ctx_out) {
  __u64 ctx = py_read_ptr(tstate + proc->off.tstate_context);
  if (ctx_out) *ctx_out = ctx;
  if (!ctx) return 0;
  struct py_ctx_key key = {.tgid = tgid, .ctx = ctx};
  struct py_ctx_conn *c = bpf_map_lookup_elem(&py_ctx_conns, &key);
  return c ? c->conn_id : 0;
}

static __always_inline __u64 py_context_conn(__u32 tgid, const struct py_proc *proc, __u64 tstate) {
  return py_context_conn_of(tgid, proc, tstate, NULL);
}

/* The innermost frame of a thread state, per version layout. */
static __always_inline __u64 py_top_frame(const struct py_proc *proc, __u64 tstate) {
  __u64 f = py_read_ptr(tstate + proc->off.tstate_frame);
  if (f && proc->off.cframe_current != PY_OFF_NONE) f = py_read_ptr(f + proc->off.cframe_current);
  return f;
}

/* Whether a frame belongs to a coroutine/generator (asyncio task frames). */
static __always_inline bool py_frame_is_generator(const struct py_proc *proc, __u64 frame,
                                                  __u8 *owner_out) {
  if (proc->off.frame_owner != PY_OFF_NONE) {
    __u8 owner = 0xff;
    bpf_probe_read_user(&owner, 1, (void *)(frame + proc->off.frame_owner));
    *owner_out = owner;
    return owner == proc->off.owner_generator;
  }
  *owner_out = 0xff;
  if (proc->off.frame_gen != PY_OFF_NONE) return py_read_ptr(frame + proc->off.frame_gen) != 0;
  return false;
}

struct py_walk_ctx {
  const struct py_proc *proc;
  __u64 frame;
  __u64 root;              /* outermost generator frame seen */
  struct py_frame *frames; /* NULL: only look for the root */
  __u32 n;
  __u8 flags;
};

static long py_walk_step(__u32 i, void *data) {
  struct py_walk_ctx *c = data;
  const struct py_proc *proc = c->proc;
  __u64 frame = c->frame;
  if (!frame) return 1;
  __u8 owner;
  if (py_frame_is_generator(proc, frame, &owner)) c->root = frame;
  __u64 code = py_read_ptr(frame + proc->off.frame_code);
  /* C shim frames (3.12+) and non-code executables (3.13) carry no Python
   * function: skip them, keep walking. */
  /* (3.10 has no owner field: py_frame_is_generator reports 0xff there,
   * which must not be mistaken for owner_cstack's "none" value.) */
  bool skip = (proc->off.frame_owner != PY_OFF_NONE && owner == proc->off.owner_cstack) || !code ||
              py_read_ptr(code + 8 /* ob_type */) != proc->code_type_addr;
  if (!skip && c->frames) {
    if (c->n >= PY_MAX_FRAMES) {
      c->flags |= PY_SAMPLE_TRUNCATED;
      return 1;
    }
    struct py_frame pf = {.code = code};
    if (proc->off.code_adaptive == PY_OFF_NONE) {
      __s32 lasti = 0;
      bpf_probe_read_user(&lasti, sizeof(lasti), (void *)(frame + proc->off.frame_instr));
      pf.instr = lasti < 0 ? 0 : lasti;
    } else {
      __u64 ip = py_read_ptr(frame + proc->off.frame_instr);
      __u64 base = code + proc->off.code_adaptive;
      pf.instr = ip > base ? (ip - base) / 2 : 0;
    }
    if (bpf_probe_read_user(&pf.firstlineno, sizeof(pf.firstlineno),
                            (void *)(code + proc->off.code_firstlineno)))
      c->flags |= PY_SAMPLE_READ_ERROR;
    c->frames[c->n & (PY_MAX_FRAMES - 1)] = pf;
    c->n++;
  }
  __u64 prev = 0;
  if (bpf_probe_read_user(&prev, sizeof(prev), (void *)(frame + proc->off.frame_previous))) {
    c->flags |= PY_SAMPLE_READ_ERROR;
    return 1;
  }
  c->frame = prev;
  return 0;
}

/* The stack of the thread whose state is tstate into s: frames (leaf
 * first), nframes, the task's root frame, PY_SAMPLE_READ_ERROR /
 * PY_SAMPLE_TRUNCATED; with request identity on, the request of the context
 * it has entered (conn_id, PY_SAMPLE_CTX_TRACKED). Shared by CPU samples and
 * the event loop's off-CPU stacks. */
static __always_inline void py_walk_stack(struct py_sample *s, __u32 tgid,
                                          const struct py_proc *proc, __u64 tstate) {
  if (proc->ctx_tracking) {
    s->h.conn_id = py_context_conn(tgid, proc, tstate);
    s->h.flags |= PY_SAMPLE_CTX_TRACKED;
  }
  struct py_walk_ctx c = {.proc = proc, .frame = py_top_frame(proc, tstate), .frames = s->frames};
  bpf_loop(PY_MAX_FRAMES + 16, py_walk_step, &c, 0);
  /* Frames left when the loop budget ran out: deeper than we walk. */
  if (c.frame && !(c.flags & PY_SAMPLE_READ_ERROR)) c.flags |= PY_SAMPLE_TRUNCATED;
  s->h.nframes = c.n;
  s->h.flags |= c.flags;
  s->h.root_frame = c.root;
}

/* pid_tgid → the thread's PyThreadState: the thread-list walk costs two
 * probe reads per thread, the check of a cached entry one (its thread_id
 * must still be the thread's fs base). LRU: threads exit without telling us. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, __u64);
} py_tstates SEC(".maps");

static __always_inline __u64 py_tstate_cached(const struct py_proc *proc, __u64 id) {
  __u64 *cached = bpf_map_lookup_elem(&py_tstates, &id);
  if (cached && *cached) {
    struct task_struct *task = bpf_get_current_task_btf();
    __u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
    if (fsbase && py_read_ptr(*cached + proc->off.tstate_thread_id) == fsbase) return *cached;
  }
  __u64 tstate = py_find_tstate(proc);
  if (tstate) bpf_map_update_elem(&py_tstates, &id, &tstate, BPF_ANY);
  return tstate;
}

/* The stack of the task writing to client connection fd for request conn
 * (a database call's call site), if the process's capture budget allows. */
static __always_inline void py_capture_site(__u32 tgid, __u32 tid, const struct py_proc *proc,
                                            __u64 tstate, __u64 conn, __s32 fd, __u64 ts) {
  if (bpf_get_prandom_u32() % PY_SITE_ODDS) return;
  __u64 now = bpf_ktime_get_ns();
  __u64 second = now / 1000000000ull;
  struct py_site_budget *b = bpf_map_lookup_elem(&py_site_last, &tgid);
  if (b && b->second == second) {
    if (b->used >= PY_SITE_MAX_PER_SECOND) return;
    b->used++;
  } else {
    struct py_site_budget fresh = {.second = second, .used = 1};
    bpf_map_update_elem(&py_site_last, &tgid, &fresh, BPF_ANY);
  }
  __u32 zero = 0;
  struct py_sample *s = bpf_map_lookup_elem(&py_site_scratch, &zero);
  if (!s) return;
  /* The write's own time when taken in its syscall exit, so user space
   * pairs the two exactly. */
  s->h.ts_ns = ts ? ts : now;
  s->h.tgid = tgid;
  s->h.tid = tid;
  s->h.root_frame = 0;
  s->h.conn_id = conn;
  s->h.fd = fd;
  s->h.offcpu_reason = 0;
  s->h.offcpu_ns = 0;
  s->h.flags = PY_SAMPLE_CALL_SITE | PY_SAMPLE_CTX_TRACKED;
  struct py_walk_ctx c = {.proc = proc, .frame = py_top_frame(proc, tstate), .frames = s->frames};
  bpf_loop(PY_MAX_FRAMES + 16, py_walk_step, &c, 0);
  s->h.nframes = c.n;
  s->h.flags |= c.flags;
  bpf_ringbuf_output(&py_sites, s, sizeof(*s), 0);
}

#endif
