// The kernel's client-connection classification (bpf/client_classify.h) on
// the host: what makes a connection's bytes leave the kernel, and what keeps
// them in (an outbound HTTP call, with its Authorization header).
#include "bpf/client_classify.h"

#include <gtest/gtest.h>

#include <string>

namespace {

uint8_t Classify(const std::string& bytes, bool mid_stream = false) {
  std::string b = bytes;
  b.resize(std::max<size_t>(b.size(), 8), '\0');  // the kernel's buffer is always readable
  return perfd_classify_client(b.data(), bytes.size(), mid_stream);
}

std::string Be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

TEST(ClientClassify, PostgresOpenings) {
  EXPECT_EQ(Classify(Be32(8) + Be32(80877103)), PERFD_PROTO_PGSQL);                // SSLRequest
  EXPECT_EQ(Classify(Be32(8) + Be32(80877104)), PERFD_PROTO_PGSQL);                // GSSENCRequest
  EXPECT_EQ(Classify(Be32(16) + Be32(80877102) + "12345678"), PERFD_PROTO_PGSQL);  // Cancel
  EXPECT_EQ(Classify(Be32(41) + Be32(196608) + "user\0postgres\0"), PERFD_PROTO_PGSQL);
  // Protocol 2.0 and absurd lengths are not PostgreSQL 3.
  EXPECT_EQ(Classify(Be32(41) + Be32(131072)), PERFD_PROTO_UNKNOWN);
  EXPECT_EQ(Classify(Be32(100000) + Be32(196608)), PERFD_PROTO_UNKNOWN);
}

TEST(ClientClassify, RespAndTls) {
  EXPECT_EQ(Classify("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), PERFD_PROTO_REDIS);
  EXPECT_EQ(Classify(std::string("\x16\x03\x01\x02\x00", 5)), PERFD_PROTO_TLS);
  EXPECT_EQ(Classify("*x"), PERFD_PROTO_UNKNOWN);
}

TEST(ClientClassify, MidStreamFrontendMessagesOnlyWhenMidStream) {
  const std::string bind = "B" + Be32(20) + "stmt";
  EXPECT_EQ(Classify(bind, /*mid_stream=*/true), PERFD_PROTO_PGSQL);
  // A fresh connection must open with a startup message.
  EXPECT_EQ(Classify(bind, /*mid_stream=*/false), PERFD_PROTO_UNKNOWN);
  EXPECT_EQ(Classify("Q" + Be32(13) + "SELECT 1", true), PERFD_PROTO_PGSQL);
}

TEST(ClientClassify, OutboundHttpStaysInTheKernel) {
  for (bool mid : {false, true}) {
    // 'P', 'D', 'C', 'H' are frontend message types: the length bytes
    // ("OST ", "ELET", "ONNE", "EAD ") read as >= 2^30 and are refused.
    for (const char* req :
         {"POST /v1/charge HTTP/1.1\r\nAuthorization: Bearer x\r\n", "DELETE /x HTTP/1.1\r\n",
          "CONNECT a:443 HTTP/1.1\r\n", "HEAD / HTTP/1.1\r\n", "GET / HTTP/1.1\r\n",
          "PUT /x HTTP/1.1\r\n", "PATCH /x HTTP/1.1\r\n"})
      EXPECT_EQ(Classify(req, mid), PERFD_PROTO_UNKNOWN) << req << " mid=" << mid;
  }
}

TEST(ClientClassify, ShortWrites) {
  EXPECT_EQ(Classify(""), PERFD_PROTO_UNKNOWN);
  EXPECT_EQ(Classify("*"), PERFD_PROTO_UNKNOWN);
  EXPECT_EQ(Classify(Be32(8) + "\x04\xd2", true), PERFD_PROTO_UNKNOWN);
}

}  // namespace
