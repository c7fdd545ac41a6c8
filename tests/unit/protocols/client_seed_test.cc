// Which open TCP sockets of a worker are its client connections
// (daemon/loader/client_seed.h), from /proc/<pid>/net/tcp text.
#include "daemon/loader/client_seed.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

TEST(ProcNetTcp, EstablishedAndListening) {
  const std::string text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n"
      "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
      "0 1001 1 0000000000000000 100 0 0 10 0\n"
      "   1: 0100007F:1F40 0100007F:D3A2 01 00000000:00000000 00:00000000 00000000     0        "
      "0 1002 1 0000000000000000 20 4 30 10 -1\n"
      "   2: 0100007F:A1B2 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        "
      "0 1003 1 0000000000000000 20 4 30 10 -1\n"
      "garbage line\n";
  TcpTable t;
  ParseProcNetTcp(text, &t);
  ASSERT_EQ(t.listening.size(), 1u);
  EXPECT_EQ(t.listening[0], 8000);
  ASSERT_EQ(t.established.size(), 2u);
  EXPECT_EQ(t.established[0].inode, 1002u);
  EXPECT_EQ(t.established[0].local_port, 8000);  // a server connection (local = listener)
  EXPECT_EQ(t.established[1].inode, 1003u);
  EXPECT_EQ(t.established[1].remote_port, 5432);  // a client one, to PostgreSQL
}

TEST(ProcNetTcp, EmptyAndMissing) {
  TcpTable t;
  ParseProcNetTcp("", &t);
  EXPECT_TRUE(t.established.empty() && t.listening.empty());
  EXPECT_TRUE(FindClientConnections(0x7fffffff).empty());  // no such process
}

}  // namespace
}  // namespace perfd
