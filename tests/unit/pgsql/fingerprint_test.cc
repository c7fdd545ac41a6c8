// Fingerprints: literals replaced, structure kept, stable ids.
#include "daemon/protocols/pgsql/fingerprint.h"

#include <gtest/gtest.h>

namespace perfd::pgsql {
namespace {

std::string Fp(std::string_view s) { return Fingerprint(s).fingerprint; }

TEST(PgsqlFingerprint, LiteralsBecomePlaceholders) {
  EXPECT_EQ(Fp("select * from t where a = 'x''y' and b = 42 and c = 1.5e-3"),
            "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?");
  EXPECT_EQ(Fp("SELECT E'a\\'b', $$raw 'x'$$, $tag$ $$ $tag$, B'0101', X'ff', U&'d\\0061t'"),
            "SELECT ?, ?, ?, ?, ?, ?");
  EXPECT_EQ(Fp("SELECT * FROM t WHERE flag = true AND x = -5 AND y = a-1"),
            "SELECT * FROM t WHERE flag = ? AND x = ? AND y = a - ?");
  EXPECT_EQ(Fp("SELECT a FROM t WHERE id = $1 AND b = $12"),
            "SELECT a FROM t WHERE id = $1 AND b = $12");
}

TEST(PgsqlFingerprint, ListsCollapse) {
  EXPECT_EQ(Fp("SELECT 1 FROM t WHERE id IN ($1, $2, $3)"),
            Fp("select 1 from t where id in (1,2)"));
  EXPECT_EQ(Fp("SELECT 1 FROM t WHERE id IN ($1, $2, $3)"), "SELECT ? FROM t WHERE id IN (...)");
  EXPECT_EQ(Fp("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"),
            "INSERT INTO t(a, b) VALUES (?, ?), ...");
  EXPECT_EQ(Fp("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')"),
            Fp("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"));
  // A subquery is not a list.
  EXPECT_EQ(Fp("SELECT 1 FROM t WHERE id IN (SELECT id FROM u)"),
            "SELECT ? FROM t WHERE id IN (SELECT id FROM u)");
}

TEST(PgsqlFingerprint, CommentsWhitespaceAndCase) {
  EXPECT_EQ(Fp("  SELECT  a,b\n FROM   t -- why\n WHERE /* a /* nested */ c */ x=1;"),
            "SELECT a, b FROM t WHERE x = ?");
  EXPECT_EQ(Fp("select A from \"Mixed\".T"), "SELECT a FROM \"Mixed\".t");
  EXPECT_EQ(Fingerprint("select a from t").id, Fingerprint("SELECT  a FROM t").id);
}

TEST(PgsqlFingerprint, TruncatedTextHidesTheCutLiteral) {
  auto f = Fingerprint("SELECT * FROM t WHERE secret = 'abcdef", true);
  EXPECT_EQ(f.fingerprint, "SELECT * FROM t WHERE secret = ? /*truncated*/");
  EXPECT_EQ(Fingerprint("SELECT $$unterminated secret", true).fingerprint,
            "SELECT ? /*truncated*/");
}

TEST(PgsqlFingerprint, OperationTableHousekeeping) {
  auto f = Fingerprint("WITH x AS (SELECT 1) UPDATE public.accounts SET a = 1");
  EXPECT_EQ(f.operation, "UPDATE");
  EXPECT_EQ(f.table, "public.accounts");
  EXPECT_EQ(Fingerprint("SELECT * FROM generate_series(1, 3)").table, "");
  EXPECT_EQ(Fingerprint("DELETE FROM \"Items\" WHERE id = 1").table, "Items");
  for (auto hk : {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "SET x = 1", "RESET ALL", "SHOW x",
                  "DISCARD ALL", "UNLISTEN *", "LISTEN ch", "SELECT pg_advisory_unlock_all()",
                  "SELECT t.oid FROM pg_catalog.pg_type t"})
    EXPECT_TRUE(Fingerprint(hk).housekeeping) << hk;
  EXPECT_FALSE(Fingerprint("SELECT * FROM orders").housekeeping);
}

TEST(PgsqlFingerprint, TagsAndIds) {
  EXPECT_EQ(TagRows("SELECT 5"), 5);
  EXPECT_EQ(TagRows("INSERT 0 12"), 12);
  EXPECT_EQ(TagRows("CREATE TABLE"), -1);
  EXPECT_EQ(TagOperation("INSERT 0 1"), "INSERT");
  EXPECT_EQ(TagOperation("CLOSE CURSOR ALL"), "CLOSE CURSOR ALL");
  EXPECT_EQ(FingerprintId(""), 14695981039346656037ull);  // FNV-1a offset basis
  EXPECT_EQ(FingerprintId("a"), 0xaf63dc4c8601ec8cull);
}

}  // namespace
}  // namespace perfd::pgsql
