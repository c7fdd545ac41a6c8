/* Which protocol a client connection (one a traced worker opened) speaks,
 * from the first bytes the worker wrote on it. Clients speak first in
 * PostgreSQL and Redis, so the first write decides, with the minimum each
 * protocol needs: a PostgreSQL startup/SSLRequest/GSSENCRequest/
 * CancelRequest header (or, for a connection open before perfd attached,
 * any frontend message header), a RESP array header, a TLS record header.
 *
 * Plain C, no BPF helpers: the same code runs in bpf/http_trace.bpf.c and in
 * the host unit tests (tests/unit/protocols/client_classify_test.cc). */
#ifndef PERFD_BPF_CLIENT_CLASSIFY_H
#define PERFD_BPF_CLIENT_CLASSIFY_H

#ifndef __BPF__
#include <linux/types.h>
#include <stdbool.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

/* What a client connection speaks, decided in the kernel from the first
 * bytes the worker writes (the minimum each protocol needs: a PostgreSQL
 * startup/SSLRequest or frontend message header, a RESP array header, a TLS
 * record header). Only PostgreSQL and Redis connections' bytes leave the
 * kernel; TLS ones are reported without data; anything else (an outbound
 * HTTP call with its Authorization header, say) is untracked at once. */
enum perfd_client_proto {
  PERFD_PROTO_UNKNOWN = 0, /* nothing written yet: reads carry no data */
  PERFD_PROTO_PGSQL = 1,
  PERFD_PROTO_REDIS = 2,
  PERFD_PROTO_TLS = 3,
};

static __always_inline __u32 perfd_be32_at(const char *b) {
  return ((__u32)(__u8)b[0] << 24) | ((__u32)(__u8)b[1] << 16) | ((__u32)(__u8)b[2] << 8) |
         (__u32)(__u8)b[3];
}

/* enum perfd_client_proto of the first n bytes a client wrote (b holds at
 * least 8 readable bytes). mid_stream: the connection predates perfd, so the
 * bytes may be any message of a session in progress. */
static __always_inline __u8 perfd_classify_client(const char *b, __u32 n, bool mid_stream) {
  if (n >= 3 && b[0] == 0x16 && b[1] == 0x03) return PERFD_PROTO_TLS;
  if (n >= 2 && b[0] == '*' && b[1] >= '0' && b[1] <= '9') return PERFD_PROTO_REDIS;
  if (n >= 8) {
    __u32 len = perfd_be32_at(b), code = perfd_be32_at(b + 4);
    /* Protocol 3.0 startup, SSLRequest, GSSENCRequest, CancelRequest. */
    if (len >= 8 && len <= 10000 &&
        (code == 196608 || code == 80877103 || code == 80877104 || code == 80877102))
      return PERFD_PROTO_PGSQL;
  }
  if (mid_stream && n >= 5) {
    char t = b[0];
    __u32 len = perfd_be32_at(b + 1);
    /* Lengths of 2^30 and more are refused: they are how text ("POST",
     * "DELETE") reads as a header. */
    bool frontend = t == 'Q' || t == 'P' || t == 'B' || t == 'D' || t == 'E' || t == 'S' ||
                    t == 'C' || t == 'H' || t == 'F' || t == 'X' || t == 'd' || t == 'c' ||
                    t == 'f';
    if (frontend && len >= 4 && len < (1u << 30)) return PERFD_PROTO_PGSQL;
  }
  return PERFD_PROTO_UNKNOWN;
}

#endif
