// ClientTracker: kernel-shaped client events → protocol stitchers → DbCalls,
// each with the request owner the kernel put on the write that sent it.
#include "daemon/protocols/client_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/pgsql/fixture.h"

namespace perfd::protocols {
namespace {

struct Sink : ClientSink {
  struct Call {
    db::DbCall call;
    uint64_t owner;
  };
  void OnCall(const db::DbCall& c, uint64_t owner) override { calls.push_back({c, owner}); }
  void OnEncrypted(uint32_t, const char* system) override { encrypted.push_back(system); }
  std::vector<Call> calls;
  std::vector<std::string> encrypted;
};

perfd_http_event_header Header(uint8_t kind, uint64_t ts, int64_t ret, uint8_t proto,
                               uint64_t owner = 0, uint64_t conn = 9) {
  perfd_http_event_header h{};
  h.ts_ns = ts;
  h.conn_id = conn;
  h.ret = ret;
  h.tgid = 100;
  h.tid = 100;
  h.fd = 7;
  h.kind = kind;
  h.role = PERFD_ROLE_CLIENT;
  h.proto = proto;
  h.owner_conn = owner;
  h.peer_port = 5432;
  return h;
}

// A recorded asyncpg pool session, as the kernel would deliver it (each
// transfer cut at PERFD_DATA_MAX), with every write owned by one request:
// every record the stitcher makes reaches the sink with that owner.
TEST(ClientTracker, RecordedAsyncpgSessionOwnedByItsRequest) {
  auto chunks = pgsql::testing::LoadFixture("asyncpg_pool");
  ASSERT_FALSE(chunks.empty());
  Sink sink;
  ClientTracker t(sink);
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN), {});
  for (const auto& c : chunks) {
    const bool egress = c.dir == Direction::kEgress;
    std::string head = c.bytes.substr(0, PERFD_DATA_MAX);
    t.OnEvent(Header(egress ? PERFD_EV_WRITE : PERFD_EV_READ, c.ts_ns, c.bytes.size(),
                     PERFD_PROTO_PGSQL, egress ? 42 : 0),
              head);
  }
  t.OnEvent(Header(PERFD_EV_CLOSE, chunks.back().ts_ns + 1, 0, PERFD_PROTO_PGSQL), {});
  ASSERT_GT(sink.calls.size(), 3u);
  for (const auto& c : sink.calls) {
    EXPECT_EQ(c.owner, 42u) << c.call.fingerprint;
    EXPECT_EQ(c.call.system, db::System::kPostgresql);
    EXPECT_EQ(c.call.pid, 100u);
    EXPECT_LE(c.call.start_ns, c.call.end_ns);
    EXPECT_NE(c.call.fingerprint_id, 0u);
  }
  EXPECT_EQ(t.stats().calls_owned, sink.calls.size());
  EXPECT_EQ(t.connections(), 0u);
}

// Two requests on one pooled connection: each call gets the owner of the
// write that sent it, not of the latest write.
TEST(ClientTracker, OwnerIsTheWriteThatSentTheCall) {
  Sink sink;
  ClientTracker t(sink);
  const std::string get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN), {});
  t.OnEvent(Header(PERFD_EV_WRITE, 10, get.size(), PERFD_PROTO_REDIS, 501), get);
  t.OnEvent(Header(PERFD_EV_WRITE, 11, get.size(), PERFD_PROTO_REDIS, 502), get);
  t.OnEvent(Header(PERFD_EV_READ, 20, 14, PERFD_PROTO_REDIS), "$1\r\nv\r\n$1\r\nw\r\n");
  ASSERT_EQ(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[0].owner, 501u);
  EXPECT_EQ(sink.calls[1].owner, 502u);
  EXPECT_EQ(sink.calls[0].call.operation, "GET");
  EXPECT_EQ(sink.calls[0].call.system, db::System::kRedis);
  EXPECT_EQ(sink.calls[0].call.start_ns, 10u);
  EXPECT_EQ(sink.calls[1].call.end_ns, 20u);
}

// Call sites arrive (from another ring buffer) in a batch before the
// writes of the same batch: each write takes the newest site taken no later
// than itself, never a later write's.
TEST(ClientTracker, CallSitesGoToTheirOwnWrites) {
  Sink sink;
  ClientTracker t(sink);
  const std::string get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN), {});
  t.OnCallSite(100, 7, 10, "first (app.py:1)");  // taken in write 10's exit
  t.OnCallSite(100, 7, 25, "third (app.py:3)");  // uvloop: queued before write 30
  auto w = [&](uint64_t ts, uint64_t task) {
    auto h = Header(PERFD_EV_WRITE, ts, get.size(), PERFD_PROTO_REDIS, 501);
    h.owner_task = task;
    t.OnEvent(h, get);
  };
  w(10, 7001);
  w(20, 7001);
  w(30, 7002);
  t.OnEvent(Header(PERFD_EV_READ, 40, 21, PERFD_PROTO_REDIS), "$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n");
  ASSERT_EQ(sink.calls.size(), 3u);
  EXPECT_EQ(sink.calls[0].call.call_site, "first (app.py:1)");
  EXPECT_EQ(sink.calls[1].call.call_site, "");
  EXPECT_EQ(sink.calls[2].call.call_site, "third (app.py:3)");
  EXPECT_EQ(sink.calls[0].call.task, 7001u);
  EXPECT_EQ(sink.calls[2].call.task, 7002u);
  EXPECT_EQ(t.stats().calls_with_site, 2u);
  EXPECT_EQ(t.stats().sites_unused, 0u);
}

TEST(ClientTracker, StaleCallSitesAreDropped) {
  Sink sink;
  ClientTracker t(sink);
  const std::string get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN), {});
  t.OnCallSite(100, 7, 5, "old (app.py:1)");
  t.OnCallSite(100, 7, 6, "newer (app.py:2)");
  const uint64_t late = 6 + ClientTracker::kSiteMaxAgeNs + 1;
  t.OnEvent(Header(PERFD_EV_WRITE, late, get.size(), PERFD_PROTO_REDIS, 501), get);
  t.OnEvent(Header(PERFD_EV_READ, late + 1, 7, PERFD_PROTO_REDIS), "$1\r\nv\r\n");
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].call.call_site, "");
  EXPECT_EQ(t.stats().sites_unused, 2u);
}

TEST(ClientTracker, RepliesBeforeTheFirstWriteAreCountedNotPaired) {
  Sink sink;
  ClientTracker t(sink);
  // Mid-stream: no CONNECT, a reply first (kernel: proto still unknown).
  t.OnEvent(Header(PERFD_EV_READ, 5, 5, PERFD_PROTO_UNKNOWN), "");
  EXPECT_EQ(t.stats().ingress_before_egress, 1u);
  EXPECT_TRUE(sink.calls.empty());
}

TEST(ClientTracker, TlsConnectionsAreReportedEncrypted) {
  Sink sink;
  ClientTracker t(sink);
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN), {});
  t.OnEvent(Header(PERFD_EV_WRITE, 2, 517, PERFD_PROTO_TLS), "");
  t.OnEvent(Header(PERFD_EV_READ, 3, 1200, PERFD_PROTO_TLS), "");
  ASSERT_EQ(sink.encrypted.size(), 1u);
  EXPECT_EQ(sink.encrypted[0], "postgresql");  // from the port: 5432
  EXPECT_TRUE(sink.calls.empty());
}

TEST(ClientTracker, DropProcessAndIdleEviction) {
  Sink sink;
  ClientTracker t(sink);
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN, 0, 1), {});
  t.OnEvent(Header(PERFD_EV_CONNECT, 2, 0, PERFD_PROTO_UNKNOWN, 0, 2), {});
  EXPECT_EQ(t.connections(), 2u);
  t.FlushIdle(2 + ClientTracker::kIdleEvictNs - 10);
  EXPECT_EQ(t.connections(), 2u);
  t.FlushIdle(2 + ClientTracker::kIdleEvictNs + 10);
  EXPECT_EQ(t.connections(), 0u);
  EXPECT_EQ(t.stats().evicted_idle, 2u);
  t.OnEvent(Header(PERFD_EV_CONNECT, 3, 0, PERFD_PROTO_UNKNOWN, 0, 3), {});
  t.DropProcess(100);
  EXPECT_EQ(t.connections(), 0u);
}

}  // namespace
}  // namespace perfd::protocols

namespace perfd::protocols {
namespace {

// The read that completes a reply carries the arrival of its first byte:
// the call's reply_arrival_ns (the breakdown's db_wait ends there). A read
// without an arrival mark, or one outside the call, leaves it unknown.
TEST(ClientTracker, ReplyArrivalComesFromTheCompletingRead) {
  Sink sink;
  ClientTracker t(sink);
  const std::string get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  const std::string reply = "$1\r\nv\r\n";
  t.OnEvent(Header(PERFD_EV_CONNECT, 1, 0, PERFD_PROTO_UNKNOWN), {});
  t.OnEvent(Header(PERFD_EV_WRITE, 10, get.size(), PERFD_PROTO_REDIS, 501), get);
  perfd_http_event_header read = Header(PERFD_EV_READ, 30, reply.size(), PERFD_PROTO_REDIS);
  read.arrival_ns = 25;
  t.OnEvent(read, reply);
  t.OnEvent(Header(PERFD_EV_WRITE, 40, get.size(), PERFD_PROTO_REDIS, 501), get);
  t.OnEvent(Header(PERFD_EV_READ, 50, reply.size(), PERFD_PROTO_REDIS), reply);  // no mark
  t.OnEvent(Header(PERFD_EV_WRITE, 60, get.size(), PERFD_PROTO_REDIS, 501), get);
  read = Header(PERFD_EV_READ, 70, reply.size(), PERFD_PROTO_REDIS);
  read.arrival_ns = 55;  // before the call was sent: not its reply's
  t.OnEvent(read, reply);
  ASSERT_EQ(sink.calls.size(), 3u);
  EXPECT_EQ(sink.calls[0].call.reply_arrival_ns, 25u);
  EXPECT_EQ(sink.calls[1].call.reply_arrival_ns, 0u);
  EXPECT_EQ(sink.calls[2].call.reply_arrival_ns, 0u);
}

}  // namespace
}  // namespace perfd::protocols
