// SPDX-License-Identifier: GPL-2.0
/* HTTP/1.x request tracing on the server sockets of tracked workers.
 *
 * Syscall tracepoints only (no kprobes on this platform, and tracepoints are
 * the stable ABI). The kernel side does the minimum:
 *   - filter to tracked processes (tracked_pids, filled by discovery);
 *   - remember which fds are server connections (accepted, or adopted when a
 *     pre-existing socket delivers a request line);
 *   - per read/write on such a connection: timestamp, byte count, and the
 *     request/status lines found at line starts of the first PERFD_SCAN_MAX
 *     bytes, each cut at '?', '#', CR or LF. Headers, bodies and query strings
 *     never leave the kernel;
 *   - per server socket: when its oldest unread byte was queued (arrival), so
 *     a request's latency includes the time it waited in the socket before
 *     the worker read it (see "Arrival" below).
 * User space (daemon/decoders/http) turns the event stream into requests. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "client_classify.h"
#include "http_trace.h"
#include "py_walk.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EEXIST 17
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define EINPROGRESS 115

/* The arrival mark is written from softirq (sk_data_ready) and from the
 * worker's read exit on another CPU: keep each access a single load/store. */
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);   /* tgid */
  __type(value, __u32); /* unused by the kernel side */
} tracked_pids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct perfd_conn_key);
  __type(value, struct perfd_conn_info);
} conns SEC(".maps");

enum stash_kind { STASH_PLAIN = 0, STASH_IOV = 1, STASH_MSG = 2, STASH_FD = 3 };

struct stash {
  __u64 ptr; /* buf, iovec* or msghdr* */
  __s32 fd;
  __u8 kind; /* PERFD_EV_READ / _WRITE / _ACCEPT / _CONNECT */
  __u8 how;  /* enum stash_kind */
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct stash);
} stashed SEC(".maps");

/* Per-process quota on `stashed` (PERFD_STASH_QUOTA). stash_held[tgid] is
 * the number of the process's entries in `stashed`, kept exact rather than
 * approximate: it is incremented only after an insert that created an entry
 * and decremented only after a delete that removed one (a hash delete
 * succeeds once per entry), both atomically. Entries whose exit never runs
 * (a missed exit: program attached mid-syscall, recursion miss) stay
 * counted until the thread's next syscall reuses them, or, if the thread
 * exits first, until user space reclaims them through reclaim_stash (it
 * sweeps entries of dead threads). A hash, not an LRU: LRU eviction would
 * drop entries without a decrement and the count would drift up. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192); /* = tracked_pids */
  __type(key, __u32);        /* tgid */
  __type(value, __s64);      /* entries held */
} stash_held SEC(".maps");

/* ---- Arrival: when a request became readable ------------------------------
 *
 * A request waits in its socket while the worker's event loop is busy with
 * something else; latency measured from the worker's first read misses that.
 * sk_data_ready fires (softirq, any current task) whenever data is queued to
 * a socket and its reader is woken, so per registered server socket we keep
 * the time of the oldest unread byte:
 *   - sk_data_ready sets first_unread_ns if it is 0 (nothing unread before);
 *   - a read on the connection takes it (the arrival of the first byte the
 *     read returned) and resets it: 0 if nothing is left unread, else "now"
 *     (the remainder arrived no later than this read).
 * Registration (socks): TCP connections at handshake completion
 * (inet_sock_set_state SYN_RECV -> ESTABLISHED) when their local port is a
 * known listener of a tracked worker, so the first request of a new
 * connection is timed while it sits in the accept queue; every connection at
 * accept exit and adoption; client connections at connect() (their replies'
 * arrival). Entries go at close() and at TCP_CLOSE; the map
 * is LRU because sockets that are never accepted (or whose close we miss)
 * would otherwise leak. These two programs run host-wide, so they do one
 * hash lookup and nothing else for foreign sockets. */
struct sock_arrival {
  __u64 first_unread_ns; /* oldest unread byte queued at; 0: none / unknown */
  __u64 established_ns;  /* TCP handshake completed at; 0: registered later */
  __u16 family;          /* AF_INET / AF_INET6 (TCP) or AF_UNIX */
  __u8 pad[6];
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, struct sock_arrival);
} socks SEC(".maps");

/* Local TCP ports tracked workers accept on, learned at accept exits and
 * adoptions. Keyed by network namespace too: every pod has its own :8000. */
struct listen_key {
  __u32 netns; /* net->ns.inum */
  __u16 port;  /* host byte order (skc_num) */
  __u16 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct listen_key);
  __type(value, __u8); /* unused */
} listeners SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PERFD_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

/* Per-CPU scratch: the copied buffer (with slack so a line starting anywhere
 * in the scan window can be read PERFD_LINE_MAX bytes on) and the event being
 * built. Too large for the 512-byte BPF stack. */
struct scratch {
  char buf[2 * PERFD_SCAN_MAX]; /* >= PERFD_SCAN_MAX + PERFD_LINE_MAX */
  struct perfd_http_event ev;   /* server events, and client events without data */
  /* Client events with data. Apart from ev so client bytes never sit in
   * the line slots server events send. The data is gathered at a variable
   * offset with a variable length, each below PERFD_DATA_MAX: the verifier
   * bounds such a copy by the map value, so the value extends
   * PERFD_DATA_MAX past cev.data. */
  struct perfd_http_event cev;
  char data_slack[PERFD_DATA_MAX];
  struct perfd_frame_ctx frame; /* see struct perfd_frame_ctx */
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline void count(__u32 idx) {
  __u64 *v = bpf_map_lookup_elem(&counters, &idx);
  if (v) *v += 1;
}

static __always_inline bool is_tracked(__u32 tgid) {
  return bpf_map_lookup_elem(&tracked_pids, &tgid) != NULL;
}

/* ---- syscall entry: stash the arguments until exit ---------------------- */

/* The process's stash_held counter, created at its first stash. */
static __always_inline __s64 *stash_held_of(__u32 tgid) {
  __s64 *held = bpf_map_lookup_elem(&stash_held, &tgid);
  if (held) return held;
  __s64 zero = 0;
  bpf_map_update_elem(&stash_held, &tgid, &zero, BPF_NOEXIST);
  return bpf_map_lookup_elem(&stash_held, &tgid);
}

static __always_inline int stash_args(__s32 fd, __u64 ptr, __u8 kind, __u8 how) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!is_tracked(tgid)) return 0;
  /* Writes matter only on connections we already know. Reads may adopt a
   * pre-existing connection, so they are stashed for any fd. */
  if (kind == PERFD_EV_WRITE) {
    struct perfd_conn_key key = {.tgid = tgid, .fd = fd};
    if (!bpf_map_lookup_elem(&conns, &key)) return 0;
  }
  struct stash s = {.ptr = ptr, .fd = fd, .kind = kind, .how = how};
  __s64 *held = stash_held_of(tgid);
  if (!held) {
    count(PERFD_CNT_ARGS_TABLE_FULL);
    return 0;
  }
  /* Threads racing on other CPUs may each pass this check: the quota can be
   * overshot by at most the number of CPUs. */
  if (READ_ONCE(*held) < PERFD_STASH_QUOTA) {
    /* The common case, one update of `stashed`: a new entry, counted. */
    long err = bpf_map_update_elem(&stashed, &id, &s, BPF_NOEXIST);
    if (!err) {
      __sync_fetch_and_add(held, 1);
      return 0;
    }
    if (err != -EEXIST) {
      count(PERFD_CNT_ARGS_TABLE_FULL);
      return 0;
    }
  }
  /* This thread's entry left by a missed exit is reused (it is counted
   * already); without one, the process is at its quota. */
  if (bpf_map_update_elem(&stashed, &id, &s, BPF_EXIST)) count(PERFD_CNT_ARGS_QUOTA);
  return 0;
}

/* After a delete from `stashed` that removed an entry of tgid. */
static __always_inline void stash_release(__u32 tgid) {
  __s64 *held = bpf_map_lookup_elem(&stash_held, &tgid);
  if (held) __sync_fetch_and_add(held, -1);
}

/* Run by user space (BPF_PROG_TEST_RUN) for an entry of a thread that no
 * longer exists: deletes it and releases its quota slot, atomically with
 * respect to the programs above. Returns 1 if it deleted the entry. */
struct stash_reclaim_args {
  __u64 pid_tgid;
};

SEC("syscall")
int reclaim_stash(struct stash_reclaim_args *args) {
  __u64 id = args->pid_tgid;
  if (bpf_map_delete_elem(&stashed, &id)) return 0;
  stash_release(id >> 32);
  return 1;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_READ, STASH_PLAIN);
}
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_READ, STASH_PLAIN);
}
SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_READ, STASH_IOV);
}
SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_READ, STASH_MSG);
}
SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_WRITE, STASH_PLAIN);
}
SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_WRITE, STASH_PLAIN);
}
SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_WRITE, STASH_IOV);
}
SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], ctx->args[1], PERFD_EV_WRITE, STASH_MSG);
}
SEC("tracepoint/syscalls/sys_enter_accept")
int enter_accept(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], 0, PERFD_EV_ACCEPT, STASH_FD);
}
SEC("tracepoint/syscalls/sys_enter_accept4")
int enter_accept4(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], 0, PERFD_EV_ACCEPT, STASH_FD);
}
SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx) {
  return stash_args(ctx->args[0], 0, PERFD_EV_CONNECT, STASH_FD);
}

/* ---- helpers for syscall exit ------------------------------------------ */

/* A request line starts at p (four bytes decide; user space validates the
 * whole line). */
static __always_inline bool is_request_start(const char *p) {
  return perfd_is_method_word((__u32)(__u8)p[0] | ((__u32)(__u8)p[1] << 8) |
                              ((__u32)(__u8)p[2] << 16) | ((__u32)(__u8)p[3] << 24));
}

/* The current task's struct sock behind fd; 0 if fd is not a socket (or,
 * never for a connected one, has no sock). */
static __always_inline __u64 fd_sock(__s32 fd) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = NULL;
  if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f) return 0;
  umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
  if ((mode & S_IFMT) != S_IFSOCK) return 0;
  /* A socket file's private_data is its struct socket. */
  struct socket *so = BPF_CORE_READ(f, private_data);
  return (__u64)BPF_CORE_READ(so, sk);
}

static __always_inline bool is_tcp_family(__u16 family) {
  return family == AF_INET || family == AF_INET6;
}

/* Bytes queued to sk that no read has returned yet. TCP: received in order
 * but not copied (a FIN-only skb left in the queue does not count); other
 * stream sockets (unix): skbs left in the receive queue. */
static __always_inline bool sk_has_unread(__u64 skp, __u16 family) {
  struct sock *sk = (struct sock *)skp;
  if (is_tcp_family(family)) {
    struct tcp_sock *tp = (struct tcp_sock *)sk;
    return BPF_CORE_READ(tp, rcv_nxt) != BPF_CORE_READ(tp, copied_seq);
  }
  return BPF_CORE_READ(sk, sk_receive_queue.qlen) != 0;
}

/* The socket's arrival entry, made if missing. A TCP entry is fresh (made
 * at the handshake, removed at TCP_CLOSE). A unix one may be left from a
 * freed socket at the same address whose close() we missed: replaced. */
static __always_inline struct sock_arrival *arrival_entry(__u64 skp, __u16 family, bool tcp) {
  struct sock_arrival *a = tcp ? bpf_map_lookup_elem(&socks, &skp) : NULL;
  if (a) return a;
  struct sock_arrival fresh = {.family = family};
  if (bpf_map_update_elem(&socks, &skp, &fresh, BPF_ANY)) {
    count(PERFD_CNT_SOCK_TABLE_FULL);
    return NULL;
  }
  return bpf_map_lookup_elem(&socks, &skp);
}

/* Registers a server connection's socket for arrival timestamps, and (TCP)
 * its local port as a listener so later connections are registered at
 * their handshake. at_accept: bytes already queued arrived no later than the
 * handshake (if we saw it) or now; for an adopted connection the read in
 * progress consumes them, so nothing is set. */
static __always_inline void register_sock(__u64 skp, bool at_accept) {
  if (!skp) return;
  struct sock *sk = (struct sock *)skp;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  bool tcp = is_tcp_family(family);
  if (tcp) {
    struct listen_key lk = {.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
                            .port = BPF_CORE_READ(sk, __sk_common.skc_num)};
    __u8 one = 1;
    if (!bpf_map_lookup_elem(&listeners, &lk) &&
        bpf_map_update_elem(&listeners, &lk, &one, BPF_ANY))
      count(PERFD_CNT_SOCK_TABLE_FULL);
  }
  struct sock_arrival *a = arrival_entry(skp, family, tcp);
  if (a && at_accept && !a->first_unread_ns && sk_has_unread(skp, family))
    a->first_unread_ns = a->established_ns ? a->established_ns : bpf_ktime_get_ns();
}

/* At a read that returned bytes: the arrival of its first byte (0 if
 * unknown), and the mark reset for what follows. The reset comes before the
 * unread check so a segment queued meanwhile is never lost: either its
 * sk_data_ready runs after the reset and sets the mark itself, or it ran
 * before and the check sees its bytes. */
static __always_inline __u64 take_arrival(__u64 skp) {
  if (!skp) return 0;
  struct sock_arrival *a = bpf_map_lookup_elem(&socks, &skp);
  if (!a) return 0;
  __u64 arrival = a->first_unread_ns;
  WRITE_ONCE(a->first_unread_ns, 0);
  if (sk_has_unread(skp, a->family) && !READ_ONCE(a->first_unread_ns))
    WRITE_ONCE(a->first_unread_ns, bpf_ktime_get_ns());
  return arrival;
}

/* Resolve the stashed pointer to the first data buffer and how many of the
 * transferred bytes it holds: only the first iovec is looked at, and never
 * past its end (the next bytes in memory belong to something else). */
static __always_inline __u64 first_buffer(const struct stash *s, __s64 ret, __u32 *len) {
  *len = ret > PERFD_SCAN_MAX ? PERFD_SCAN_MAX : (__u32)ret;
  if (s->how == STASH_PLAIN) return s->ptr;
  __u64 iov_ptr = s->ptr;
  if (s->how == STASH_MSG) {
    struct user_msghdr msg;
    if (bpf_probe_read_user(&msg, sizeof(msg), (void *)s->ptr) || msg.msg_iovlen == 0) return 0;
    iov_ptr = (__u64)msg.msg_iov;
  }
  struct iovec iov;
  if (bpf_probe_read_user(&iov, sizeof(iov), (void *)iov_ptr)) return 0;
  if (iov.iov_len < *len) *len = iov.iov_len;
  return (__u64)iov.iov_base;
}

/* bpf_loop callback: one 8-byte word of the window through the framing
 * state machine. */
static long frame_word_cb(__u32 w, void *data) {
  struct scratch *sc = *(struct scratch **)data;
  return perfd_frame_word(w, &sc->frame, (const struct perfd_frame_win *)sc->buf);
}

struct cut_ctx {
  const char *line;
  __u32 len; /* in: bytes available (<= PERFD_LINE_MAX); out: cut position */
  __u8 flags;
  bool found;
};

/* bpf_loop callback over 8-byte words of a line: the first '?', '#', CR or
 * LF ends what may leave the kernel. */
static long cut_word(__u32 w, void *data) {
  struct cut_ctx *c = data;
  __u32 base = (w & (PERFD_LINE_MAX / 8 - 1)) * 8;
  if (base >= c->len) return 1;
  __u64 v = *(__u64 *)&c->line[base];
  if (!(perfd_has_byte(v, '?') | perfd_has_byte(v, '#') | perfd_has_byte(v, '\r') |
        perfd_has_byte(v, '\n')))
    return 0;
#pragma unroll
  for (__u32 j = 0; j < 8; j++) {
    char ch = c->line[base + j];
    if (base + j >= c->len) return 1;
    if (ch == '?' || ch == '#' || ch == '\r' || ch == '\n') {
      c->len = base + j;
      if (ch == '?' || ch == '#') c->flags |= PERFD_LINE_QUERY_CUT;
      c->found = true;
      return 1;
    }
  }
  return 0;
}

/* Wake the reader only when much is pending: user space drains on a short
 * timer anyway (timestamps are taken here, so delivery delay costs no
 * accuracy), and a wakeup per event would cost the traced worker a
 * cross-CPU wakeup on every read and write. */
#define PERFD_WAKEUP_BYTES (512 * 1024)

static __always_inline void output(const struct perfd_http_event *ev, __u64 size) {
  __u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > PERFD_WAKEUP_BYTES
                    ? BPF_RB_FORCE_WAKEUP
                    : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&events, (void *)ev, size, flags)) count(PERFD_CNT_RINGBUF_DROPS);
}

static __always_inline void emit(struct scratch *sc, __u32 nlines) {
  __u64 size = sizeof(sc->ev.h) + (__u64)(nlines & (2 * PERFD_MAX_LINES - 1)) * PERFD_LINE_MAX;
  if (size > sizeof(sc->ev)) size = sizeof(sc->ev);
  output(&sc->ev, size);
}

static __always_inline struct scratch *scratch_get(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&scratch_map, &zero);
}

static __always_inline void fill_header_of(struct perfd_http_event_header *h, __u64 id, __s32 fd,
                                           __u64 conn_id, __s64 ret, __u8 kind) {
  h->ts_ns = bpf_ktime_get_ns();
  h->conn_id = conn_id;
  h->ret = ret;
  h->tgid = id >> 32;
  h->tid = (__u32)id;
  h->fd = fd;
  h->kind = kind;
  h->flags = 0;
  h->nlines = 0;
  h->pad = 0;
  h->py_root = 0;
  h->arrival_ns = 0;
  h->owner_conn = 0;
  h->owner_task = 0;
  h->data_len = 0;
  h->peer_port = 0;
  h->role = PERFD_ROLE_SERVER;
  h->proto = PERFD_PROTO_UNKNOWN;
}

/* The header of the server-side event being built (sc->ev). */
static __always_inline void fill_header(struct scratch *sc, __u64 id, __s32 fd, __u64 conn_id,
                                        __s64 ret, __u8 kind) {
  fill_header_of(&sc->ev.h, id, fd, conn_id, ret, kind);
}

/* Root coroutine frame of the task writing a response, when the process's
 * interpreter is verified. Only for status-line writes: once per request. */
static __always_inline __u64 py_task_root(__u32 tgid) {
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  /* With request identity the exact join needs no walk here. */
  if (!proc || !proc->root_at_writes || proc->ctx_tracking) return 0;
  __u64 tstate = py_find_tstate(proc);
  if (!tstate) return 0;
  struct py_walk_ctx c = {.proc = proc, .frame = py_top_frame(proc, tstate), .frames = NULL};
  bpf_loop(PY_MAX_FRAMES + 16, py_walk_step, &c, 0);
  return c.root;
}

/* A read on this thread delivered a request line: the next context copy
 * outside any request is that request's task (bpf/python.h, py_delivery). */
static __always_inline void note_delivery(__u32 tgid, __u32 tid, __u64 conn_id, __u64 ts) {
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  if (!proc || !proc->ctx_tracking) return;
  struct py_delivery d = {.conn_id = conn_id, .ts_ns = ts};
  bpf_map_update_elem(&py_deliveries, &tid, &d, BPF_ANY);
}

/* The lines of this read/write that start HTTP messages (see
 * bpf/http_framing.h), into the event header. */
static __always_inline void frame_lines(struct scratch *sc, struct perfd_frame_conn *fc, int write,
                                        __u32 n, __u64 ret) {
  struct perfd_frame_ctx *c = &sc->frame;
  c->n = n;
  int scan = perfd_frame_begin(c, fc, write, ret);
  if (scan) bpf_loop(PERFD_SCAN_MAX / 8, frame_word_cb, &sc, 0);
  if (perfd_frame_end(c, fc, scan, ret)) count(PERFD_CNT_FRAMING_LOST);
  if (!scan) return;
  /* Constant size: inlined as plain loads and stores. */
  __builtin_memcpy(sc->ev.h.line_off, c->line_off, sizeof(c->line_off));
  __u8 nl = c->nlines;
  sc->ev.h.nlines = nl > PERFD_MAX_LINES ? PERFD_MAX_LINES : nl;
  if (c->lines_dropped) sc->ev.h.flags |= PERFD_F_LINES_DROPPED;
}

/* ---- client connections (databases, caches) ----------------------------- */

/* A queued uvloop write older than this is not claimed: the flush follows
 * the write within the same loop iteration. */
#define PERFD_OWNER_MAX_AGE_NS (1000ull * 1000 * 1000)

/* The request whose task wrote to a client connection: a uvloop write the
 * task queued (py_owners, set by the sampler's PySet_Add probe), else the
 * context the writing thread has entered (asyncio transports, libpq and
 * every other driver that writes inside the task). 0: unknown. */
static __always_inline void client_owner(struct perfd_http_event_header *h) {
  __u32 tgid = h->tgid;
  struct py_owner_key k = {.tgid = tgid, .fd = h->fd};
  struct py_owner *o = bpf_map_lookup_elem(&py_owners, &k);
  if (o) {
    __u64 conn = o->conn_id, ctx = o->ctx;
    bool fresh = h->ts_ns - o->ts_ns < PERFD_OWNER_MAX_AGE_NS;
    bpf_map_delete_elem(&py_owners, &k);
    if (fresh) {
      count(PERFD_CNT_CLIENT_QUEUED_OWNER);
      h->owner_conn = conn;
      h->owner_task = ctx;
      return;
    }
  }
  const struct py_proc *proc = bpf_map_lookup_elem(&py_procs, &tgid);
  if (!proc || !proc->ctx_tracking) return;
  __u64 tstate = py_find_tstate(proc);
  if (!tstate) return;
  __u64 ctx = 0;
  __u64 conn = py_context_conn_of(tgid, proc, tstate, &ctx);
  if (!conn) return;
  count(PERFD_CNT_CLIENT_CTX_OWNER);
  h->owner_conn = conn;
  h->owner_task = ctx;
  /* The write runs inside the task: its stack is the call site. */
  py_capture_site(tgid, h->tid, proc, tstate, conn, h->fd, h->ts_ns);
}

/* A client connection's fd is no longer one (closed, or untracked at its
 * first write): the PySet_Add probe stops recording for it, and a queued
 * owner it left cannot be claimed by the fd's next connection. */
static __always_inline void client_fd_gone(__u32 tgid, __s32 fd) {
  struct py_owner_key k = {.tgid = tgid, .fd = fd};
  bpf_map_delete_elem(&py_owners, &k);
  bpf_map_delete_elem(&py_client_fds, &k);
}

/* connect() returned (0, or EINPROGRESS on a non-blocking socket): a TCP or
 * unix stream socket becomes a tracked client connection. The fd may have
 * been a connection before (closed without our seeing it): replaced. */
static __always_inline void client_connected(struct scratch *sc, __u64 id, __s32 fd, __s64 ret) {
  if (ret != 0 && ret != -EINPROGRESS) return;
  __u64 skp = fd_sock(fd);
  if (!skp) return;
  struct sock *sk = (struct sock *)skp;
  if (BPF_CORE_READ(sk, sk_type) != SOCK_STREAM) return;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (!is_tcp_family(family) && family != AF_UNIX) return;
  __u16 port = is_tcp_family(family) ? bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) : 0;
  __u32 tgid = id >> 32;
  struct perfd_conn_key key = {.tgid = tgid, .fd = fd};
  /* Its socket gets arrival marks too: when a reply arrived, against when
   * the event loop read it (the request time breakdown's db_wait ends at
   * the arrival; the rest is waiting for the loop). */
  struct perfd_conn_info info = {
      .conn_id = bpf_ktime_get_ns(), .sk = skp, .role = PERFD_ROLE_CLIENT, .peer_port = port};
  if (bpf_map_update_elem(&conns, &key, &info, BPF_ANY)) {
    count(PERFD_CNT_CONN_TABLE_FULL);
    return;
  }
  struct py_owner_key ok = {.tgid = tgid, .fd = fd};
  bpf_map_delete_elem(&py_owners, &ok);
  __u8 one = 1;
  bpf_map_update_elem(&py_client_fds, &ok, &one, BPF_ANY);
  arrival_entry(skp, family, is_tcp_family(family));
  count(PERFD_CNT_CLIENT_CONNECTS);
  fill_header(sc, id, fd, info.conn_id, ret, PERFD_EV_CONNECT);
  sc->ev.h.role = PERFD_ROLE_CLIENT;
  sc->ev.h.peer_port = port;
  /* Woken at once, not at the next 20 ms tick: the first client connection
   * of a uvloop worker makes user space attach the PySet_Add probe, which
   * must be in place before the connection's first query. Connects are
   * rare. */
  if (bpf_ringbuf_output(&events, &sc->ev, sizeof(sc->ev.h), BPF_RB_FORCE_WAKEUP))
    count(PERFD_CNT_RINGBUF_DROPS);
}

struct gather_ctx {
  struct scratch *sc;
  __u64 iov;  /* next struct iovec in user memory */
  __u32 left; /* iovecs not read yet */
  __u32 got;  /* bytes gathered into ev.data */
  __u32 want; /* bytes to gather: min(ret, PERFD_DATA_MAX) */
  bool fault;
};

/* bpf_loop callback: one iovec's bytes into ev.data, up to want. */
static long gather_iov(__u32 i, void *data) {
  struct gather_ctx *g = data;
  if (!g->left || g->got >= g->want) return 1;
  struct iovec iov;
  if (bpf_probe_read_user(&iov, sizeof(iov), (void *)g->iov)) {
    g->fault = true;
    return 1;
  }
  g->iov += sizeof(iov);
  g->left--;
  __u64 n = g->want - g->got;
  if (iov.iov_len < n) n = iov.iov_len;
  __u32 off = g->got & (PERFD_DATA_MAX - 1);
  asm volatile("%0 &= %1" : "+r"(n) : "i"(PERFD_DATA_MAX - 1));
  if (n && bpf_probe_read_user(&g->sc->cev.data[off], n, iov.iov_base)) {
    g->fault = true;
    return 1;
  }
  g->got += n;
  return 0;
}

/* The first bytes a client read/write transferred, into ev.data: across
 * the iovecs of readv/writev/sendmsg (libuv and libpq gather writes). */
static __always_inline __u32 gather_client_data(struct scratch *sc, const struct stash *s,
                                                __s64 ret) {
  __u32 want = ret > PERFD_DATA_MAX ? PERFD_DATA_MAX : (__u32)ret;
  if (s->how == STASH_PLAIN) {
    __u64 n = want;
    asm volatile("%0 &= %1" : "+r"(n) : "i"(2 * PERFD_DATA_MAX - 1));
    if (n > PERFD_DATA_MAX) n = PERFD_DATA_MAX;
    if (bpf_probe_read_user(sc->cev.data, n, (void *)s->ptr)) {
      count(PERFD_CNT_READ_FAULTS);
      sc->cev.h.flags |= PERFD_F_READ_FAULT;
      return 0;
    }
    return (__u32)n;
  }
  struct gather_ctx g = {.sc = sc, .iov = s->ptr, .left = 1, .want = want};
  if (s->how == STASH_MSG) {
    struct user_msghdr msg;
    if (bpf_probe_read_user(&msg, sizeof(msg), (void *)s->ptr)) g.fault = true;
    g.iov = (__u64)msg.msg_iov;
    g.left = msg.msg_iovlen;
  } else {
    g.left = 64; /* readv/writev: the loop ends when want is reached */
  }
  if (!g.fault) bpf_loop(16, gather_iov, &g, 0);
  if (g.fault) {
    count(PERFD_CNT_READ_FAULTS);
    sc->cev.h.flags |= PERFD_F_READ_FAULT;
  }
  return g.got;
}

/* A read/write on a client connection: header + the first bytes, for the
 * decoders in user space. Only connections whose first write showed
 * PostgreSQL or Redis carry bytes out of the kernel (enum
 * perfd_client_proto); server connections carry request lines only. */
static __always_inline void client_transfer(struct scratch *sc, __u64 id, const struct stash *s,
                                            __s64 ret, struct perfd_conn_info *info) {
  if (ret <= 0) return; /* EOF and errors: the close tells the decoder */
  fill_header_of(&sc->cev.h, id, s->fd, info->conn_id, ret, s->kind);
  sc->cev.h.role = PERFD_ROLE_CLIENT;
  sc->cev.h.peer_port = info->peer_port;
  if (!info->sk) {
    /* Found open at attach (seeded by user space without its socket): its
     * replies get arrival marks from now on. */
    __u64 skp = fd_sock(s->fd);
    if (skp) {
      __u16 family = BPF_CORE_READ((struct sock *)skp, __sk_common.skc_family);
      if (arrival_entry(skp, family, is_tcp_family(family))) info->sk = skp;
    }
  }
  if (s->kind == PERFD_EV_READ) sc->cev.h.arrival_ns = take_arrival(info->sk);
  __u8 proto = info->proto;
  bool decoded = proto == PERFD_PROTO_PGSQL || proto == PERFD_PROTO_REDIS;
  bool classify = proto == PERFD_PROTO_UNKNOWN && s->kind == PERFD_EV_WRITE;
  /* Bytes are copied only where they leave the kernel or decide the
   * protocol: not for TLS records, nor for replies read before the first
   * write (mid-stream). */
  __u32 n = 0;
  if (decoded || classify) {
    if (ret > PERFD_DATA_MAX) count(PERFD_CNT_CLIENT_CUT);
    n = gather_client_data(sc, s, ret);
  }
  if (classify) {
    proto = perfd_classify_client(sc->cev.data, n, info->mid_stream);
    if (proto == PERFD_PROTO_UNKNOWN) {
      /* Not a protocol we decode: untracked, and user space told it is gone. */
      struct perfd_conn_key key = {.tgid = id >> 32, .fd = s->fd};
      bpf_map_delete_elem(&conns, &key);
      client_fd_gone(id >> 32, s->fd);
      count(PERFD_CNT_CLIENT_OTHER);
      sc->cev.h.kind = PERFD_EV_CLOSE;
      sc->cev.h.ret = 0;
      output(&sc->cev, sizeof(sc->cev.h));
      return;
    }
    info->proto = proto;
    if (proto == PERFD_PROTO_TLS) n = 0; /* counted, never decoded */
  }
  sc->cev.h.proto = proto;
  sc->cev.h.data_len = n;
  /* The record is sent in 8-byte units: the bytes after n in the last unit
   * are zeroed, they may be left from another connection's transfer. */
  if (n & 7) {
    __u32 w = (n & ~7u) & (PERFD_DATA_MAX - 1);
    *(__u64 *)&sc->cev.data[w] &= (1ull << ((n & 7) * 8)) - 1;
  }
  if (s->kind == PERFD_EV_WRITE) client_owner(&sc->cev.h);
  __u64 size = sizeof(sc->cev.h) + (((__u64)n + 7) & ~7ull);
  asm volatile("%0 &= %1" : "+r"(size) : "i"(2 * PERFD_DATA_MAX - 1));
  if (size > sizeof(sc->cev)) size = sizeof(sc->cev);
  if (size < sizeof(sc->cev.h)) size = sizeof(sc->cev.h);
  output(&sc->cev, size);
}

/* ---- syscall exit ------------------------------------------------------- */

static __always_inline int on_exit(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct stash *sp = bpf_map_lookup_elem(&stashed, &id);
  if (!sp) return 0;
  struct stash s = *sp;
  /* Only a delete that removed the entry releases its slot: user space may
   * have reclaimed it meanwhile. */
  if (!bpf_map_delete_elem(&stashed, &id)) stash_release(id >> 32);

  __s64 ret = ctx->ret;
  __u32 tgid = id >> 32;
  struct scratch *sc = scratch_get();
  if (!sc) return 0;

  if (s.kind == PERFD_EV_CONNECT) {
    client_connected(sc, id, s.fd, ret);
    return 0;
  }
  if (s.kind == PERFD_EV_ACCEPT) {
    if (ret < 0) return 0;
    struct perfd_conn_key key = {.tgid = tgid, .fd = (__s32)ret};
    struct perfd_conn_info info = {.conn_id = bpf_ktime_get_ns(), .sk = fd_sock(key.fd)};
    if (bpf_map_update_elem(&conns, &key, &info, BPF_ANY)) {
      count(PERFD_CNT_CONN_TABLE_FULL);
      return 0;
    }
    register_sock(info.sk, true);
    fill_header(sc, id, key.fd, info.conn_id, 0, PERFD_EV_ACCEPT);
    emit(sc, 0);
    return 0;
  }

  struct perfd_conn_key key = {.tgid = tgid, .fd = s.fd};
  struct perfd_conn_info *info = bpf_map_lookup_elem(&conns, &key);
  if (!info && (s.kind != PERFD_EV_READ || ret <= 0)) return 0;
  /* EAGAIN on a non-blocking socket is not traffic. */
  if (ret == -11) return 0;
  if (info && info->role == PERFD_ROLE_CLIENT) {
    client_transfer(sc, id, &s, ret, info);
    return 0;
  }

  __u32 n = 0;
  __u8 flags = 0;
  __u64 buf = 0;
  if (ret > 0) {
    buf = first_buffer(&s, ret, &n);
    if (ret > PERFD_SCAN_MAX) flags |= PERFD_F_SCAN_LIMITED;
    if (n > PERFD_SCAN_MAX) n = PERFD_SCAN_MAX;
    /* Re-bound n in the register the helper call uses: clang spills the
     * clamped value and the verifier loses the bound. */
    __u64 size = n;
    asm volatile("%0 &= %1" : "+r"(size) : "i"(2 * PERFD_SCAN_MAX - 1));
    if (!buf || bpf_probe_read_user(sc->buf, size, (void *)buf)) {
      count(PERFD_CNT_READ_FAULTS);
      flags |= PERFD_F_READ_FAULT;
      n = 0;
    }
  }

  __u64 conn_id, skp;
  if (info) {
    conn_id = info->conn_id;
    skp = info->sk;
  } else {
    /* Adopt a server connection that was accepted before perfd attached:
     * a socket whose first bytes we see are a request line. */
    if (n < 4 || !is_request_start(sc->buf)) return 0;
    skp = fd_sock(s.fd);
    if (!skp) return 0;
    struct perfd_conn_info ni = {.conn_id = bpf_ktime_get_ns(), .sk = skp};
    if (bpf_map_update_elem(&conns, &key, &ni, BPF_NOEXIST)) {
      count(PERFD_CNT_CONN_TABLE_FULL);
      return 0;
    }
    count(PERFD_CNT_ADOPTED);
    conn_id = ni.conn_id;
    flags |= PERFD_F_ADOPTED;
    register_sock(skp, false);
    /* The framing state starts at "a message starts here" in both
     * directions; the write side resynchronises at its first status line
     * if a response was in progress. */
    info = bpf_map_lookup_elem(&conns, &key);
    if (!info) return 0;
  }
  /* Every read that consumed bytes moves the socket's arrival mark, request
   * line or not (a body read must not leave a stale mark for the next
   * request). */
  __u64 arrival = s.kind == PERFD_EV_READ && ret > 0 ? take_arrival(skp) : 0;

  fill_header(sc, id, s.fd, conn_id, ret, s.kind);
  sc->ev.h.flags = flags;
  sc->ev.h.arrival_ns = arrival;
  if (ret > 0) frame_lines(sc, &info->frame, s.kind == PERFD_EV_WRITE, n, (__u64)ret);
  __u8 nl = sc->ev.h.nlines;
  for (__u32 k = 0; k < PERFD_MAX_LINES; k++) {
    if (k >= nl) break;
    __u32 off = sc->ev.h.line_off[k] & (PERFD_SCAN_MAX - 1);
    __u32 avail = n > off ? n - off : 0;
    __u32 max = avail < PERFD_LINE_MAX ? avail : PERFD_LINE_MAX;
    struct cut_ctx cc = {.line = &sc->buf[off], .len = max, .flags = 0};
    bpf_loop(PERFD_LINE_MAX / 8, cut_word, &cc, 0);
    if (!cc.found && max == PERFD_LINE_MAX) cc.flags |= PERFD_LINE_LONG;
    __u32 len = cc.len & (PERFD_LINE_MAX - 1);
    if (cc.len == PERFD_LINE_MAX) len = PERFD_LINE_MAX - 1;
    bpf_probe_read_kernel(sc->ev.lines[k], len, &sc->buf[off]);
    sc->ev.h.line_len[k] = len;
    sc->ev.h.line_flags[k] = cc.flags;
  }
  if (nl > 0 && s.kind == PERFD_EV_WRITE) sc->ev.h.py_root = py_task_root(tgid);
  if (nl > 0 && s.kind == PERFD_EV_READ) note_delivery(tgid, (__u32)id, conn_id, sc->ev.h.ts_ns);
  emit(sc, nl);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }
SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx); }

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!is_tracked(tgid)) return 0;
  struct perfd_conn_key key = {.tgid = tgid, .fd = (__s32)ctx->args[0]};
  struct perfd_conn_info *info = bpf_map_lookup_elem(&conns, &key);
  if (!info) return 0;
  __u64 conn_id = info->conn_id;
  __u64 skp = info->sk;
  __u8 role = info->role;
  bpf_map_delete_elem(&conns, &key);
  if (role == PERFD_ROLE_CLIENT) client_fd_gone(tgid, key.fd);
  if (skp) bpf_map_delete_elem(&socks, &skp);
  struct scratch *sc = scratch_get();
  if (!sc) return 0;
  fill_header(sc, id, key.fd, conn_id, 0, PERFD_EV_CLOSE);
  sc->ev.h.role = role;
  emit(sc, 0);
  return 0;
}

/* ---- arrival sources (host-wide: filter by socket, never by task) ------- */

/* Data queued to a socket and its reader woken (softirq for TCP, the
 * sender's context for unix sockets). */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(on_sk_data_ready, const struct sock *sk) {
  __u64 key = (__u64)sk;
  struct sock_arrival *a = bpf_map_lookup_elem(&socks, &key);
  if (a && !READ_ONCE(a->first_unread_ns)) WRITE_ONCE(a->first_unread_ns, bpf_ktime_get_ns());
  return 0;
}

/* TCP state changes: a connection to a known listener port that completes
 * its handshake is registered before it is accepted, so data that waits in
 * the accept queue is timed; a closed socket is forgotten (its address may
 * be reused by the next struct sock). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, const struct sock *sk, const int oldstate,
             const int newstate) {
  __u64 key = (__u64)sk;
  if (newstate == TCP_CLOSE) {
    /* Lookup first: most closing sockets are not ours, and a lookup takes
     * no lock. */
    if (bpf_map_lookup_elem(&socks, &key)) bpf_map_delete_elem(&socks, &key);
    return 0;
  }
  if (oldstate != TCP_SYN_RECV || newstate != TCP_ESTABLISHED) return 0;
  struct listen_key lk = {.netns = sk->__sk_common.skc_net.net->ns.inum,
                          .port = sk->__sk_common.skc_num};
  if (!bpf_map_lookup_elem(&listeners, &lk)) return 0;
  struct sock_arrival a = {.established_ns = bpf_ktime_get_ns(),
                           .family = sk->__sk_common.skc_family};
  if (bpf_map_update_elem(&socks, &key, &a, BPF_ANY)) count(PERFD_CNT_SOCK_TABLE_FULL);
  return 0;
}
