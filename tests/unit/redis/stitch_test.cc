// ConnStitcher on hand-written connections: each test writes the byte
// stream a client and server exchange and checks exactly what reaches the
// sink and which counters moved.
#include "daemon/protocols/redis/stitch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/redis/session.h"

namespace perfd::protocols::redis {
namespace {

using testing::Describe;
using ::testing::ElementsAre;
using testing::RecordingSink;

std::string Cmd(std::initializer_list<std::string> args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

class RedisStitch : public ::testing::Test {
 protected:
  void Out(const std::string& bytes, uint64_t total = 0) { Feed(Direction::kEgress, bytes, total); }
  void In(const std::string& bytes, uint64_t total = 0) { Feed(Direction::kIngress, bytes, total); }
  void Feed(Direction dir, const std::string& bytes, uint64_t total) {
    keep_.push_back(bytes);
    DataEvent ev;
    ev.dir = dir;
    ev.ts_ns = ++ts_;
    ev.head = keep_.back();
    ev.total = total ? total : bytes.size();
    st_.OnEvent(ev);
  }
  std::vector<std::string> Log(bool times = false) const {
    std::vector<std::string> out;
    for (const auto& r : sink_.records) out.push_back(Describe(r, times));
    return out;
  }
  const RedisStats& stats() const { return st_.stats(); }

  RecordingSink sink_;
  ConnStitcher st_{7, 99, sink_, /*from_start=*/true};
  std::vector<std::string> keep_;
  uint64_t ts_ = 0;
};

TEST_F(RedisStitch, OneCommandOneReply) {
  Out(Cmd({"GET", "k"}));
  In("$1\r\nv\r\n");
  EXPECT_THAT(Log(true), ElementsAre("GET bulk @1-2"));
  EXPECT_EQ(sink_.records[0].pid, 7u);
  EXPECT_EQ(sink_.records[0].conn_id, 99u);
  EXPECT_EQ(sink_.records[0].reply_bytes, 7u);
  EXPECT_EQ(sink_.records[0].reply_size, SizeClass::kTiny);
}

TEST_F(RedisStitch, PipelinedCommandsAndRepliesSplitAnywhere) {
  Out(Cmd({"SET", "a", "1"}) + Cmd({"INCR", "a"}) + Cmd({"GET", "a"}).substr(0, 5));
  Out(Cmd({"GET", "a"}).substr(5));
  In("+OK\r\n:");
  In("2\r\n$1\r");
  In("\n2\r\n");
  EXPECT_THAT(Log(true), ElementsAre("SET simple @1-3", "INCR integer @1-4", "GET bulk @1-5"));
}

TEST_F(RedisStitch, MultiExec) {
  Out(Cmd({"MULTI"}) + Cmd({"SET", "a", "1"}) + Cmd({"INCR", "a"}) + Cmd({"EXEC"}));
  In("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:2\r\n");
  EXPECT_THAT(Log(),
              ElementsAre("MULTI simple", "SET simple queued", "INCR simple queued", "EXEC array"));
}

TEST_F(RedisStitch, ExecAbortKeepsOnlyThePrefix) {
  Out(Cmd({"MULTI"}) + Cmd({"NOPE", "secret"}) + Cmd({"EXEC"}));
  In("+OK\r\n-ERR unknown command 'NOPE', with args beginning with: 'secret'\r\n"
     "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_THAT(Log(), ElementsAre("MULTI simple", "NOPE error ERR", "EXEC error EXECABORT"));
}

TEST_F(RedisStitch, Resp2PubSubMessagesAreCountedNeverPaired) {
  Out(Cmd({"SUBSCRIBE", "a", "b"}));
  In("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_TRUE(sink_.records.empty());  // one confirmation per channel
  In("*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
  Out(Cmd({"PING"}));
  In("*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nyo\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  Out(Cmd({"UNSUBSCRIBE"}));
  In("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
  // Unsubscribed: an ordinary array whose first element is "message" is a reply.
  Out(Cmd({"LRANGE", "l", "0", "-1"}));
  In("*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nyo\r\n");
  EXPECT_THAT(Log(),
              ElementsAre("SUBSCRIBE array", "PING array", "UNSUBSCRIBE array", "LRANGE array"));
  EXPECT_EQ(stats().pubsub_messages, 2u);
  EXPECT_EQ(stats().extra_confirmations, 1u);  // the 2nd of an argument-less UNSUBSCRIBE
}

TEST_F(RedisStitch, Resp3PushesAreNeverPaired) {
  Out(Cmd({"HELLO", "3"}));
  In("%1\r\n$5\r\nproto\r\n:3\r\n");
  Out(Cmd({"GET", "k"}));
  // An invalidation arrives before the reply, in the same read.
  In(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n$1\r\nv\r\n");
  Out(Cmd({"SUBSCRIBE", "c"}));
  In(">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n");
  EXPECT_THAT(Log(), ElementsAre("HELLO map", "GET bulk", "SUBSCRIBE push"));
  EXPECT_EQ(stats().pushes, 1u);
  EXPECT_EQ(stats().pubsub_messages, 1u);
}

TEST_F(RedisStitch, ClientReplyOffAndSkipHaveNoReplies) {
  Out(Cmd({"CLIENT", "REPLY", "SKIP"}) + Cmd({"SET", "a", "1"}) + Cmd({"GET", "a"}));
  In("$1\r\n1\r\n");
  Out(Cmd({"CLIENT", "REPLY", "OFF"}) + Cmd({"INCR", "a"}) + Cmd({"CLIENT", "REPLY", "ON"}));
  In("+OK\r\n");
  EXPECT_THAT(Log(true), ElementsAre("CLIENT REPLY noreply @1-1", "SET noreply @1-1",
                                     "GET bulk @1-2", "CLIENT REPLY noreply @3-3",
                                     "INCR noreply @3-3", "CLIENT REPLY simple @3-4"));
}

TEST_F(RedisStitch, ReplyModeIsResetWhenCommandsAreLost) {
  // Found with heads truncated to 64 bytes: CLIENT REPLY OFF was parsed, the
  // CLIENT REPLY ON after it was lost, and every later command was recorded
  // as having no reply.
  std::string lost = Cmd({"INCR", "n"}) + Cmd({"CLIENT", "REPLY", "ON"});
  Out(Cmd({"CLIENT", "REPLY", "OFF"}) + lost.substr(0, 3), 37 + lost.size());
  In("+OK\r\n");  // CLIENT REPLY ON
  Out(Cmd({"GET", "k"}));
  In("$1\r\nv\r\n");
  EXPECT_THAT(Log(true), ElementsAre("CLIENT REPLY noreply @1-1", "GET bulk @3-4"));
}

TEST_F(RedisStitch, TlsConnectionIsReportedAndNeverParsed) {
  Out(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  In(std::string("\x16\x03\x03\x00\x7a", 5));
  Out(Cmd({"GET", "k"}));
  In("$1\r\nv\r\n");
  EXPECT_TRUE(st_.encrypted());
  EXPECT_THAT(sink_.encrypted, ElementsAre(99u));
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_EQ(stats().encrypted, 1u);
  EXPECT_EQ(stats().commands, 0u);
}

TEST_F(RedisStitch, QueueIsBoundedAndOverflowedRepliesAreSkippedByCount) {
  const size_t n = ConnStitcher::kMaxPending + 76;
  std::string cmds, replies;
  for (size_t i = 0; i < n; ++i) {
    cmds += Cmd({"INCR", "c"});
    replies += ":" + std::to_string(i + 1) + "\r\n";
  }
  Out(cmds);
  EXPECT_LE(st_.pending(), ConnStitcher::kMaxPending + 1);
  In(replies);
  Out(Cmd({"GET", "c"}));
  In("$4\r\n1100\r\n");
  ASSERT_EQ(sink_.records.size(), ConnStitcher::kMaxPending + 1);
  EXPECT_EQ(Describe(sink_.records.back()), "GET bulk");  // paired after the skip
  EXPECT_EQ(stats().queue_overflows, 76u);
  EXPECT_EQ(st_.pending(), 0u);
}

TEST_F(RedisStitch, CloseCompletesWaitingCommands) {
  Out(Cmd({"BLPOP", "q", "0"}));
  st_.OnClose(50);
  EXPECT_THAT(Log(true), ElementsAre("BLPOP closed @1-50"));
  EXPECT_EQ(stats().closed_pending, 1u);
}

TEST_F(RedisStitch, EgressLossPairsEarlierCommandsThenWaitsForQuiet) {
  Out(Cmd({"GET", "a"}) + Cmd({"GET", "b"}));
  // A write whose head ends inside a header: the commands in it are lost.
  std::string lost = Cmd({"SET", "c", "1"}) + Cmd({"SET", "d", "2"});
  Out(lost.substr(0, 6), lost.size());
  In("$1\r\na\r\n$1\r\nb\r\n+OK\r\n+OK\r\n");
  Out(Cmd({"GET", "e"}));
  In("$1\r\ne\r\n");
  EXPECT_THAT(Log(true), ElementsAre("GET bulk @1-3", "GET bulk @1-3", "GET bulk @4-5"));
  EXPECT_EQ(stats().egress_desyncs, 1u);
  EXPECT_EQ(stats().unpaired_replies, 2u);
}

TEST_F(RedisStitch, IngressLossDropsWaitingCommandsUntilQuiet) {
  Out(Cmd({"GET", "a"}) + Cmd({"GET", "b"}));
  In("$1\r\na\r\n:", 12);  // the second reply's header was not captured
  Out(Cmd({"GET", "c"}));  // not paired: the read side is out of sync
  In("$1\r\nc\r\n");       // resync here; no command waits
  Out(Cmd({"GET", "d"}));  // quiet: pairing resumes
  In("$1\r\nd\r\n");
  EXPECT_THAT(Log(true), ElementsAre("GET bulk @1-2", "GET bulk @5-6"));
  EXPECT_EQ(stats().ingress_desyncs, 1u);
  EXPECT_EQ(stats().unpaired_commands, 2u);  // GET b (dropped), GET c (while suspended)
  EXPECT_EQ(stats().unpaired_replies, 1u);
}

TEST_F(RedisStitch, NoKeyArgumentOrValueReachesARecord) {
  Out(Cmd({"SET", "SECRETKEY", "SECRETVALUE"}) + Cmd({"SECRETNAME", "x"}) +
      Cmd({"CLIENT", "SECRET42", "x"}) + "SECRETINLINE SECRETARG\r\n");
  In("+OK\r\n-ERR unknown command 'SECRETNAME'\r\n-SECRET_ERR x\r\n$11\r\nSECRETVALUE\r\n");
  ASSERT_EQ(sink_.records.size(), 4u);
  // Names made of letters are kept (that is what a command name is); the
  // values around them never are.
  EXPECT_THAT(Log(), ElementsAre("SET simple", "SECRETNAME error ERR", "CLIENT ? error SECRET_ERR",
                                 "SECRETINLINE bulk"));
  for (const auto& r : sink_.records) {
    EXPECT_EQ(r.command.find("VALUE"), std::string::npos);
    EXPECT_EQ(r.command.find("KEY"), std::string::npos);
    EXPECT_EQ(r.command.find("ARG"), std::string::npos);
    EXPECT_EQ(r.command.find("42"), std::string::npos);
  }
}

TEST(RedisStitchAttach, MidStreamAttachPairsAfterOneRoundTrip) {
  RecordingSink sink;
  ConnStitcher st(1, 2, sink, /*from_start=*/false);
  auto feed = [&](Direction d, std::string_view b, uint64_t ts) {
    DataEvent ev;
    ev.dir = d;
    ev.ts_ns = ts;
    ev.head = b;
    ev.total = b.size();
    st.OnEvent(ev);
  };
  std::string get = Cmd({"GET", "k"});
  feed(Direction::kIngress, "lue\r\n", 1);  // the tail of a reply to an unseen command
  feed(Direction::kEgress, get, 2);         // no read at a boundary yet: not paired
  feed(Direction::kIngress, "$1\r\nv\r\n", 3);
  feed(Direction::kEgress, get, 4);
  feed(Direction::kIngress, "$1\r\nv\r\n", 5);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(Describe(sink.records[0], true), "GET bulk @4-5");
  EXPECT_EQ(st.stats().unpaired_commands, 1u);
}

TEST(RedisStitchAttach, AttachedToASubscribedConnection) {
  // Messages arrive before any command: the connection is subscribed, so a
  // message between PING and its pong is not PING's reply.
  RecordingSink sink;
  ConnStitcher st(1, 2, sink, /*from_start=*/false);
  uint64_t ts = 0;
  auto feed = [&](Direction d, std::string_view b) {
    DataEvent ev;
    ev.dir = d;
    ev.ts_ns = ++ts;
    ev.head = b;
    ev.total = b.size();
    st.OnEvent(ev);
  };
  const std::string msg = "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n";
  feed(Direction::kIngress, msg);
  feed(Direction::kEgress, Cmd({"PING"}));
  feed(Direction::kIngress, msg);
  feed(Direction::kIngress, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(Describe(sink.records[0], true), "PING array @2-4");
  EXPECT_EQ(st.stats().pubsub_messages, 2u);
}

}  // namespace
}  // namespace perfd::protocols::redis
