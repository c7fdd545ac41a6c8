// Framing of one direction: what is kept of each message, gaps, resync.
#include "daemon/protocols/pgsql/parse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/pgsql/msg.h"

namespace perfd::pgsql::testing {
namespace {

struct Collect : Framer::Listener {
  void OnMessage(Side, const Message& m) override {
    types += m.type;
    bodies.emplace_back(m.body);
    truncated.push_back(m.truncated);
  }
  void OnLost(Side, uint64_t) override { ++lost; }
  std::string types;
  std::vector<std::string> bodies;
  std::vector<bool> truncated;
  int lost = 0;
};

protocols::DataEvent Ev(const std::string& head, uint64_t total = 0) {
  protocols::DataEvent e;
  e.head = head;
  e.total = total ? total : head.size();
  return e;
}

TEST(PgsqlParse, KeepsNamesButNeverBindParameters) {
  Limits lim;
  Stats st;
  Framer f(Side::kFrontend, lim, st);
  Collect c;
  std::string b = Bind("stmt_1", "secret-value");
  f.Feed(Ev(b + Execute() + Sync()), c);  // unsynced start: a transfer begins on a boundary
  ASSERT_EQ(c.types, "BES");
  EXPECT_EQ(c.bodies[0], Cstr("") + Cstr("stmt_1"));
  EXPECT_EQ(c.bodies[0].find("secret"), std::string::npos);
}

TEST(PgsqlParse, ErrorResponseKeepsOnlyTheSqlstate) {
  Limits lim;
  Stats st;
  Framer f(Side::kBackend, lim, st);
  Collect c;
  f.Feed(Ev(Error("23505", "Key (email)=(a@b.c) already exists.") + Z()), c);
  ASSERT_EQ(c.types, "EZ");
  EXPECT_EQ(c.bodies[0], "23505");
}

TEST(PgsqlParse, ACutSqlstateIsNoSqlstate) {
  Limits lim;
  Stats st;
  Framer f(Side::kBackend, lim, st);
  Collect c;
  f.Feed(Ev(Z()), c);
  std::string e = Error("42601", "x");
  size_t cut = e.find("4260") + 4;  // the last character of the code not captured
  f.Feed(Ev(e.substr(0, cut), e.size()), c);
  ASSERT_EQ(c.types, "ZE");
  EXPECT_EQ(c.bodies[1], "");
}

TEST(PgsqlParse, QueryTextCappedAndMarked) {
  Limits lim;
  lim.max_text = 16;
  Stats st;
  Framer f(Side::kFrontend, lim, st);
  Collect c;
  f.Feed(Ev(Query("SELECT * FROM a_rather_long_table_name") + Sync()), c);
  ASSERT_EQ(c.types, "QS");
  EXPECT_EQ(c.bodies[0], "SELECT * FROM a_");
  EXPECT_TRUE(c.truncated[0]);
}

TEST(PgsqlParse, GapsInsideAMessageAreSkippedByCount) {
  Limits lim;
  Stats st;
  Framer f(Side::kBackend, lim, st);
  Collect c;
  std::string rows;
  for (int i = 0; i < 1000; ++i) rows += DataRow("value " + std::to_string(i));
  std::string all = Msg('T', std::string(30, 'x')) + rows + Complete("SELECT 1000") + Z();
  // One big read whose head is captured, then reads where only the header
  // of a huge DataRow is: 10 MB pass without losing the framing.
  f.Feed(Ev(all), c);
  std::string big = Msg('D', std::string(10, 'y'));
  big.replace(1, 4, Be32(10 * 1000 * 1000 + 4));
  f.Feed(Ev(big.substr(0, 9), 4 * 1024), c);
  f.Feed(Ev("", 10 * 1000 * 1000 + 5 - 4 * 1024), c);
  f.Feed(Ev(Complete("SELECT 1") + Z()), c);
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.types.size(), 1u + 1000 + 2 + 1 + 2);
  EXPECT_EQ(c.types.substr(c.types.size() - 3), "DCZ");
  EXPECT_EQ(st.bytes_uncaptured, 10u * 1000 * 1000 - 4);
}

TEST(PgsqlParse, HeaderInAGapLosesTheDirectionUntilResync) {
  Limits lim;
  Stats st;
  Framer f(Side::kBackend, lim, st);
  Collect c;
  std::string resp = Complete("SELECT 1") + Z();
  f.Feed(Ev(Z()), c);
  f.Feed(Ev(resp.substr(0, 4), resp.size()), c);  // C's header cut: lost
  EXPECT_EQ(c.lost, 1);
  // Mid-message bytes, then a ReadyForQuery anchor further in.
  std::string junk = std::string("\x01\x02garbage-bytes", 15);
  f.Feed(Ev(junk + Z('T')), c);
  EXPECT_EQ(c.types, "ZZ");
  EXPECT_EQ(st.resyncs, 1u);
}

TEST(PgsqlParse, ImplausibleHeaderIsADesync) {
  Limits lim;
  Stats st;
  Framer f(Side::kBackend, lim, st);
  Collect c;
  f.Feed(Ev(Z()), c);
  f.Feed(Ev(Msg('Z', "II")), c);  // ReadyForQuery is always 5 bytes
  EXPECT_EQ(c.types, "Z");
  EXPECT_EQ(c.lost, 1);
}

TEST(PgsqlParse, StartupPhase) {
  Limits lim;
  Stats st;
  Framer f(Side::kFrontend, lim, st);
  Collect c;
  std::string ssl = Be32(8) + Be32(kSslRequest);
  std::string params = Cstr("user") + Cstr("u") + std::string(1, '\0');
  std::string startup = Be32(8 + params.size()) + Be32(kProtocol3) + params;
  f.Feed(Ev(ssl), c);
  f.Feed(Ev(startup + Query("SELECT 1")), c);
  EXPECT_EQ(c.types, std::string("\0\0Q", 3));
}

}  // namespace
}  // namespace perfd::pgsql::testing
