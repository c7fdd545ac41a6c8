// Client connections a worker opened before perfd attached (an asyncpg or
// redis pool created at startup): their connect() was never seen, so they
// are found in /proc and handed to the kernel side as client connections
// "mid-stream" (bpf/client_classify.h then also accepts any PostgreSQL
// frontend message as their first write). A connection is a client one when
// it is an ESTABLISHED TCP socket of the process whose local port is no
// listening port of its network namespace. Unix-socket clients are not
// seeded (nothing in /proc tells a client end from a server end); they are
// traced from their next connect().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perfd {

struct SeedConn {
  int fd = -1;
  uint16_t peer_port = 0;
};

// Parses /proc/<pid>/net/tcp{,6} text: inode → (local port, remote port)
// of ESTABLISHED sockets, and the set of LISTEN ports. Pure, for tests.
struct TcpTable {
  struct Row {
    uint64_t inode = 0;
    uint16_t local_port = 0;
    uint16_t remote_port = 0;
  };
  std::vector<Row> established;
  std::vector<uint16_t> listening;
};
void ParseProcNetTcp(const std::string& text, TcpTable* out);

// The process's client TCP connections now (fds read from /proc/<pid>/fd).
std::vector<SeedConn> FindClientConnections(uint32_t pid);

}  // namespace perfd
