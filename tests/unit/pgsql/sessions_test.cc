// Recorded real-driver sessions (asyncpg, psycopg 3, PostgreSQL 15) replayed
// through the decoder: the exact records, then the same sessions split,
// truncated, cut short, attached to mid-stream and mixed with garbage.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/pgsql/fixture.h"

namespace perfd::pgsql::testing {
namespace {

using protocols::Direction;

const std::vector<std::string> kFixtures = {"asyncpg_basic",  "asyncpg_copy", "asyncpg_large",
                                            "asyncpg_listen", "asyncpg_pool", "psycopg_basic",
                                            "psycopg_copy",   "ssl_refused",  "ssl_accepted"};

std::vector<std::string> Lines(const std::vector<QueryRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(Describe(r));
  return out;
}

// Everything a record says, timing included.
std::string Full(const QueryRecord& r) {
  return Describe(r) + " @" + std::to_string(r.start_ns) + "-" + std::to_string(r.end_ns);
}
std::vector<std::string> FullLines(const std::vector<QueryRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(Full(r));
  return out;
}

TEST(PgsqlSessions, AsyncpgBasic) {
  auto r = Replay(WholeEvents(LoadFixture("asyncpg_basic")));
  EXPECT_EQ(Lines(r.records),
            (std::vector<std::string>{
                "Q CREATE TABLE |  | CREATE TABLE IF NOT EXISTS users(id int PRIMARY KEY, name "
                "text, score float8) | rows=0 x1",
                "Q INSERT | users | INSERT INTO users VALUES (?, ?, ?), ... | rows=2 x1",
                "X SELECT | users | SELECT id, name FROM users WHERE id = $1 OR name = $2 | rows=2 "
                "x1 stmt=__asyncpg_stmt_1__",
                // fetchrow: Execute with a row limit, answered by PortalSuspended.
                "X SELECT | users | SELECT name FROM users WHERE id = $1 | rows=0 x1 "
                "stmt=__asyncpg_stmt_2__",
                "X SELECT | users | SELECT name FROM users WHERE id = $1 | rows=1 x1 "
                "stmt=__asyncpg_stmt_2__",
                "X SELECT | users | SELECT name FROM users WHERE id = $1 | rows=1 x1 "
                "stmt=__asyncpg_stmt_2__",
                // executemany: five Bind/Execute, one Sync, one record.
                "X INSERT | users | INSERT INTO users(id, name, score) VALUES ($1, $2, $3) | "
                "rows=5 x5 stmt=__asyncpg_stmt_3__",
                "X INSERT | users | INSERT INTO users(id, name) VALUES ($1, $2) | rows=-1 x1 "
                "err=23505 stmt=__asyncpg_stmt_4__",
                // A Parse that fails (Parse/Describe/Flush, then Sync) is a record too.
                "X SELEC |  | selec ? | rows=-1 x1 err=42601 stmt=__asyncpg_stmt_5__",
                "Q BEGIN |  | BEGIN | rows=0 x1 hk",
                "X UPDATE | users | UPDATE users SET score = score + ? WHERE id = $1 | rows=1 x1 "
                "stmt=__asyncpg_stmt_6__",
                "X SELECT | users | SELECT count(*) FROM users WHERE id IN (...) | rows=1 x1 "
                "stmt=__asyncpg_stmt_7__",
                "Q COMMIT |  | COMMIT | rows=0 x1 hk",
                "Q DELETE | users | DELETE FROM users WHERE id >= ? | rows=5 x1",
            }));
  EXPECT_EQ(r.stats.desyncs, 0u);
  EXPECT_EQ(r.stats.unpaired_responses, 0u);
  EXPECT_EQ(r.stats.unanswered, 0u);
}

TEST(PgsqlSessions, AsyncpgCopyLargeListenPool) {
  EXPECT_EQ(
      Lines(Replay(WholeEvents(LoadFixture("asyncpg_copy"))).records),
      (std::vector<std::string>{
          "Q CREATE TABLE |  | CREATE TABLE IF NOT EXISTS items(id int, label text) | rows=0 x1",
          "Q COPY | items | COPY \"items\" FROM STDIN (format binary) | rows=100 x1",
          "Q COPY | items | COPY \"items\" TO STDOUT (format ?) | rows=100 x1",
          "Q DROP TABLE |  | DROP TABLE items | rows=0 x1",
      }));
  EXPECT_EQ(Lines(Replay(WholeEvents(LoadFixture("asyncpg_large"))).records),
            (std::vector<std::string>{
                "X SELECT |  | SELECT g, ? || g FROM generate_series(?, $1::int) g | rows=10000 x1 "
                "stmt=__asyncpg_stmt_9__",
            }));
  // The NotificationResponse arrives between CommandComplete and ReadyForQuery.
  EXPECT_EQ(Lines(Replay(WholeEvents(LoadFixture("asyncpg_listen"))).records),
            (std::vector<std::string>{
                "X LISTEN |  | LISTEN \"jobs\" | rows=0 x1 stmt=__asyncpg_stmt_a__ hk",
                "Q NOTIFY |  | NOTIFY jobs, ? | rows=0 x1",
                "X SELECT |  | SELECT ? | rows=1 x1 stmt=__asyncpg_stmt_b__",
            }));
  // Pool release: asyncpg's reset query is housekeeping.
  EXPECT_EQ(Lines(Replay(WholeEvents(LoadFixture("asyncpg_pool"))).records),
            (std::vector<std::string>{
                "X SELECT |  | SELECT $1::int + ? | rows=1 x1 stmt=__asyncpg_stmt_c__",
                "Q SELECT |  | SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL | "
                "rows=1 x1 hk",
                "X SELECT |  | SELECT $1::int + ? | rows=1 x1 stmt=__asyncpg_stmt_c__",
                "Q SELECT |  | SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL | "
                "rows=1 x1 hk",
            }));
}

TEST(PgsqlSessions, Psycopg) {
  const std::string sel = "X SELECT | orders | SELECT total FROM orders WHERE id = $1 | rows=";
  EXPECT_EQ(
      Lines(Replay(WholeEvents(LoadFixture("psycopg_basic"))).records),
      (std::vector<std::string>{
          "Q CREATE TABLE |  | CREATE TABLE IF NOT EXISTS orders(id int PRIMARY KEY, total "
          "numeric, note text) | rows=0 x1",
          "Q INSERT | orders | INSERT INTO orders VALUES (?, ?, ?), ... | rows=2 x1",
          "Q SELECT | orders | SELECT * FROM orders WHERE id IN (...) AND note <> ? | rows=2 x1",
          // Unnamed statements until the prepare threshold, then _pg3_0.
          sel + "0 x1",
          sel + "1 x1",
          sel + "1 x1",
          sel + "0 x1",
          sel + "0 x1",
          sel + "0 x1 stmt=_pg3_0",
          sel + "0 x1 stmt=_pg3_0",
          "X INSERT | orders | INSERT INTO orders VALUES ($1, $2, $3) | rows=-1 x1 err=23505",
          "X BEGIN |  | BEGIN | rows=0 x1 hk",
          "X UPDATE | orders | UPDATE orders SET total = total + ? WHERE id = $1 | rows=1 x1",
          "Q SELECT | orders | SELECT count(*) FROM orders | rows=1 x1",
          "X COMMIT |  | COMMIT | rows=0 x1 hk",
          "Q SELECT |  | SELECT ? | rows=1 x1",
      }));
  EXPECT_EQ(
      Lines(Replay(WholeEvents(LoadFixture("psycopg_copy"))).records),
      (std::vector<std::string>{
          "Q CREATE TABLE |  | CREATE TABLE IF NOT EXISTS lines(id int, body text) | rows=0 x1",
          "Q COPY | lines | COPY lines(id, body) FROM STDIN | rows=50 x1",
          "Q COPY | lines | COPY lines TO STDOUT | rows=50 x1",
          "Q DROP TABLE |  | DROP TABLE lines | rows=0 x1",
      }));
}

TEST(PgsqlSessions, Tls) {
  auto refused = Replay(WholeEvents(LoadFixture("ssl_refused")));
  EXPECT_EQ(refused.encrypted, 0);
  EXPECT_EQ(Lines(refused.records),
            (std::vector<std::string>{"Q SELECT |  | SELECT ? | rows=1 x1"}));
  auto accepted = Replay(WholeEvents(LoadFixture("ssl_accepted")));
  EXPECT_EQ(accepted.encrypted, 1);
  EXPECT_EQ(accepted.stats.encrypted, 1u);
  EXPECT_TRUE(accepted.records.empty());
  EXPECT_EQ(accepted.stats.desyncs, 0u);  // TLS bytes are not parsed at all
}

TEST(PgsqlSessions, Timing) {
  // start: the write that carried Bind/Execute/Sync; end: the read that
  // carried the last DataRows and CommandComplete.
  auto chunks = LoadFixture("asyncpg_large");
  auto r = Replay(WholeEvents(chunks));
  ASSERT_EQ(r.records.size(), 1u);
  uint64_t start = 0, end = 0;
  for (const Chunk& c : chunks) {
    if (c.dir == Direction::kEgress && c.bytes[0] == 'B') start = c.ts_ns;
    if (c.dir == Direction::kIngress && c.bytes.find("SELECT 10000") != std::string::npos)
      end = c.ts_ns;
  }
  EXPECT_EQ(r.records[0].start_ns, start);
  EXPECT_EQ(r.records[0].end_ns, end);
  // Every record of every session starts at a write and ends at a read.
  for (const auto& name : kFixtures) {
    auto ch = LoadFixture(name);
    for (const auto& q : Replay(WholeEvents(ch)).records) {
      bool s = false, e = false;
      for (const Chunk& c : ch) {
        s |= c.dir == Direction::kEgress && c.ts_ns == q.start_ns;
        e |= c.dir == Direction::kIngress && c.ts_ns == q.end_ns;
      }
      EXPECT_TRUE(s && e) << name << ": " << Full(q);
      EXPECT_LT(q.start_ns, q.end_ns) << name;
    }
  }
}

// Privacy: no literal, bound parameter, row or error detail of the sessions
// appears in any record.
TEST(PgsqlSessions, NoValuesInRecords) {
  const std::vector<std::string> values = {"alice", "bob",  "dup",  "hello", "it''s", "it's",
                                           "a\\nb", "row ", "9.99", "1.5",   "Key (", "u0",
                                           "l1",    "b1",   "41",   "10000", "x$$"};
  for (const auto& name : kFixtures) {
    for (const auto& q : Replay(WholeEvents(LoadFixture(name))).records) {
      for (const auto& v : values) {
        for (const std::string* f : {&q.fingerprint, &q.operation, &q.table, &q.sqlstate})
          EXPECT_EQ(f->find(v), std::string::npos) << name << ": '" << v << "' in " << Full(q);
      }
    }
  }
}

std::vector<Event> SplitAt(const std::vector<Chunk>& chunks, size_t chunk, size_t at) {
  std::vector<Event> ev;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    if (i == chunk && at > 0 && at < c.bytes.size()) {
      ev.push_back({c.dir, c.ts_ns, c.bytes.substr(0, at), at});
      ev.push_back({c.dir, c.ts_ns, c.bytes.substr(at), c.bytes.size() - at});
    } else {
      ev.push_back({c.dir, c.ts_ns, c.bytes, c.bytes.size()});
    }
  }
  return ev;
}

TEST(PgsqlSessions, EveryByteBoundarySplitGivesTheSameRecords) {
  for (const auto& name : kFixtures) {
    auto chunks = LoadFixture(name);
    auto want = FullLines(Replay(WholeEvents(chunks)).records);
    size_t total = 0;
    for (const auto& c : chunks) total += c.bytes.size();
    size_t step = total > 20000 ? 61 : 1;  // a dense sample of the 270 KB session
    for (size_t i = 0; i < chunks.size(); ++i)
      for (size_t at = 1; at < chunks[i].bytes.size(); at += step) {
        auto got = Replay(SplitAt(chunks, i, at));
        ASSERT_EQ(FullLines(got.records), want) << name << " chunk " << i << " at " << at;
        ASSERT_EQ(got.stats.desyncs, 0u) << name << " chunk " << i << " at " << at;
      }
  }
}

TEST(PgsqlSessions, RandomSplitsGiveTheSameRecords) {
  std::mt19937 rng(20261130);
  for (const auto& name : kFixtures) {
    auto chunks = LoadFixture(name);
    auto want = FullLines(Replay(WholeEvents(chunks)).records);
    for (int round = 0; round < 40; ++round) {
      std::vector<Event> ev;
      for (const Chunk& c : chunks) {
        size_t pos = 0;
        while (pos < c.bytes.size()) {
          size_t n = std::uniform_int_distribution<size_t>(1, 64)(rng);
          n = std::min(n, c.bytes.size() - pos);
          ev.push_back({c.dir, c.ts_ns, c.bytes.substr(pos, n), n});
          pos += n;
        }
      }
      ASSERT_EQ(FullLines(Replay(ev).records), want) << name << " round " << round;
    }
  }
}

// Heads cut to what the kernel would capture: the rest of each transfer is a
// gap. Same queries, same start and end; rows become unknown (-1) when the
// CommandComplete tag was not captured, never wrong; the SQLSTATE may be lost
// with its bytes; text may be truncated (then the fingerprint is marked).
TEST(PgsqlSessions, TruncatedHeadsKeepQueriesAndLatencies) {
  // (At 16 bytes an ErrorResponse header can fall in the gap with its
  // ReadyForQuery in the next read: the end is then that read.)
  for (size_t head : {24u, 64u, 100u, 300u, 512u, 1000u, 4096u}) {
    for (const auto& name : kFixtures) {
      auto chunks = LoadFixture(name);
      auto want = Replay(WholeEvents(chunks)).records;
      std::vector<Event> ev;
      for (const Chunk& c : chunks)
        ev.push_back({c.dir, c.ts_ns, c.bytes.substr(0, head), c.bytes.size()});
      auto got = Replay(ev).records;
      ASSERT_EQ(got.size(), want.size()) << name << " head " << head;
      for (size_t i = 0; i < got.size(); ++i) {
        SCOPED_TRACE(name + " head " + std::to_string(head) + ": " + Full(want[i]) + " vs " +
                     Full(got[i]));
        EXPECT_EQ(got[i].start_ns, want[i].start_ns);
        EXPECT_EQ(got[i].end_ns, want[i].end_ns);
        EXPECT_TRUE(got[i].rows == want[i].rows || got[i].rows == -1);
        EXPECT_TRUE(got[i].sqlstate == want[i].sqlstate || got[i].sqlstate.empty());
        if (!got[i].text_truncated) {
          EXPECT_EQ(got[i].fingerprint, want[i].fingerprint);
        }
        if (head == 4096 && name != "asyncpg_large") {
          EXPECT_EQ(Full(got[i]), Full(want[i]));
        }
      }
    }
  }
}

// A stream cut short: no crash, and what was reported is a prefix of the
// full session's records.
TEST(PgsqlSessions, TruncatedStreamsReportAPrefix) {
  for (const auto& name : kFixtures) {
    auto chunks = LoadFixture(name);
    auto want = FullLines(Replay(WholeEvents(chunks)).records);
    for (size_t n = 0; n <= chunks.size(); ++n) {
      for (size_t cut : {size_t{0}, size_t{3}, size_t{9}}) {
        auto ev = WholeEvents(std::vector<Chunk>(chunks.begin(), chunks.begin() + n));
        if (!ev.empty() && cut > 0 && cut < ev.back().head.size()) {
          ev.back().head.resize(cut);
          ev.back().total = cut;
        }
        auto got = FullLines(Replay(ev).records);
        ASSERT_LE(got.size(), want.size()) << name << " " << n;
        EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin())) << name << " " << n;
      }
    }
  }
}

// Message boundaries of one direction of a session (reference framing).
std::vector<std::pair<size_t, size_t>> Boundaries(const std::vector<Chunk>& chunks, Direction d) {
  std::string s;
  std::vector<size_t> chunk_start;
  for (const Chunk& c : chunks) {
    chunk_start.push_back(c.dir == d ? s.size() : SIZE_MAX);
    if (c.dir == d) s += c.bytes;
  }
  std::vector<size_t> offs;
  size_t pos = 0;
  bool untyped = d == Direction::kEgress;
  if (d == Direction::kIngress && (s.rfind("N", 0) == 0 || s.rfind("S", 0) == 0) && s.size() > 1 &&
      s[1] != 0) {
    offs.push_back(0);  // the one-byte answer to SSLRequest
    pos = 1;
  }
  while (pos + 5 <= s.size()) {
    offs.push_back(pos);
    if (untyped) {
      uint32_t len = (uint8_t(s[pos]) << 24) | (uint8_t(s[pos + 1]) << 16) |
                     (uint8_t(s[pos + 2]) << 8) | uint8_t(s[pos + 3]);
      untyped = s.compare(pos + 4, 4, std::string("\x04\xd2\x16\x2f", 4)) == 0;
      pos += len;
      continue;
    }
    uint32_t len = (uint8_t(s[pos + 1]) << 24) | (uint8_t(s[pos + 2]) << 16) |
                   (uint8_t(s[pos + 3]) << 8) | uint8_t(s[pos + 4]);
    pos += 1 + len;
  }
  std::vector<std::pair<size_t, size_t>> out;  // (chunk, offset in chunk)
  for (size_t off : offs)
    for (size_t i = 0; i < chunks.size(); ++i)
      if (chunk_start[i] != SIZE_MAX && off >= chunk_start[i] &&
          off < chunk_start[i] + chunks[i].bytes.size())
        out.push_back({i, off - chunk_start[i]});
  return out;
}

// Attached at (chunk, offset): the records of requests sent after the
// decoder saw a response and then a new request are exact, except that
// statements prepared before attach are unresolved (never dropped).
void CheckAttach(const std::string& name, const std::vector<Chunk>& chunks,
                 const std::vector<QueryRecord>& want, size_t chunk, size_t off) {
  std::vector<Event> ev;
  ev.push_back({chunks[chunk].dir, chunks[chunk].ts_ns, chunks[chunk].bytes.substr(off),
                chunks[chunk].bytes.size() - off});
  for (size_t i = chunk + 1; i < chunks.size(); ++i)
    ev.push_back({chunks[i].dir, chunks[i].ts_ns, chunks[i].bytes, chunks[i].bytes.size()});
  auto got = Replay(ev).records;
  // A response seen, then a new request: the decoder is in step from here.
  uint64_t settled = UINT64_MAX;
  bool response = false;
  for (size_t i = chunk + 1; i < chunks.size(); ++i) {
    if (chunks[i].dir == Direction::kIngress) response = true;
    if (chunks[i].dir == Direction::kEgress && response) {
      settled = chunks[i].ts_ns;
      break;
    }
  }
  std::vector<const QueryRecord*> w, g;
  for (const auto& q : want)
    if (q.start_ns >= settled) w.push_back(&q);
  for (const auto& q : got)
    if (q.start_ns >= settled) g.push_back(&q);
  std::string where =
      name + " attach at chunk " + std::to_string(chunk) + "+" + std::to_string(off);
  std::string gs, ws;
  for (auto* q : g) gs += Full(*q) + "\n";
  for (auto* q : w) ws += Full(*q) + "\n";
  ASSERT_EQ(g.size(), w.size()) << where << "\ngot:\n" << gs << "want:\n" << ws;
  for (size_t i = 0; i < g.size(); ++i) {
    QueryRecord expect = *w[i];
    if (g[i]->unresolved && !expect.statement.empty()) {
      EXPECT_EQ(g[i]->fingerprint, "(prepared before attach) " + expect.statement) << where;
      EXPECT_EQ(g[i]->statement, expect.statement) << where;
      expect.fingerprint = g[i]->fingerprint;
      expect.table = "";
      expect.housekeeping = false;
      expect.unresolved = true;
      // Without its text, the operation is known only from a command tag.
      if (g[i]->operation.empty()) expect.operation = "";
    }
    EXPECT_EQ(Full(*g[i]), Full(expect)) << where;
  }
}

TEST(PgsqlSessions, AttachAtEveryMessageBoundary) {
  for (const auto& name : kFixtures) {
    auto chunks = LoadFixture(name);
    auto want = Replay(WholeEvents(chunks)).records;
    for (Direction d : {Direction::kEgress, Direction::kIngress}) {
      auto b = Boundaries(chunks, d);
      size_t step = b.size() > 2000 ? 37 : 1;
      for (size_t k = 0; k < b.size(); k += step)
        CheckAttach(name, chunks, want, b[k].first, b[k].second);
    }
  }
}

TEST(PgsqlSessions, AttachAtRandomOffsets) {
  std::mt19937 rng(7);
  for (const auto& name : kFixtures) {
    auto chunks = LoadFixture(name);
    auto want = Replay(WholeEvents(chunks)).records;
    for (int round = 0; round < 60; ++round) {
      size_t chunk = std::uniform_int_distribution<size_t>(0, chunks.size() - 1)(rng);
      size_t off = std::uniform_int_distribution<size_t>(0, chunks[chunk].bytes.size() - 1)(rng);
      CheckAttach(name, chunks, want, chunk, off);
    }
  }
}

TEST(PgsqlSessions, GarbageNeverCrashesAndStaysBounded) {
  std::mt19937 rng(99);
  for (int round = 0; round < 200; ++round) {
    std::vector<Event> ev;
    for (int i = 0; i < 50; ++i) {
      std::string b(std::uniform_int_distribution<size_t>(1, 300)(rng), '\0');
      // Bias towards protocol-looking bytes: type letters and small lengths.
      for (char& c : b) {
        int k = std::uniform_int_distribution<int>(0, 9)(rng);
        c = k < 3 ? "QPBESDCZTd12"[rng() % 12] : k < 6 ? 0 : static_cast<char>(rng());
      }
      uint64_t total = b.size() + (rng() % 4 == 0 ? rng() % 100000 : 0);
      ev.push_back({rng() % 2 ? Direction::kEgress : Direction::kIngress, uint64_t(i), b, total});
    }
    Limits lim;
    auto r = Replay(ev, lim);
    EXPECT_LE(r.records.size(), 50u * 64u);
    for (const auto& q : r.records) EXPECT_LE(q.fingerprint.size(), lim.max_text + 64);
  }
}

}  // namespace
}  // namespace perfd::pgsql::testing
