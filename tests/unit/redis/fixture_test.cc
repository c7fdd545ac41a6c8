// Recorded redis-py and raw RESP3 sessions (fixtures/, record_sessions.py)
// replayed as captured, then damaged every way the kernel capture can damage
// them: re-split at every byte, heads truncated, bytes missing, garbage,
// cut short, attached mid-stream. Records must stay exact where the framing
// allows, and never be wrong where it does not (a subset of the exact ones,
// the rest counted).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/unit/redis/session.h"

namespace perfd::protocols::redis::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

const std::vector<std::string> kFixtures = {"sync_basic",         "pipeline50", "transaction",
                                            "wrongtype",          "big_value",  "pubsub",
                                            "asyncio_concurrent", "resp3_raw"};

std::vector<uint64_t> Ts(const Session& s, uint32_t conn, Direction dir) {
  std::vector<uint64_t> out;
  for (const auto& c : s) {
    if (c.conn == conn && c.dir == dir) out.push_back(c.ts);
  }
  return out;
}

// Every record of `got` is one of `want` (same command, times, reply): a
// damaged capture may lose records but never pairs wrongly.
void ExpectSubset(const Replay& got, const Replay& want, const std::string& what) {
  for (const auto& [conn, recs] : got.records) {
    const auto& all = want.records.at(conn);
    size_t j = 0;
    for (const auto& r : recs) {
      while (j < all.size() && !SameRecord(all[j], r)) ++j;
      ASSERT_LT(j, all.size()) << what << ": conn " << conn << " unexpected " << Describe(r, true);
      ++j;
    }
  }
}

void ExpectSame(const Replay& got, const Replay& want, const std::string& what) {
  for (const auto& [conn, recs] : want.records) {
    ASSERT_EQ(got.Names(conn, true), want.Names(conn, true)) << what << " conn " << conn;
    for (size_t i = 0; i < recs.size(); ++i) {
      ASSERT_TRUE(SameRecord(got.records.at(conn)[i], recs[i])) << what;
    }
  }
}

TEST(RedisFixtures, SyncClient) {
  Session s = LoadFixture("sync_basic");
  Replay r = Play(s);
  EXPECT_THAT(r.Names(1), ElementsAre("SET simple", "GET bulk", "GET null_bulk", "INCRBY integer",
                                      "HSET integer", "HGETALL array", "DEL integer"));
  // Each command is one write, each reply one read.
  auto out = Ts(s, 1, Direction::kEgress), in = Ts(s, 1, Direction::kIngress);
  ASSERT_EQ(r.records[1].size(), out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(r.records[1][i].start_ns, out[i]);
    EXPECT_EQ(r.records[1][i].end_ns, in[i]);
  }
  EXPECT_EQ(r.stats.egress_desyncs + r.stats.ingress_desyncs + r.stats.unmatched_replies, 0u);
}

TEST(RedisFixtures, PipelineOf50) {
  Session s = LoadFixture("pipeline50");
  Replay r = Play(s);
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i) {
    want.push_back(i % 3 == 0 ? "SET simple" : i % 3 == 1 ? "GET null_bulk" : "INCRBY integer");
  }
  EXPECT_THAT(r.Names(1), ElementsAreArray(want));
  uint64_t first_out = Ts(s, 1, Direction::kEgress).front();
  uint64_t last_in = Ts(s, 1, Direction::kIngress).back();
  for (const auto& rec : r.records[1]) {
    EXPECT_EQ(rec.start_ns, first_out);
    EXPECT_LE(rec.end_ns, last_in);
  }
}

TEST(RedisFixtures, Transaction) {
  Replay r = Play(LoadFixture("transaction"));
  EXPECT_THAT(r.Names(1), ElementsAre("MULTI simple", "SET simple queued", "INCRBY simple queued",
                                      "GET simple queued", "EXEC array"));
}

TEST(RedisFixtures, Errors) {
  Replay r = Play(LoadFixture("wrongtype"));
  EXPECT_THAT(r.Names(1), ElementsAre("SET simple", "LPUSH error WRONGTYPE", "NOSUCHCMD error ERR",
                                      "GET bulk"));
}

TEST(RedisFixtures, OneMegabyteValue) {
  Session s = LoadFixture("big_value");
  Replay r = Play(s);
  EXPECT_THAT(r.Names(1), ElementsAre("SET simple", "GET bulk"));
  auto out = Ts(s, 1, Direction::kEgress), in = Ts(s, 1, Direction::kIngress);
  EXPECT_EQ(r.records[1][0].start_ns, out.front());  // first of the SET's writes
  EXPECT_EQ(r.records[1][0].end_ns, in.front());
  EXPECT_EQ(r.records[1][1].end_ns, in.back());  // last read of the value
  EXPECT_EQ(r.records[1][1].reply_bytes, 1048576u + 12);
  EXPECT_EQ(r.records[1][1].reply_size, SizeClass::kHuge);
}

TEST(RedisFixtures, PubSub) {
  Replay r = Play(LoadFixture("pubsub"));
  EXPECT_THAT(r.Names(1), ElementsAre("SUBSCRIBE array", "UNSUBSCRIBE array"));
  EXPECT_THAT(r.Names(2), ElementsAre("PUBLISH integer", "PUBLISH integer", "PUBLISH integer"));
  EXPECT_EQ(r.stats.pubsub_messages, 3u);
  EXPECT_EQ(r.stats.unmatched_replies + r.stats.extra_confirmations, 0u);
}

TEST(RedisFixtures, AsyncioConcurrentConnections) {
  Replay r = Play(LoadFixture("asyncio_concurrent"));
  ASSERT_EQ(r.records.size(), 8u);
  for (const auto& [conn, recs] : r.records) {
    EXPECT_THAT(r.Names(conn), ElementsAre("SET simple", "GET bulk")) << conn;
  }
}

TEST(RedisFixtures, Resp3Session) {
  Replay r = Play(LoadFixture("resp3_raw"));
  EXPECT_THAT(
      r.Names(1),
      ElementsAre("HELLO map", "SET simple", "GET bulk", "GET null", "HSET integer", "HGETALL map",
                  "SADD integer", "SMEMBERS set", "ZADD integer", "ZSCORE double",
                  "EVAL big_number", "EVAL double", "EVAL boolean", "CLIENT INFO verbatim",
                  "CLIENT TRACKING simple", "GET bulk", "PING simple", "SUBSCRIBE push",
                  "UNSUBSCRIBE push", "CLIENT REPLY noreply", "SET noreply", "CLIENT REPLY noreply",
                  "INCR noreply", "CLIENT REPLY simple", "GET bulk"));
  EXPECT_THAT(r.Names(2), ElementsAre("SET simple", "PUBLISH integer"));
  EXPECT_EQ(r.stats.pushes, 1u);  // the invalidation
  EXPECT_EQ(r.stats.pubsub_messages, 1u);
}

// Cut positions in a chunk: all of them, or (for 64 KiB chunks) the first and
// last 80 bytes, where headers are, and a sample in between.
std::vector<size_t> Cuts(size_t len) {
  std::vector<size_t> out;
  for (size_t p = 1; p < len; ++p) {
    if (len <= 4096 || p < 80 || p + 80 > len || p % 4099 == 0) out.push_back(p);
  }
  return out;
}

TEST(RedisFixtures, SplitAtEveryByteGivesTheSameRecords) {
  for (const auto& name : kFixtures) {
    Session s = LoadFixture(name);
    Replay want = Play(s);
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i].bytes.size() <= 4096) {
        // And one byte per event.
        ExpectSame(Play(SplitChunk(s, i, Cuts(s[i].bytes.size()))), want,
                   name + " chunk " + std::to_string(i) + " bytewise");
      }
      for (size_t p : Cuts(s[i].bytes.size())) {
        Replay got = PlayCut(s, i, p);
        ExpectSame(got, want, name + " chunk " + std::to_string(i) + " cut " + std::to_string(p));
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(RedisFixtures, RandomSplitsGiveTheSameRecords) {
  for (const auto& name : kFixtures) {
    Session s = LoadFixture(name);
    Replay want = Play(s);
    for (uint32_t seed = 1; seed <= 40; ++seed) {
      size_t max_piece = name == "big_value" ? 20000 : 1 + seed % 9;
      ExpectSame(Play(RandomSplits(s, seed, max_piece)), want,
                 name + " seed " + std::to_string(seed));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(RedisFixtures, TruncatedHeadsKeepPairingWhereFramingAllows) {
  for (const auto& name : kFixtures) {
    Session s = LoadFixture(name);
    Replay want = Play(s);
    for (size_t head : {64, 512, 4096}) {
      std::string what = name + " head " + std::to_string(head);
      Replay got = Play(TruncateHeads(s, head));
      // Where only payload bytes are missing, nothing changes: the 1 MB value
      // at any head size, small sessions at 512 bytes and more.
      // (Bigger events, like the 50-command write, lose commands: counted.)
      bool payload_only = head >= 4096 || name == "big_value" || name == "sync_basic" ||
                          name == "asyncio_concurrent" || (head >= 512 && name != "pipeline50");
      if (payload_only) {
        ExpectSame(got, want, what);
      } else {
        ExpectSubset(got, want, what);
        EXPECT_GT(got.stats.egress_desyncs + got.stats.ingress_desyncs, 0u) << what;
      }
      // Same split again, with heads truncated: still never wrong.
      ExpectSubset(Play(TruncateHeads(RandomSplits(s, 7, 300), head)), want, what + " split");
    }
  }
}

TEST(RedisFixtures, GarbageEventsNeverCauseWrongRecords) {
  std::mt19937 rng(42);
  for (const auto& name : {"sync_basic", "resp3_raw", "pipeline50", "pubsub"}) {
    Session s = LoadFixture(name);
    Replay want = Play(s);
    for (size_t at = 0; at <= s.size(); ++at) {
      for (Direction dir : {Direction::kEgress, Direction::kIngress}) {
        Chunk junk;
        junk.conn = at < s.size() ? s[at].conn : 1;
        junk.dir = dir;
        junk.ts = at < s.size() ? s[at].ts : s.back().ts;
        size_t n = 1 + rng() % 200;
        for (size_t k = 0; k < n; ++k) junk.bytes.push_back(static_cast<char>(rng()));
        Session damaged = s;
        damaged.insert(damaged.begin() + at, junk);
        Replay got = Play(damaged);
        ExpectSubset(got, want, std::string(name) + " junk at " + std::to_string(at));
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
  // Pure noise, either way round, seen from the start or not.
  for (uint32_t seed = 0; seed < 200; ++seed) {
    std::mt19937 r2(seed);
    Session noise;
    for (int i = 0; i < 20; ++i) {
      Chunk c;
      c.conn = 1;
      c.dir = r2() % 2 ? Direction::kEgress : Direction::kIngress;
      c.ts = i;
      size_t n = r2() % 300;
      for (size_t k = 0; k < n; ++k) c.bytes.push_back(static_cast<char>(r2()));
      c.head = r2() % 2 ? SIZE_MAX : r2() % (n + 1);
      noise.push_back(std::move(c));
    }
    Play(noise, true, true);
    Play(noise, false, true);
  }
}

TEST(RedisFixtures, StreamCutShortClosesWhatWaits) {
  for (const auto& name : {"sync_basic", "pipeline50", "transaction", "resp3_raw", "big_value"}) {
    Session s = LoadFixture(name);
    Replay want = Play(s);
    for (size_t n = 0; n <= s.size(); ++n) {
      Session prefix(s.begin(), s.begin() + n);
      Replay got = Play(prefix, true, /*close_at_end=*/true);
      // Records before the cut are exact; commands still waiting are closed.
      for (auto& [conn, recs] : got.records) {
        size_t replied = 0;
        for (const auto& rec : recs) {
          if (rec.outcome == Outcome::kClosed) continue;
          ASSERT_TRUE(SameRecord(rec, want.records.at(conn)[replied])) << name << " " << n;
          ++replied;
        }
      }
    }
  }
}

TEST(RedisFixtures, MidStreamAttachNeverPairsWronglyAndRecovers) {
  for (const auto& name : kFixtures) {
    Session all = LoadFixture(name);
    Replay full = Play(all);
    for (const auto& [conn, want_recs] : full.records) {
      Session s = OneConn(all, conn);
      Replay want = Play(s);
      for (size_t i = 0; i < s.size(); ++i) {
        // Round trips (a write then a read) entirely after the attach chunk.
        int round_trips = 0;
        for (size_t j = i + 1; j + 1 < s.size(); ++j) {
          if (s[j].dir == Direction::kEgress && s[j + 1].dir == Direction::kIngress) ++round_trips;
        }
        for (size_t off : Cuts(s[i].bytes.size() + 1)) {
          off -= 1;  // 0..len-1
          std::string what = name + " conn " + std::to_string(conn) + " attach chunk " +
                             std::to_string(i) + "+" + std::to_string(off);
          Replay got = Play(AttachAt(s, i, off), /*from_start=*/false);
          ExpectSubset(got, want, what);
          if (::testing::Test::HasFatalFailure()) return;
          // Pairing recovers: with two later round trips, the last command
          // is recorded as in the full capture.
          if (round_trips >= 2 && !want_recs.empty()) {
            ASSERT_FALSE(got.records[conn].empty()) << what;
            EXPECT_TRUE(SameRecord(got.records[conn].back(), want_recs.back())) << what;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace perfd::protocols::redis::testing
