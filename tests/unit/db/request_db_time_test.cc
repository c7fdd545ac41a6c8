// DB time of one request: summed, and as wall time covered (gather counted once).
#include "daemon/db/request_db_time.h"

#include <gtest/gtest.h>

#include "tests/unit/db/db_call_maker.h"

namespace perfd::db {
namespace {

using testing::Call;
using testing::kMs;

TEST(RequestDbTimeTest, OverlappingCallsAreCountedOnceInWallTime) {
  // gather of three 20 ms calls started 1 ms apart, then one 5 ms call.
  const RequestDbTime t = MeasureRequestDbTime(
      {Call(1, 0, 20), Call(1, 1, 21), Call(1, 2, 22), Call(2, 30, 35, "", true)});
  EXPECT_EQ(t.calls, 4u);
  EXPECT_EQ(t.queries, 3u);  // housekeeping is a call, not a query
  EXPECT_EQ(t.call_ns, 65 * kMs);
  EXPECT_EQ(t.wall_ns, 27 * kMs);
}

TEST(RequestDbTimeTest, NoCallsIsZero) {
  const RequestDbTime t = MeasureRequestDbTime({});
  EXPECT_EQ(t.calls, 0u);
  EXPECT_EQ(t.wall_ns, 0u);
}

TEST(RequestDbTimeTest, NestedAndTouchingIntervals) {
  const RequestDbTime t = MeasureRequestDbTime({Call(1, 0, 10), Call(1, 2, 4), Call(1, 10, 12)});
  EXPECT_EQ(t.wall_ns, 12 * kMs);
  EXPECT_EQ(t.call_ns, 14 * kMs);
}

}  // namespace
}  // namespace perfd::db
