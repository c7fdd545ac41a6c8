// Pairing rules and bounds of ConnStitcher on synthetic conversations.
#include "daemon/protocols/pgsql/stitch.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/pgsql/fixture.h"
#include "tests/unit/pgsql/msg.h"

namespace perfd::pgsql::testing {
namespace {

using protocols::Direction;

class Conn {
 public:
  explicit Conn(Limits lim = Limits{}) : s_(1, 2, sink, stats, lim) {}
  void Send(const std::string& b) { Feed(Direction::kEgress, b); }
  void Recv(const std::string& b) { Feed(Direction::kIngress, b); }
  void Feed(Direction d, const std::string& b) {
    protocols::DataEvent e;
    e.dir = d;
    e.ts_ns = ++ts_;
    e.head = b;
    e.total = b.size();
    s_.OnEvent(e);
  }
  ConnStitcher& s() { return s_; }
  RecordingSink sink;
  Stats stats;

 private:
  ConnStitcher s_;
  uint64_t ts_ = 100;
};

TEST(PgsqlStitch, PipelinedSyncGroupsPairInOrder) {
  Conn c;
  c.Send(Parse("", "SELECT a FROM t WHERE id = $1") + Bind("", "7") + Execute() + Sync() +
         Parse("", "UPDATE u SET x = $1") + Bind("", "8") + Execute() + Sync());       // ts 101
  c.Recv(Msg('1', "") + Msg('2', "") + DataRow("1") + Complete("SELECT 1") + Z('I'));  // 102
  c.Recv(Msg('1', "") + Msg('2', "") + Complete("UPDATE 3") + Z('I'));                 // 103
  ASSERT_EQ(c.sink.records.size(), 2u);
  EXPECT_EQ(Describe(c.sink.records[0]),
            "X SELECT | t | SELECT a FROM t WHERE id = $1 | rows=1 x1");
  EXPECT_EQ(c.sink.records[0].end_ns, 102u);
  EXPECT_EQ(Describe(c.sink.records[1]), "X UPDATE | u | UPDATE u SET x = $1 | rows=3 x1");
  EXPECT_EQ(c.sink.records[1].start_ns, 101u);
  EXPECT_EQ(c.sink.records[1].end_ns, 103u);
}

TEST(PgsqlStitch, ErrorSkipsTheRestOfTheGroup) {
  Conn c;
  c.Send(Parse("a", "INSERT INTO t VALUES ($1)") + Parse("b", "DELETE FROM t") + Sync());
  c.Recv(Msg('1', "") + Msg('1', "") + Z());
  c.Send(Bind("a", "1") + Execute() + Bind("b", "") + Execute() + Sync());
  c.Recv(Msg('2', "") + Error("23505", "Key (id)=(1) already exists.") + Z('E'));
  ASSERT_EQ(c.sink.records.size(), 1u);
  EXPECT_EQ(c.sink.records[0].sqlstate, "23505");
  EXPECT_EQ(c.sink.records[0].statement, "a");
  EXPECT_EQ(c.stats.skipped_after_error, 1u);
  // Requests after the error and before Sync were skipped by the server too.
  c.Send(Bind("b", "") + Execute());
  c.Recv(Error("25P02", ""));
  c.Send(Bind("b", "") + Execute() + Sync());
  c.Recv(Z('E'));
  EXPECT_EQ(c.sink.records.size(), 2u);
  EXPECT_EQ(c.stats.skipped_after_error, 3u);
  // Next group is paired normally.
  c.Send(Query("ROLLBACK"));
  c.Recv(Complete("ROLLBACK") + Z());
  ASSERT_EQ(c.sink.records.size(), 3u);
  EXPECT_EQ(Describe(c.sink.records[2]), "Q ROLLBACK |  | ROLLBACK | rows=0 x1 hk");
}

TEST(PgsqlStitch, AsynchronousMessagesAreNeverPaired) {
  Conn c;
  c.Send(Query("SELECT 1"));
  c.Recv(Msg('N', "SNOTICE\0C01000\0Mhi\0\0") + Msg('T', std::string(10, 'x')) + DataRow("1") +
         Msg('S', Cstr("TimeZone") + Cstr("UTC")) + Msg('A', Be32(9) + Cstr("ch") + Cstr("x")) +
         Complete("SELECT 1") + Z());
  c.Recv(Msg('A', Be32(9) + Cstr("ch") + Cstr("y")));  // a notification while idle
  ASSERT_EQ(c.sink.records.size(), 1u);
  EXPECT_EQ(c.sink.records[0].rows, 1);
  EXPECT_EQ(c.stats.unpaired_responses, 0u);
}

TEST(PgsqlStitch, CloseForgetsAStatement) {
  Conn c;
  c.Send(Parse("s1", "SELECT 1") + Sync());
  c.Recv(Msg('1', "") + Z());
  c.Send(Msg('C', "S" + Cstr("s1")) + Sync());
  c.Recv(Msg('3', "") + Z());
  EXPECT_EQ(c.s().prepared_count(), 0u);
  c.Send(Bind("s1", "") + Execute() + Sync());
  c.Recv(Msg('2', "") + DataRow("1") + Complete("SELECT 1") + Z());
  ASSERT_EQ(c.sink.records.size(), 1u);
  EXPECT_TRUE(c.sink.records[0].unresolved);
  EXPECT_EQ(c.sink.records[0].fingerprint, "(prepared before attach) s1");
  EXPECT_EQ(c.stats.prepared_unresolved, 1u);
}

TEST(PgsqlStitch, PreparedStatementsAreBoundedLru) {
  Limits lim;
  lim.max_prepared = 8;
  Conn c(lim);
  for (int i = 0; i < 12; ++i) {
    c.Send(Parse("s" + std::to_string(i), "SELECT " + std::to_string(i)) + Sync());
    c.Recv(Msg('1', "") + Z());
    if (i >= 1) {  // keep s0 in use: it must survive
      c.Send(Bind("s0", "") + Execute() + Sync());
      c.Recv(Msg('2', "") + Complete("SELECT 0") + Z());
    }
  }
  EXPECT_EQ(c.s().prepared_count(), 8u);
  EXPECT_EQ(c.stats.prepared_evicted, 4u);
  EXPECT_EQ(c.stats.prepared_unresolved, 0u);
  c.Send(Bind("s1", "") + Execute() + Sync());  // evicted: unresolved, still reported
  c.Recv(Msg('2', "") + Complete("SELECT 0") + Z());
  EXPECT_TRUE(c.sink.records.back().unresolved);
}

TEST(PgsqlStitch, PendingQueueIsBounded) {
  Conn c;
  for (int i = 0; i < 100; ++i) c.Send(Query("SELECT 1"));
  EXPECT_EQ(c.s().pending_count(), 64u);
  EXPECT_EQ(c.stats.pending_overflows, 36u);
  c.s().OnClose();
  EXPECT_EQ(c.stats.unanswered, 64u);
  EXPECT_TRUE(c.sink.records.empty());
}

TEST(PgsqlStitch, BoundParametersNeverReachARecord) {
  Conn c;
  c.Send(Parse("", "SELECT * FROM users WHERE email = $1") + Bind("", "someone@example.com") +
         Execute() + Sync());
  c.Recv(Msg('1', "") + Msg('2', "") + DataRow("someone@example.com") + Complete("SELECT 1") + Z());
  ASSERT_EQ(c.sink.records.size(), 1u);
  EXPECT_EQ(Describe(c.sink.records[0]),
            "X SELECT | users | SELECT * FROM users WHERE email = $1 | rows=1 x1");
}

TEST(PgsqlStitch, LostResponsesEndAtTheLastReadBeforeTheNextRequest) {
  Conn c;
  c.Send(Query("SELECT * FROM big"));  // ts 101
  std::string resp =
      Msg('T', std::string(10, 'x')) + DataRow("1") + DataRow("2") + Complete("SELECT 2") + Z();
  protocols::DataEvent e;
  e.dir = Direction::kIngress;
  e.ts_ns = 500;
  std::string head = resp.substr(0, 20);  // T captured, the rest a gap
  e.head = head;
  e.total = resp.size();
  c.s().OnEvent(e);
  EXPECT_TRUE(c.sink.records.empty());
  c.Send(Query("SELECT 2"));  // the client moved on: the first query ended at 500
  ASSERT_EQ(c.sink.records.size(), 1u);
  EXPECT_EQ(c.sink.records[0].end_ns, 500u);
  EXPECT_EQ(c.sink.records[0].rows, -1);  // tag not captured: unknown, never guessed
}

}  // namespace
}  // namespace perfd::pgsql::testing
