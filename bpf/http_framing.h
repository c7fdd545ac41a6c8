/* HTTP/1.x message framing, run in the kernel on every read and write of a
 * server connection so that only request/status lines at real message starts
 * leave it. A body line such as "POST /x HTTP/1.1" (an upload, an echoed
 * payload) is body data: it is neither a request nor ours to export.
 *
 * Per connection and direction the state machine follows the byte stream:
 * a start line, header lines (only Content-Length and Transfer-Encoding are
 * looked at), then a body of known length, a chunked body (chunk sizes and
 * trailers followed), or none. A line is emitted only where a message
 * starts: at the start of the stream or right after the previous message's
 * body. Bytes past the scan window are counted, not seen; when a message
 * boundary falls among them (or anything does not parse) the direction is
 * LOST and emits nothing until it resynchronises: at the start of a read or
 * write that begins with a start line, once the other direction has emitted
 * a line since the loss (the peer answered, so the old message is over) or
 * is lost as well.
 *
 * Plain C over a byte window, no BPF helpers: the same code runs in
 * bpf/http_trace.bpf.c (driven by bpf_loop, one call per 8-byte word) and in
 * the host unit tests (tests/unit/http/http_framing_test.cc). */
#ifndef PERFD_BPF_HTTP_FRAMING_H
#define PERFD_BPF_HTTP_FRAMING_H

#ifndef __BPF__
#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

/* Index mask for the window buffer: 2 * PERFD_SCAN_MAX bytes. */
#define PERFD_FRAME_BUF_MASK 1023
/* Line starts recorded per buffer (= PERFD_MAX_LINES). */
#define PERFD_FRAME_MAX_LINES 4
/* Largest Content-Length or chunk size followed (1 TiB); larger is LOST. */
#define PERFD_FRAME_MAX_LEN (1ull << 40)

enum perfd_frame_mode {
  PERFD_FM_BOUNDARY = 0, /* a message starts at the next byte */
  PERFD_FM_START_LINE,   /* in the request/status line: wait for LF */
  PERFD_FM_HDR_START,    /* at the start of a header line */
  PERFD_FM_HDR_NAME,     /* in a header name */
  PERFD_FM_HDR_LINE,     /* in a header line: wait for LF */
  PERFD_FM_CL_VALUE,     /* in a Content-Length value */
  PERFD_FM_HDR_END,      /* read CR of the empty line: expect LF */
  PERFD_FM_BODY,         /* in a body (or chunk data): until body_end */
  PERFD_FM_CHUNK_SIZE,   /* in a chunk-size line */
  PERFD_FM_CHUNK_EXT,    /* in a chunk extension: wait for LF */
  PERFD_FM_TRAILER_START,
  PERFD_FM_TRAILER_LINE,
  PERFD_FM_TRAILER_END,
  PERFD_FM_LOST, /* framing unknown: emit nothing until resync */
};

enum perfd_frame_flags {
  PERFD_FF_HAVE_CL = 1 << 0,    /* Content-Length seen in this header block */
  PERFD_FF_CHUNKED = 1 << 1,    /* Transfer-Encoding seen */
  PERFD_FF_THEN_CHUNK = 1 << 2, /* BODY is chunk data: a chunk size follows */
  PERFD_FF_RESYNC_OK = 1 << 3,  /* LOST, and the other direction emitted since */
  PERFD_FF_HAVE_DIGIT = 1 << 4, /* a digit of the current CL / chunk size seen */
};

/* One direction of one connection, kept in the kernel's connection map. */
struct perfd_frame_dir {
  __u64 body_left; /* BODY: bytes of it in later buffers */
  __u64 len;       /* Content-Length / chunk size being parsed */
  __u16 status;    /* writes: status code of the message in progress */
  __u8 mode;       /* enum perfd_frame_mode */
  __u8 flags;      /* enum perfd_frame_flags */
  __u8 name_pos;   /* HDR_NAME: bytes of the name seen */
  __u8 name_cand;  /* HDR_NAME: names still matching (PERFD_NAME_*) */
  __u8 pad[2];
};

/* Both directions plus the HEAD requests still unanswered: a response to
 * HEAD (and 1xx, 204, 304) has no body whatever its headers say. */
struct perfd_frame_conn {
  struct perfd_frame_dir rd;
  struct perfd_frame_dir wr;
  __u64 head_bits; /* bit k: the k-th unanswered request is HEAD */
  __u8 head_n;     /* unanswered requests recorded (<= 64) */
  __u8 pad[7];
};

/* The bytes of one read/write (the first n of them valid). */
struct perfd_frame_win {
  char b[PERFD_FRAME_BUF_MASK + 1];
};

/* Work on one buffer: the first n bytes of ret transferred are in buf
 * (passed beside it). In BPF it lives in a per-CPU map value, not on the
 * stack: the verifier does not track values kept there, so the per-byte
 * state machine is verified once per branch instead of once per sequence of
 * modes. */
struct perfd_frame_ctx {
  __u32 n;
  __u32 pad0;
  __u8 write;
  __u8 mode;
  __u8 flags;
  __u8 nlines;
  __u64 len;
  __u64 body_end; /* BODY: buffer offset where it ends (may be >= n) */
  __u64 head_bits;
  __u16 status;
  __u8 head_n;
  __u8 lines_dropped;
  __u8 lost; /* this buffer made the direction LOST */
  __u8 name_pos;
  __u8 name_cand;
  __u8 pad;
  __u32 skip_to; /* bytes below this offset need no step (a matched name) */
  __u32 pad2;
  __u16 line_off[PERFD_FRAME_MAX_LINES];
};

static __always_inline __u8 perfd_frame_at(const struct perfd_frame_win *win, __u32 i) {
  return (__u8)win->b[i & PERFD_FRAME_BUF_MASK];
}

static __always_inline __u32 perfd_frame_word32(const struct perfd_frame_win *win, __u32 i) {
  return (__u32)perfd_frame_at(win, i) | ((__u32)perfd_frame_at(win, i + 1) << 8) |
         ((__u32)perfd_frame_at(win, i + 2) << 16) | ((__u32)perfd_frame_at(win, i + 3) << 24);
}

#ifdef __BPF__
#define PERFD_UNROLL _Pragma("unroll")
#else
#define PERFD_UNROLL
#endif

/* 8 bytes at off (any alignment, off + 8 <= PERFD_FRAME_BUF_MASK + 1). BPF
 * allows unaligned loads on the architectures perfd runs on. */
static __always_inline __u64 perfd_frame_load64(const struct perfd_frame_win *win, __u32 off) {
#ifdef __BPF__
  /* Hide off's range from clang, which would drop the check below that
   * the verifier needs. */
  asm volatile("" : "+r"(off));
#endif
  off &= PERFD_FRAME_BUF_MASK;
  if (off > PERFD_FRAME_BUF_MASK - 7) return 0;
#ifdef __BPF__
  return *(const __u64 *)(win->b + off);
#else
  __u64 v;
  __builtin_memcpy(&v, win->b + off, 8);
  return v;
#endif
}

#define PERFD_W4(a, b, c, d) \
  ((__u32)(a) | ((__u32)(b) << 8) | ((__u32)(c) << 16) | ((__u32)(d) << 24))

/* Request lines start with a method, status lines with "HTTP/". */
/* The first 4 bytes (little-endian word) of a request line: a method. The
 * kernel's adoption of pre-existing connections uses it too. */
static __always_inline int perfd_is_method_word(__u32 w) {
  return w == PERFD_W4('G', 'E', 'T', ' ') || w == PERFD_W4('P', 'O', 'S', 'T') ||
         w == PERFD_W4('P', 'U', 'T', ' ') || w == PERFD_W4('D', 'E', 'L', 'E') ||
         w == PERFD_W4('P', 'A', 'T', 'C') || w == PERFD_W4('H', 'E', 'A', 'D') ||
         w == PERFD_W4('O', 'P', 'T', 'I') || w == PERFD_W4('C', 'O', 'N', 'N') ||
         w == PERFD_W4('T', 'R', 'A', 'C');
}

/* Request lines start with a method, status lines with "HTTP/". */
static __always_inline int perfd_frame_is_start(const struct perfd_frame_ctx *c,
                                                const struct perfd_frame_win *win, __u32 i) {
  __u32 w = perfd_frame_word32(win, i);
  if (c->write) return w == PERFD_W4('H', 'T', 'T', 'P') && perfd_frame_at(win, i + 4) == '/';
  return perfd_is_method_word(w);
}

static __always_inline void perfd_frame_lose(struct perfd_frame_ctx *c) {
  if (c->mode != PERFD_FM_LOST) c->lost = 1;
  c->mode = PERFD_FM_LOST;
  c->flags = 0;
}

/* The header names looked at, as little-endian words (no memory access, so
 * the same in BPF and on the host). */
#define PERFD_NAME_CL 1                      /* "content-length:" */
#define PERFD_NAME_TE 2                      /* "transfer-encoding:" */
#define PERFD_NAME_CL0 0x2d746e65746e6f63ull /* "content-" */
#define PERFD_NAME_CL1 0x003a6874676e656cull /* "length:" */
#define PERFD_NAME_TE0 0x726566736e617274ull /* "transfer" */
#define PERFD_NAME_TE1 0x6e69646f636e652dull /* "-encodin" */
#define PERFD_NAME_TE2 0x0000000000003a67ull /* "g:" */
static __always_inline __u8 perfd_frame_name_char(__u8 which, __u8 k) {
  __u64 w;
  if (which == PERFD_NAME_CL)
    w = k < 8 ? PERFD_NAME_CL0 : PERFD_NAME_CL1;
  else
    w = k < 8 ? PERFD_NAME_TE0 : (k < 16 ? PERFD_NAME_TE1 : PERFD_NAME_TE2);
  return (__u8)(w >> (8 * (k & 7)));
}

/* One byte of a header name: candidates die at the first mismatch; a name
 * may span reads (the position is kept in the connection's state). */
static __always_inline void perfd_frame_name_byte(struct perfd_frame_ctx *c, __u8 ch) {
  if (ch == '\n') {
    c->mode = PERFD_FM_HDR_START; /* a line without a colon: ignored */
    return;
  }
  __u8 k = c->name_pos;
  __u8 lower = ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
  __u8 cand = c->name_cand;
  if ((cand & PERFD_NAME_CL) && (k >= 15 || lower != perfd_frame_name_char(PERFD_NAME_CL, k)))
    cand &= ~PERFD_NAME_CL;
  if ((cand & PERFD_NAME_TE) && (k >= 18 || lower != perfd_frame_name_char(PERFD_NAME_TE, k)))
    cand &= ~PERFD_NAME_TE;
  c->name_cand = cand;
  c->name_pos = k + 1;
  if (!cand) {
    c->mode = PERFD_FM_HDR_LINE;
  } else if ((cand & PERFD_NAME_CL) && k + 1 == 15) {
    /* A second Content-Length (request smuggling territory, and rare
     * otherwise) is not a message we can frame. */
    if (c->flags & PERFD_FF_HAVE_CL) {
      perfd_frame_lose(c);
      return;
    }
    c->mode = PERFD_FM_CL_VALUE;
    c->flags = (c->flags | PERFD_FF_HAVE_CL) & ~PERFD_FF_HAVE_DIGIT;
    c->len = 0;
  } else if ((cand & PERFD_NAME_TE) && k + 1 == 18) {
    c->flags |= PERFD_FF_CHUNKED;
    c->mode = PERFD_FM_HDR_LINE;
  }
}

static __always_inline void perfd_frame_add_line(struct perfd_frame_ctx *c, __u32 i) {
  __u8 k = c->nlines;
  if (k >= PERFD_FRAME_MAX_LINES) {
    c->lines_dropped = 1;
    return;
  }
  c->line_off[k & (PERFD_FRAME_MAX_LINES - 1)] = (__u16)i;
  c->nlines = k + 1;
}

/* A message starts at i. */
static __always_inline void perfd_frame_start(struct perfd_frame_ctx *c,
                                              const struct perfd_frame_win *win, __u32 i) {
  if (i + 5 > c->n || !perfd_frame_is_start(c, win, i)) {
    perfd_frame_lose(c);
    return;
  }
  perfd_frame_add_line(c, i);
  c->mode = PERFD_FM_START_LINE;
  c->flags = 0;
  c->len = 0;
  c->status = 0;
  if (c->write) {
    /* "HTTP/1.1 200": three digits at i + 9 (else 0: no special case). */
    if (i + 12 <= c->n) {
      __u8 d0 = perfd_frame_at(win, i + 9), d1 = perfd_frame_at(win, i + 10),
           d2 = perfd_frame_at(win, i + 11);
      if (d0 >= '1' && d0 <= '5' && d1 >= '0' && d1 <= '9' && d2 >= '0' && d2 <= '9')
        c->status = (__u16)((d0 - '0') * 100 + (d1 - '0') * 10 + (d2 - '0'));
    }
  } else if (c->head_n < 64) {
    if (perfd_frame_word32(win, i) == PERFD_W4('H', 'E', 'A', 'D'))
      c->head_bits |= 1ull << c->head_n;
    c->head_n++;
  }
}

/* The empty line that ends the header block ended at i (the body, if any,
 * starts at i). */
static __always_inline void perfd_frame_end_headers(struct perfd_frame_ctx *c, __u32 i) {
  int no_body = 0;
  if (c->write) {
    __u16 st = c->status;
    if (st == 101) { /* upgraded: the bytes that follow are not HTTP/1.x */
      perfd_frame_lose(c);
      return;
    }
    if (st >= 100 && st < 200) {
      no_body = 1; /* interim: the final response follows */
    } else {
      int head = c->head_n > 0 && (c->head_bits & 1);
      if (c->head_n > 0) {
        c->head_bits >>= 1;
        c->head_n--;
      }
      no_body = head || st == 204 || st == 304;
    }
  }
  __u8 fl = c->flags;
  __u64 len = c->len;
  c->flags = 0;
  c->len = 0;
  if (no_body) {
    c->mode = PERFD_FM_BOUNDARY;
  } else if (fl & PERFD_FF_CHUNKED) {
    c->mode = PERFD_FM_CHUNK_SIZE;
  } else if (fl & PERFD_FF_HAVE_CL) {
    c->mode = PERFD_FM_BODY;
    c->body_end = (__u64)i + len;
  } else if (c->write) {
    perfd_frame_lose(c); /* close-delimited body: nothing follows it */
  } else {
    c->mode = PERFD_FM_BOUNDARY; /* a request without length has no body */
  }
}

/* A chunk-size line ended at i (the byte after its LF). */
static __always_inline void perfd_frame_chunk_line(struct perfd_frame_ctx *c, __u32 i) {
  if (!(c->flags & PERFD_FF_HAVE_DIGIT)) {
    perfd_frame_lose(c);
    return;
  }
  if (c->len == 0) {
    c->mode = PERFD_FM_TRAILER_START;
    c->flags = 0;
    return;
  }
  c->mode = PERFD_FM_BODY;
  c->body_end = (__u64)i + c->len + 2; /* data, then CRLF */
  c->flags = PERFD_FF_THEN_CHUNK;
  c->len = 0;
}

static __always_inline int perfd_frame_hex(__u8 ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  ch |= 0x20;
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* One byte at offset i (< n). In BPF a global function: the verifier checks
 * it once, on its own, instead of once per byte of every word in every
 * program (the inlined form took 280k instructions per program to verify;
 * the call costs a few ns per byte, and most words never get here). */
#ifdef __BPF__
__attribute__((noinline)) int perfd_frame_byte(struct perfd_frame_ctx *c,
                                               const struct perfd_frame_win *win, __u32 i)
#else
static inline int perfd_frame_byte(struct perfd_frame_ctx *c, const struct perfd_frame_win *win,
                                   __u32 i)
#endif
{
  if (!c || !win) return 0;
  i &= PERFD_FRAME_BUF_MASK;
  if (c->mode == PERFD_FM_BODY) {
    if ((__u64)i < c->body_end) return 0;
    if (c->flags & PERFD_FF_THEN_CHUNK) {
      c->mode = PERFD_FM_CHUNK_SIZE;
      c->flags = 0;
      c->len = 0;
    } else {
      c->mode = PERFD_FM_BOUNDARY;
    }
  }
  __u8 ch = perfd_frame_at(win, i);
  switch (c->mode) {
    case PERFD_FM_BOUNDARY:
      perfd_frame_start(c, win, i);
      return 0;
    case PERFD_FM_START_LINE:
    case PERFD_FM_HDR_LINE:
    case PERFD_FM_TRAILER_LINE:
      if (ch == '\n')
        c->mode = c->mode == PERFD_FM_TRAILER_LINE ? PERFD_FM_TRAILER_START : PERFD_FM_HDR_START;
      return 0;
    case PERFD_FM_HDR_START:
      if (ch == '\r') {
        c->mode = PERFD_FM_HDR_END;
      } else if (ch == '\n') {
        perfd_frame_end_headers(c, i + 1);
      } else if (i + 18 <= c->n && i <= PERFD_FRAME_BUF_MASK - 24) {
        /* The whole name is in the window: decide it with two word
         * compares (|0x20 lowers letters and keeps '-' and ':'; it also
         * maps CR to '-', a header name servers refuse anyway). */
        __u64 w0 = perfd_frame_load64(win, i) | 0x2020202020202020ull;
        __u64 w1 = perfd_frame_load64(win, i + 8) | 0x2020202020202020ull;
        __u8 b16 = perfd_frame_at(win, i + 16) | 0x20, b17 = perfd_frame_at(win, i + 17);
        if (w0 == PERFD_NAME_CL0 && (w1 & 0x00ffffffffffffffull) == PERFD_NAME_CL1) {
          if (c->flags & PERFD_FF_HAVE_CL) {
            perfd_frame_lose(c);
            return 0;
          }
          c->mode = PERFD_FM_CL_VALUE;
          c->flags = (c->flags | PERFD_FF_HAVE_CL) & ~PERFD_FF_HAVE_DIGIT;
          c->len = 0;
          c->skip_to = i + 15;
        } else if (w0 == PERFD_NAME_TE0 && w1 == PERFD_NAME_TE1 && b16 == 'g' && b17 == ':') {
          c->flags |= PERFD_FF_CHUNKED;
          c->mode = PERFD_FM_HDR_LINE;
        } else {
          c->mode = PERFD_FM_HDR_LINE;
        }
      } else {
        /* The name may continue past the window: match it byte by byte,
         * across reads. */
        c->mode = PERFD_FM_HDR_NAME;
        c->name_pos = 0;
        c->name_cand = PERFD_NAME_CL | PERFD_NAME_TE;
        perfd_frame_name_byte(c, ch);
      }
      return 0;
    case PERFD_FM_HDR_NAME:
      perfd_frame_name_byte(c, ch);
      return 0;
    case PERFD_FM_CL_VALUE:
      if (ch >= '0' && ch <= '9') {
        c->len = c->len * 10 + (ch - '0');
        c->flags |= PERFD_FF_HAVE_DIGIT;
        if (c->len > PERFD_FRAME_MAX_LEN) perfd_frame_lose(c);
      } else if (ch == '\r' || ch == '\n') {
        if (!(c->flags & PERFD_FF_HAVE_DIGIT)) {
          perfd_frame_lose(c);
          return 0;
        }
        c->flags &= ~PERFD_FF_HAVE_DIGIT;
        c->mode = ch == '\n' ? PERFD_FM_HDR_START : PERFD_FM_HDR_LINE;
      } else if (ch != ' ' && ch != '\t') {
        perfd_frame_lose(c);
      }
      return 0;
    case PERFD_FM_HDR_END:
      if (ch == '\n')
        perfd_frame_end_headers(c, i + 1);
      else
        perfd_frame_lose(c);
      return 0;
    case PERFD_FM_CHUNK_SIZE: {
      int v = perfd_frame_hex(ch);
      if (v >= 0) {
        c->len = c->len * 16 + (__u64)v;
        c->flags |= PERFD_FF_HAVE_DIGIT;
        if (c->len > PERFD_FRAME_MAX_LEN) perfd_frame_lose(c);
      } else if (ch == ';') {
        c->mode = PERFD_FM_CHUNK_EXT;
      } else if (ch == '\n') {
        perfd_frame_chunk_line(c, i + 1);
      } else if (ch != '\r' && ch != ' ' && ch != '\t') {
        perfd_frame_lose(c);
      }
      return 0;
    }
    case PERFD_FM_CHUNK_EXT:
      if (ch == '\n') perfd_frame_chunk_line(c, i + 1);
      return 0;
    case PERFD_FM_TRAILER_START:
      if (ch == '\r')
        c->mode = PERFD_FM_TRAILER_END;
      else if (ch == '\n')
        c->mode = PERFD_FM_BOUNDARY;
      else
        c->mode = PERFD_FM_TRAILER_LINE;
      return 0;
    case PERFD_FM_TRAILER_END:
      if (ch == '\n')
        c->mode = PERFD_FM_BOUNDARY;
      else
        perfd_frame_lose(c);
      return 0;
    default:
      return 0;
  }
}

/* Modes that only wait for a LF: a word without one changes nothing. */
static __always_inline int perfd_frame_waits_for_lf(__u8 mode) {
  return mode == PERFD_FM_START_LINE || mode == PERFD_FM_HDR_LINE ||
         mode == PERFD_FM_TRAILER_LINE || mode == PERFD_FM_CHUNK_EXT;
}

/* Word-at-a-time byte search: the high bit of each byte of v that may equal
 * b. No false negatives; bytes above a true match may be false positives.
 * Shared with the line cutting in http_trace.bpf.c. */
static __always_inline __u64 perfd_has_byte(__u64 v, __u8 b) {
  __u64 x = v ^ (0x0101010101010101ull * b);
  return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

/* The bytes of word w (offsets 8w .. 8w+7 below n). Returns 1 when the rest
 * of the window needs no look (BPF: bpf_loop stops). Bytes that cannot
 * change the state (body bytes, anything but LF while waiting for one) are
 * skipped here, so the per-byte step runs only at line starts, header names,
 * lengths and boundaries. */
static __always_inline long perfd_frame_word(__u32 w, struct perfd_frame_ctx *c,
                                             const struct perfd_frame_win *win) {
  __u32 base = (w & 127) * 8;
  if (base >= c->n || c->mode == PERFD_FM_LOST) return 1;
  if (c->mode == PERFD_FM_BODY && c->body_end >= (__u64)base + 8) {
    /* Skip whole words of body; past the window nothing is left to see. */
    return c->body_end >= c->n ? 1 : 0;
  }
  __u64 v = perfd_frame_load64(win, base);
  /* High bit of each byte that may be LF (no false negatives; a false
   * positive only costs a step). Bytes past n are never stepped. */
  __u64 lf = perfd_has_byte(v, '\n');
  if (perfd_frame_waits_for_lf(c->mode) && !lf) return 0;
  for (__u32 j = 0; j < 8; j++) {
    __u32 i = base + j;
    if (i >= c->n) return 1;
    __u8 m = c->mode;
    if (m == PERFD_FM_LOST) return 1;
    if (perfd_frame_waits_for_lf(m) && !((lf >> (8 * j)) & 0x80)) continue;
    if (m == PERFD_FM_BODY && (__u64)i < c->body_end) continue;
    if (i < c->skip_to) continue;
    perfd_frame_byte(c, win, i);
  }
  return 0;
}

/* Before a buffer of ret bytes: load the direction's state. Returns 0 when
 * the buffer needs no scan (all of it is body, or the direction is LOST and
 * may not resync yet). */
static __always_inline int perfd_frame_begin(struct perfd_frame_ctx *c,
                                             const struct perfd_frame_conn *fc, int write,
                                             __u64 ret) {
  const struct perfd_frame_dir *d = write ? &fc->wr : &fc->rd;
  const struct perfd_frame_dir *other = write ? &fc->rd : &fc->wr;
  c->write = (__u8)write;
  c->mode = d->mode;
  c->flags = d->flags;
  c->len = d->len;
  c->status = d->status;
  c->name_pos = d->name_pos;
  c->name_cand = d->name_cand;
  c->head_bits = fc->head_bits;
  c->head_n = fc->head_n;
  c->nlines = 0;
  c->lines_dropped = 0;
  c->lost = 0;
  c->body_end = 0;
  c->skip_to = 0;
  if (c->mode == PERFD_FM_BODY) {
    c->body_end = d->body_left;
    if (d->body_left >= ret) return 0;
  } else if (c->mode == PERFD_FM_LOST) {
    if (!(d->flags & PERFD_FF_RESYNC_OK) && other->mode != PERFD_FM_LOST) return 0;
    c->mode = PERFD_FM_BOUNDARY;
    c->flags = 0;
    /* A failed resync is no new loss. */
    c->lost = 0;
  }
  return 1;
}

/* After the scan (or instead of it, when begin returned 0): store the state
 * for the next buffer. n bytes of ret were seen. Returns 1 if this buffer
 * lost the framing (count it). */
static __always_inline int perfd_frame_end(struct perfd_frame_ctx *c, struct perfd_frame_conn *fc,
                                           int scanned, __u64 ret) {
  struct perfd_frame_dir *d = c->write ? &fc->wr : &fc->rd;
  struct perfd_frame_dir *other = c->write ? &fc->rd : &fc->wr;
  if (!scanned) {
    if (d->mode == PERFD_FM_BODY) d->body_left -= ret;
    return 0;
  }
  int was_lost = d->mode == PERFD_FM_LOST;
  /* A resync attempt that found no start line (say, the rest of a body
   * the server never read) keeps the permission for the next buffer. */
  if (was_lost && c->mode == PERFD_FM_LOST && c->nlines == 0) return 0;
  __u64 n = c->n;
  if (c->mode == PERFD_FM_BODY) {
    if (c->body_end >= ret) {
      d->body_left = c->body_end - ret;
      /* The body ends exactly here: the next buffer starts a message (or
       * a chunk size). */
      if (d->body_left == 0) {
        if (c->flags & PERFD_FF_THEN_CHUNK) {
          c->mode = PERFD_FM_CHUNK_SIZE;
          c->flags = 0;
          c->len = 0;
        } else {
          c->mode = PERFD_FM_BOUNDARY;
        }
      }
    } else {
      perfd_frame_lose(c); /* the next message starts in bytes not seen */
    }
  } else if (n < ret && c->mode != PERFD_FM_LOST) {
    perfd_frame_lose(c); /* framing continues in bytes not seen */
  }
  d->mode = c->mode;
  d->flags = c->flags & ~PERFD_FF_RESYNC_OK;
  d->len = c->len;
  d->status = c->status;
  d->name_pos = c->name_pos;
  d->name_cand = c->name_cand;
  if (c->mode != PERFD_FM_BODY) d->body_left = 0;
  fc->head_bits = c->head_bits;
  fc->head_n = c->head_n;
  if (c->nlines > 0 && other->mode == PERFD_FM_LOST) other->flags |= PERFD_FF_RESYNC_OK;
  return c->lost && (!was_lost || c->nlines > 0);
}

#endif
