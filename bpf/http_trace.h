/* Shared between http_trace.bpf.c and user space: plain C, fixed-width types,
 * no kernel headers. Every struct that crosses the ring buffer is
 * static-asserted so a layout change breaks the build, not the data. */
#ifndef PERFD_BPF_HTTP_TRACE_H
#define PERFD_BPF_HTTP_TRACE_H

#ifdef __BPF__
/* vmlinux.h already defines the __u* types. */
#else
#include <linux/types.h>
#endif

#include "client_classify.h"
#include "http_framing.h"

/* Longest request/status line prefix that leaves the kernel. The kernel cuts
 * every line at the first '?', '#', CR or LF, so query strings, fragments and
 * headers never leave it; and emits only lines where a message starts
 * (bpf/http_framing.h), so body bytes never do. */
#define PERFD_LINE_MAX 128
/* Request/status lines found per read or write (pipelining); equal to
 * PERFD_FRAME_MAX_LINES (asserted below). */
#define PERFD_MAX_LINES 4
/* Bytes of each read/write scanned for line starts. Must be a power of two. */
#define PERFD_SCAN_MAX 512

enum perfd_http_kind {
  PERFD_EV_ACCEPT = 1,  /* server connection accepted (or adopted) */
  PERFD_EV_READ = 2,    /* bytes read from a tracked connection (ret = count) */
  PERFD_EV_WRITE = 3,   /* bytes written to a tracked connection */
  PERFD_EV_CLOSE = 4,   /* the worker closed the connection */
  PERFD_EV_CONNECT = 5, /* the worker opened a client connection (connect) */
};

/* Which side of a connection the traced worker is. Server connections carry
 * HTTP (request/status lines only leave the kernel); client connections
 * (databases, caches) carry the first PERFD_DATA_MAX bytes of each transfer
 * for the protocol decoders in daemon/protocols. */
enum perfd_conn_role {
  PERFD_ROLE_SERVER = 0,
  PERFD_ROLE_CLIENT = 1,
};

/* Bytes of each read/write of a client connection that leave the kernel. */
#define PERFD_DATA_MAX 1024

enum perfd_http_flags {
  /* The connection predates perfd: adopted at its first request line. */
  PERFD_F_ADOPTED = 1 << 0,
  /* More line starts existed in the scan window than PERFD_MAX_LINES. */
  PERFD_F_LINES_DROPPED = 1 << 1,
  /* The buffer was longer than PERFD_SCAN_MAX: later pipelined lines, if
   * any, were not looked for. */
  PERFD_F_SCAN_LIMITED = 1 << 2,
  /* Copying the user buffer failed (e.g. page not resident). */
  PERFD_F_READ_FAULT = 1 << 3,
};

/* Line flags, one byte per line. */
enum perfd_line_flags {
  PERFD_LINE_QUERY_CUT = 1 << 0, /* cut at '?' or '#' */
  PERFD_LINE_LONG = 1 << 1,      /* cut at PERFD_LINE_MAX */
};

struct perfd_http_event_header {
  __u64 ts_ns;   /* bpf_ktime_get_ns() at syscall exit */
  __u64 conn_id; /* unique per connection: fds are reused, this is not */
  __s64 ret;     /* bytes transferred, or -errno */
  __u32 tgid;
  __u32 tid;
  __s32 fd;
  __u8 kind;   /* enum perfd_http_kind */
  __u8 flags;  /* enum perfd_http_flags */
  __u8 nlines; /* valid entries in lines[] */
  __u8 pad;
  __u16 line_off[PERFD_MAX_LINES]; /* offset of each line in the buffer */
  __u8 line_len[PERFD_MAX_LINES];
  __u8 line_flags[PERFD_MAX_LINES];
  /* Writes carrying a status line, in processes with verified Python
   * offsets: the running asyncio task's root coroutine frame (the request's
   * identity for CPU attribution), else 0. */
  __u64 py_root;
  /* Reads: bpf_ktime_get_ns() when the first byte this read returned was
   * queued to the socket (sk_data_ready), i.e. when the request (server
   * connections) or the reply (client connections) became readable; 0 when
   * unknown (socket not registered, adopted or pre-existing connection).
   * Never later than ts_ns except for clock skew between CPUs. */
  __u64 arrival_ns;
  /* Client-connection writes: the serving connection (conn_id) of the
   * request whose task wrote, from request identity (bpf/python.h); 0 when
   * unknown (no request, or identity off). */
  __u64 owner_conn;
  __u32 data_len;  /* client events: bytes of data[] that follow the header */
  __u16 peer_port; /* CONNECT and client events: remote TCP port, 0 if unknown/unix */
  __u8 role;       /* enum perfd_conn_role */
  __u8 proto;      /* client events: enum perfd_client_proto */
  /* Client-connection writes with owner_conn: the address of the writing
   * task's contextvars.Context (one per asyncio task): calls of one request
   * from several tasks (asyncio.gather) are concurrent by design. */
  __u64 owner_task;
};

/* Events without lines are sent as the header alone (ring buffer space is
 * the scarce resource at high request rates). */
struct perfd_http_event {
  struct perfd_http_event_header h;
  union {
    char lines[PERFD_MAX_LINES][PERFD_LINE_MAX]; /* server connections */
    char data[PERFD_DATA_MAX];                   /* client connections */
  };
};

/* Most syscall-argument entries (`stashed`, one per thread inside a traced
 * syscall) one process may hold. The table is shared by every traced
 * process; without a quota one process with thousands of threads blocked in
 * read() fills it and nobody else's syscalls are traced. */
#define PERFD_STASH_QUOTA 1024

/* Index of the in-kernel counters (per-CPU array). User space sums CPUs and
 * exports them under the names in daemon/exporters/self_metrics.cc. */
enum perfd_http_counter {
  PERFD_CNT_RINGBUF_DROPS = 0, /* event lost: ring buffer full */
  PERFD_CNT_CONN_TABLE_FULL,   /* connection not tracked: map full */
  PERFD_CNT_READ_FAULTS,       /* bpf_probe_read_user failed */
  PERFD_CNT_ADOPTED,           /* pre-existing connections adopted */
  PERFD_CNT_ARGS_TABLE_FULL,   /* syscall args could not be stashed */
  PERFD_CNT_SOCK_TABLE_FULL,   /* socket/listener not registered: map update failed */
  PERFD_CNT_ARGS_QUOTA,        /* syscall args not stashed: the process holds its quota */
  PERFD_CNT_FRAMING_LOST,      /* a connection direction lost HTTP framing (lines held back) */
  PERFD_CNT_CLIENT_CONNECTS,   /* client connections tracked at connect() */
  PERFD_CNT_CLIENT_CUT,        /* client transfers longer than PERFD_DATA_MAX (rest not captured) */
  PERFD_CNT_CLIENT_QUEUED_OWNER, /* client writes whose request came from a queued uvloop write */
  PERFD_CNT_CLIENT_OTHER, /* client connections untracked: first bytes are no decoded protocol */
  PERFD_CNT_CLIENT_CTX_OWNER, /* client writes whose request came from the writing thread's context
                               */
  PERFD_CNT_MAX,
};

struct perfd_conn_key {
  __u32 tgid;
  __s32 fd;
};

struct perfd_conn_info {
  __u64 conn_id;
  /* Kernel address of the connection's struct sock (key of the kernel-only
   * socks map); 0 if it could not be resolved. Never read by user space. */
  __u64 sk;
  /* Where each direction's next HTTP message starts (bpf/http_framing.h):
   * only lines there leave the kernel. */
  struct perfd_frame_conn frame;
  __u8 role;       /* enum perfd_conn_role */
  __u8 proto;      /* client connections: enum perfd_client_proto */
  __u16 peer_port; /* client connections: remote TCP port (host order) */
  __u8 mid_stream; /* client connections found open at attach (user space seeded them) */
  __u8 pad2[3];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct perfd_http_event_header) == 96, "header layout");
_Static_assert(sizeof(struct perfd_http_event) == 96 + PERFD_DATA_MAX, "event layout");
_Static_assert(sizeof(struct perfd_http_event_header) % 8 == 0, "8-byte aligned records");
_Static_assert((PERFD_SCAN_MAX & (PERFD_SCAN_MAX - 1)) == 0, "power of two");
_Static_assert(PERFD_MAX_LINES == PERFD_FRAME_MAX_LINES, "one line limit");
_Static_assert(2 * PERFD_SCAN_MAX == PERFD_FRAME_BUF_MASK + 1, "framing window = scratch buffer");
#else
static_assert(sizeof(struct perfd_http_event_header) == 96, "header layout");
static_assert(sizeof(struct perfd_http_event) == 96 + PERFD_DATA_MAX, "event layout");
static_assert(sizeof(struct perfd_http_event_header) % 8 == 0, "8-byte aligned records");
static_assert(PERFD_MAX_LINES == PERFD_FRAME_MAX_LINES, "one line limit");
#endif

#endif
