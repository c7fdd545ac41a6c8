// RespParser on hand-written RESP: every type, framing across any split,
// uncaptured bytes, garbage, and the privacy rule on what leaves the parser.
#include "daemon/protocols/redis/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace perfd::protocols::redis {
namespace {

using Role = RespParser::Role;

DataEvent Ev(std::string_view bytes, uint64_t ts = 1, uint64_t total = 0) {
  DataEvent ev;
  ev.dir = Direction::kIngress;
  ev.ts_ns = ts;
  ev.head = bytes;
  ev.total = total ? total : bytes.size();
  return ev;
}

std::vector<RespMessage> Parse(Role role, std::string_view bytes, FeedResult* res = nullptr) {
  RespParser p(role);
  std::vector<RespMessage> out;
  FeedResult r = p.Feed(Ev(bytes), &out);
  if (res) *res = r;
  return out;
}

// Fed one byte per event: the same messages must come out.
std::vector<RespMessage> ParseBytewise(Role role, std::string_view bytes) {
  RespParser p(role);
  std::vector<RespMessage> out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    FeedResult r = p.Feed(Ev(bytes.substr(i, 1), i + 1), &out);
    EXPECT_FALSE(r.desynced) << "at byte " << i;
  }
  return out;
}

std::vector<std::string> Types(const std::vector<RespMessage>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) {
    std::string s = ReplyTypeName(m.type);
    if (!m.error_prefix.empty()) s += " " + m.error_prefix;
    out.push_back(s);
  }
  return out;
}

const char kAllReplies[] =
    "+OK\r\n"
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    ":42\r\n"
    "$5\r\nhello\r\n"
    "$-1\r\n"
    "*2\r\n$1\r\na\r\n*1\r\n:1\r\n"
    "*-1\r\n"
    "*0\r\n"
    "%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n:1\r\n:2\r\n"
    "~2\r\n+x\r\n+y\r\n"
    ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    ",3.25\r\n"
    ",inf\r\n"
    "#t\r\n"
    "(3492890328409238509324850943850943825024385\r\n"
    "=15\r\ntxt:Some string\r\n"
    "_\r\n"
    "!21\r\nSYNTAX invalid syntax\r\n"
    "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n:7\r\n"
    "*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n";

const std::vector<std::string> kAllTypes = {"simple",     "error WRONGTYPE",
                                            "integer",    "bulk",
                                            "null_bulk",  "array",
                                            "null_array", "array",
                                            "map",        "set",
                                            "push",       "double",
                                            "double",     "boolean",
                                            "big_number", "verbatim",
                                            "null",       "blob_error SYNTAX",
                                            "integer",    "array"};

TEST(RespParse, EveryReplyTypeInOneRead) {
  FeedResult r;
  auto msgs = Parse(Role::kReplies, kAllReplies, &r);
  EXPECT_FALSE(r.desynced);
  EXPECT_EQ(Types(msgs), kAllTypes);
}

TEST(RespParse, EveryReplyTypeOneByteAtATime) {
  auto msgs = ParseBytewise(Role::kReplies, kAllReplies);
  EXPECT_EQ(Types(msgs), kAllTypes);
  // Timestamps: first and last byte's events.
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs[0].first_ts, 1u);
  EXPECT_EQ(msgs[0].last_ts, 5u);
  EXPECT_EQ(msgs[0].bytes, 5u);
}

TEST(RespParse, AttributeBytesCountTowardTheValueItAnnotates) {
  auto msgs = Parse(Role::kReplies, "|1\r\n+a\r\n+b\r\n:7\r\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type, ReplyType::kInteger);
  EXPECT_EQ(msgs[0].bytes, 16u);
}

TEST(RespParse, CommandNamesAndContainerSubcommands) {
  auto msgs = Parse(Role::kCommands,
                    "*2\r\n$3\r\nget\r\n$6\r\nsecret\r\n"
                    "*3\r\n$6\r\nCLIENT\r\n$7\r\nsetname\r\n$6\r\nsecret\r\n"
                    "*3\r\n$6\r\nconfig\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n"
                    "*2\r\n$8\r\nJSON.GET\r\n$1\r\nk\r\n"
                    "*1\r\n$6\r\nuser42\r\n"
                    "*1\r\n$40\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
                    "*0\r\n");
  std::vector<std::string> names;
  for (const auto& m : msgs) names.push_back(m.command);
  EXPECT_THAT(names,
              ::testing::ElementsAre("GET", "CLIENT SETNAME", "CONFIG GET", "JSON.GET", "?", "?"));
  EXPECT_FALSE(msgs[0].name_refused);
  EXPECT_TRUE(msgs[4].name_refused);  // digits: looks like a key, not a name
  EXPECT_EQ(msgs[0].argc, 2u);
}

TEST(RespParse, ClientReplyModesAndSubscribeKinds) {
  auto msgs = Parse(Role::kCommands,
                    "*3\r\n$6\r\nclient\r\n$5\r\nreply\r\n$3\r\noff\r\n"
                    "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"
                    "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n");
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].kind, CommandKind::kClientReplyOff);
  EXPECT_EQ(msgs[1].kind, CommandKind::kClientReplySkip);
  EXPECT_EQ(msgs[2].kind, CommandKind::kSubscribe);
  EXPECT_EQ(msgs[2].argc, 3u);
}

TEST(RespParse, InlineCommands) {
  auto msgs = Parse(Role::kCommands, "PING\r\n\r\nset k v\nclient  setname  x\r\n");
  std::vector<std::string> names;
  for (const auto& m : msgs) {
    EXPECT_TRUE(m.is_inline);
    names.push_back(m.command);
  }
  EXPECT_THAT(names, ::testing::ElementsAre("PING", "SET", "CLIENT SETNAME"));
}

TEST(RespParse, ErrorPrefixIsTheCodeWordOnly) {
  auto msgs = Parse(Role::kReplies,
                    "-ERR unknown command 'secret', with args beginning with: 'key'\r\n"
                    "-MOVED 3999 127.0.0.1:6381\r\n"
                    "-not a code word\r\n"
                    "-NOSCRIPT\r\n"
                    "-AVERYVERYVERYVERYVERYVERYLONGERRORCODEWORD x\r\n");
  EXPECT_EQ(Types(msgs), (std::vector<std::string>{"error ERR", "error MOVED", "error ?",
                                                   "error NOSCRIPT", "error ?"}));
}

TEST(RespParse, UncapturedPayloadIsSkippedByLength) {
  // A 1 MB bulk reply whose head is 16 bytes, then the next reply.
  std::string head = "$1048576\r\nxxxxxx";
  RespParser p(Role::kReplies);
  std::vector<RespMessage> out;
  EXPECT_FALSE(p.Feed(Ev(head, 1, 1048576 + 12 - 500), &out).desynced);
  EXPECT_TRUE(out.empty());
  // The rest arrives in a read whose head is all payload, then CRLF and a reply.
  std::string tail(498, 'x');
  tail += "\r\n+OK\r\n";
  EXPECT_FALSE(p.Feed(Ev(tail, 2), &out).desynced);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, ReplyType::kBulkString);
  EXPECT_EQ(out[0].bytes, 1048576u + 12);
  EXPECT_EQ(out[0].first_ts, 1u);
  EXPECT_EQ(out[0].last_ts, 2u);
  EXPECT_EQ(out[1].type, ReplyType::kSimpleString);
}

TEST(RespParse, UncapturedNameIsNeverGuessed) {
  // The head ends inside the command name: "HGE" must not become a name.
  RespParser p(Role::kCommands);
  std::vector<RespMessage> out;
  std::string cmd = "*2\r\n$7\r\nHGETALL\r\n$1\r\nk\r\n";
  EXPECT_FALSE(p.Feed(Ev(std::string_view(cmd).substr(0, 11), 1, 16), &out).desynced);
  EXPECT_FALSE(p.Feed(Ev(std::string_view(cmd).substr(16), 2), &out).desynced);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].command, "?");
}

TEST(RespParse, GapOverAHeaderLosesSyncUntilAPlausibleEvent) {
  RespParser p(Role::kReplies);
  std::vector<RespMessage> out;
  // "+OK\r\n:1\r\n" captured as "+OK\r\n:": the last 3 bytes were not.
  FeedResult r = p.Feed(Ev("+OK\r\n:", 1, 9), &out);
  EXPECT_TRUE(r.desynced);
  EXPECT_EQ(r.bytes_skipped, 3u);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_FALSE(p.in_sync());
  // Mid-value bytes are not a message start: skipped whole.
  r = p.Feed(Ev("xxxx\r\n", 2), &out);
  EXPECT_FALSE(r.resynced);
  EXPECT_EQ(r.bytes_skipped, 6u);
  r = p.Feed(Ev("$2\r\nhi\r\n", 3), &out);
  EXPECT_TRUE(r.resynced);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type, ReplyType::kBulkString);
}

TEST(RespParse, InlineTextIsNeverAResyncPoint) {
  // Out of sync (mid-stream attach), payload text that looks like an inline
  // command must not become a command named after its first word.
  RespParser p(Role::kCommands, /*in_sync=*/false);
  std::vector<RespMessage> out;
  EXPECT_FALSE(p.Feed(Ev("hello world\r\n"), &out).resynced);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.Feed(Ev("*1\r\n$4\r\nPING\r\n"), &out).resynced);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].command, "PING");
}

TEST(RespParse, GarbageLosesSync) {
  for (const char* bad :
       {"hello\r\n", "$abc\r\n", "$3\r\nfooXX", ":12a\r\n", "#x\r\n", "_a\r\n", "*-2\r\n",
        "~-1\r\n", "$-2\r\n", "+OK\n", "$999999999999999999999999\r\n"}) {
    FeedResult r;
    Parse(Role::kReplies, bad, &r);
    EXPECT_TRUE(r.desynced) << bad;
  }
  for (const char* bad : {"*1\r\n:1\r\n", "*1\r\n*1\r\n$1\r\na\r\n", "\x01\x02", "*1\r\n$-1\r\n"}) {
    FeedResult r;
    Parse(Role::kCommands, bad, &r);
    EXPECT_TRUE(r.desynced) << bad;
  }
}

TEST(RespParse, TextThatIsNotACommandOrStatusLosesSync) {
  // Found by the garbage test: random bytes at a boundary were taken for an
  // inline command (named "?") or an error line, and paired with a reply.
  for (const char* bad : {"GET k\x01\x02\r\n", "\x7f\r\n", "42 k\r\n", "'x' y\r\n"}) {
    FeedResult r;
    EXPECT_TRUE(Parse(Role::kCommands, bad, &r).empty()) << bad;
    EXPECT_TRUE(r.desynced) << bad;
  }
  for (const std::string& bad : {std::string("-ERR \x03oops\r\n"), std::string("+O\0K\r\n", 6),
                                 std::string(",1.5x\r\n"), std::string("(12a\r\n")}) {
    FeedResult r;
    EXPECT_TRUE(Parse(Role::kReplies, bad, &r).empty()) << bad;
    EXPECT_TRUE(r.desynced) << bad;
  }
}

TEST(RespParse, LongHeaderLineLosesSyncLongTextDoesNot) {
  FeedResult r;
  Parse(Role::kReplies, "*" + std::string(100, '1') + "\r\n", &r);
  EXPECT_TRUE(r.desynced);
  auto msgs = Parse(Role::kReplies, "-ERR " + std::string(5000, 'e') + "\r\n+OK\r\n", &r);
  EXPECT_FALSE(r.desynced);
  EXPECT_EQ(Types(msgs), (std::vector<std::string>{"error ERR", "simple"}));
}

TEST(RespParse, NestingDeeperThanTheStackLosesSync) {
  std::string deep;
  for (size_t i = 0; i <= RespParser::kMaxDepth; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  FeedResult r;
  Parse(Role::kReplies, deep, &r);
  EXPECT_TRUE(r.desynced);
  std::string ok;
  for (size_t i = 0; i < RespParser::kMaxDepth; ++i) ok += "*1\r\n";
  ok += ":1\r\n";
  EXPECT_EQ(Parse(Role::kReplies, ok, &r).size(), 1u);
  EXPECT_FALSE(r.desynced);
}

TEST(RespParse, PushKindsAndSubscriptionCount) {
  auto msgs = Parse(Role::kReplies,
                    "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
                    ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"
                    "*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n"
                    "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0].push_kind, PushKind::kSubscribe);
  EXPECT_EQ(msgs[0].sub_count, 1);
  EXPECT_EQ(msgs[1].push_kind, PushKind::kMessage);
  EXPECT_EQ(msgs[2].push_kind, PushKind::kUnsubscribe);
  EXPECT_EQ(msgs[2].sub_count, 0);
  EXPECT_EQ(msgs[3].push_kind, PushKind::kOther);
}

TEST(RespParse, QueuedIsRecognised) {
  auto msgs = Parse(Role::kReplies, "+QUEUED\r\n+OK\r\n");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_TRUE(msgs[0].queued);
  EXPECT_FALSE(msgs[1].queued);
}

}  // namespace
}  // namespace perfd::protocols::redis
