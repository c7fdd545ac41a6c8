// Ring-buffer records (header + lines exactly as bpf/http_trace.bpf.c lays
// them out) through the tracker to the sink.
#include "daemon/protocols/http/http_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/http/fake_sink.h"

namespace perfd::http {
namespace {

using testing::FakeSink;

constexpr uint64_t kIdle = 5'000'000'000;  // 5 s
constexpr uint64_t kSec = 1'000'000'000;

struct Line {
  std::string text;
  uint16_t off = 0;
  uint8_t flags = 0;
};

class TrackerTest : public ::testing::Test {
 protected:
  void Send(uint8_t kind, uint32_t tgid, uint64_t conn, uint64_t ts, int64_t ret = 0,
            const std::vector<Line>& lines = {}, uint8_t flags = 0, int32_t fd = 7,
            uint64_t arrival = 0) {
    perfd_http_event e;
    // The kernel does not clear lines[] between events: stale bytes past
    // line_len must never be read.
    std::memset(&e, 'Z', sizeof(e));
    e.h.ts_ns = ts;
    e.h.conn_id = conn;
    e.h.ret = ret;
    e.h.tgid = tgid;
    e.h.tid = tgid;
    e.h.fd = fd;
    e.h.kind = kind;
    e.h.flags = flags;
    e.h.nlines = static_cast<uint8_t>(lines.size());
    e.h.pad = 0;
    e.h.py_root = 0;
    e.h.arrival_ns = arrival;
    for (size_t k = 0; k < lines.size(); ++k) {
      std::memcpy(e.lines[k], lines[k].text.data(), lines[k].text.size());
      e.h.line_len[k] = static_cast<uint8_t>(lines[k].text.size());
      e.h.line_off[k] = lines[k].off;
      e.h.line_flags[k] = lines[k].flags;
    }
    tracker_.OnEvent(e.h, lines.empty() ? nullptr : e.lines);
  }
  void Accept(uint32_t tgid, uint64_t conn, uint64_t ts, int32_t fd = 7) {
    Send(PERFD_EV_ACCEPT, tgid, conn, ts, 0, {}, 0, fd);
  }
  void Read(uint32_t tgid, uint64_t conn, uint64_t ts, int64_t ret,
            const std::vector<Line>& lines = {}, uint8_t flags = 0) {
    Send(PERFD_EV_READ, tgid, conn, ts, ret, lines, flags);
  }
  void Write(uint32_t tgid, uint64_t conn, uint64_t ts, int64_t ret,
             const std::vector<Line>& lines = {}) {
    Send(PERFD_EV_WRITE, tgid, conn, ts, ret, lines);
  }
  void Close(uint32_t tgid, uint64_t conn, uint64_t ts) { Send(PERFD_EV_CLOSE, tgid, conn, ts); }

  FakeSink sink_;
  HttpTracker tracker_{sink_, kIdle};
};

TEST_F(TrackerTest, FdReuseGivesDistinctConnections) {
  Accept(10, 111, 100);
  Read(10, 111, 200, 60, {{"GET /a HTTP/1.1"}});
  Write(10, 111, 300, 100, {{"HTTP/1.1 200 OK"}});
  Close(10, 111, 400);
  Accept(10, 222, 500);  // same fd 7, new conn_id
  Read(10, 222, 600, 60, {{"GET /b HTTP/1.1"}});
  Write(10, 222, 700, 100, {{"HTTP/1.1 500 Internal Server Error"}});
  Close(10, 222, 800);

  ASSERT_EQ(sink_.done.size(), 2u);
  EXPECT_EQ(sink_.done[0].conn_id, 111u);
  EXPECT_EQ(sink_.done[0].path, "/a");
  EXPECT_EQ(sink_.done[0].status, 200);
  EXPECT_EQ(sink_.done[0].start_ns, 200u);
  EXPECT_EQ(sink_.done[0].end_ns, 300u);
  EXPECT_EQ(sink_.done[1].conn_id, 222u);
  EXPECT_EQ(sink_.done[1].path, "/b");
  EXPECT_EQ(sink_.done[1].status, 500);
  EXPECT_EQ(sink_.done[1].start_ns, 600u);
  EXPECT_EQ(sink_.done[1].end_ns, 700u);
  auto s = tracker_.stats();
  EXPECT_EQ(s.accepts, 2u);
  EXPECT_EQ(s.reads, 2u);
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.closes, 2u);
  EXPECT_EQ(s.conns_open, 0u);
  EXPECT_EQ(s.conns_unannounced, 0u);
  EXPECT_EQ(s.stitch.requests_completed, 2u);
}

TEST_F(TrackerTest, SameConnIdInTwoProcessesStaysApart) {
  Accept(10, 333, 100);
  Accept(11, 333, 100);
  Read(10, 333, 200, 60, {{"GET /ten HTTP/1.1"}});
  Read(11, 333, 210, 60, {{"GET /eleven HTTP/1.1"}});
  Write(11, 333, 300, 100, {{"HTTP/1.1 201 Created"}});
  Close(11, 333, 400);
  ASSERT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.done[0].pid, 11u);
  EXPECT_EQ(sink_.done[0].path, "/eleven");
  EXPECT_EQ(sink_.done[0].status, 201);
  EXPECT_EQ(tracker_.connections(), 1u);
}

TEST_F(TrackerTest, AdoptedConnectionStartsAtItsFirstRead) {
  Read(10, 999, 1000, 80, {{"GET /old HTTP/1.1"}}, PERFD_F_ADOPTED);
  Write(10, 999, 2000, 100, {{"HTTP/1.1 200 OK"}});
  Close(10, 999, 3000);
  ASSERT_EQ(sink_.starts.size(), 1u);
  EXPECT_EQ(sink_.starts[0].pid, 10u);
  EXPECT_EQ(sink_.starts[0].conn_id, 999u);
  ASSERT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.done[0].start_ns, 1000u);
  EXPECT_EQ(sink_.done[0].end_ns, 2000u);
  EXPECT_EQ(sink_.done[0].outcome, Outcome::kCompleted);
  auto s = tracker_.stats();
  EXPECT_EQ(s.adopted, 1u);
  EXPECT_EQ(s.conns_unannounced, 1u);
  EXPECT_EQ(s.accepts, 0u);
}

TEST_F(TrackerTest, CloseOfUnknownConnectionIsHarmless) {
  Close(10, 5, 100);
  EXPECT_EQ(tracker_.connections(), 0u);
  EXPECT_EQ(tracker_.stats().closes, 1u);
}

TEST_F(TrackerTest, IdleResponseIsFlushedAndQuietConnectionEvicted) {
  const uint64_t t0 = 100 * kSec;
  Accept(10, 1, t0);
  Read(10, 1, t0 + 10, 60, {{"GET /a HTTP/1.1"}});
  Write(10, 1, t0 + 20, 100, {{"HTTP/1.1 200 OK"}});
  tracker_.FlushIdle(t0 + 20 + kIdle);
  EXPECT_TRUE(sink_.done.empty());
  tracker_.FlushIdle(t0 + 21 + kIdle);
  ASSERT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.done[0].end_ns, t0 + 20);
  EXPECT_EQ(tracker_.connections(), 1u);  // keep-alive: still open

  tracker_.FlushIdle(t0 + 20 + HttpTracker::kIdleEvictNs);
  EXPECT_EQ(tracker_.connections(), 1u);
  tracker_.FlushIdle(t0 + 21 + HttpTracker::kIdleEvictNs);
  EXPECT_EQ(tracker_.connections(), 0u);
  auto s = tracker_.stats();
  EXPECT_EQ(s.conns_evicted_idle, 1u);
  EXPECT_EQ(s.stitch.idle_completions, 1u);
  EXPECT_EQ(s.stitch.requests_completed, 1u);  // counters outlive the state
}

TEST_F(TrackerTest, SilentAcceptedConnectionIsKeptForTheEvictionWindow) {
  const uint64_t t0 = 3600 * kSec;  // daemon up for an hour
  Accept(10, 1, t0);
  tracker_.FlushIdle(t0 + 60 * kSec);
  EXPECT_EQ(tracker_.connections(), 1u);
  tracker_.FlushIdle(t0 + HttpTracker::kIdleEvictNs + 1);
  EXPECT_EQ(tracker_.connections(), 0u);
}

TEST_F(TrackerTest, PendingRequestSurvivesIdleEvictionButNotStaleEviction) {
  const uint64_t t0 = 100 * kSec;
  Accept(10, 1, t0);
  Read(10, 1, t0 + 10, 60, {{"GET /hung HTTP/1.1"}});
  tracker_.FlushIdle(t0 + 10 + HttpTracker::kIdleEvictNs + 1);
  EXPECT_EQ(tracker_.connections(), 1u);
  EXPECT_TRUE(sink_.done.empty());
  const uint64_t now = t0 + 11 + HttpTracker::kStaleEvictNs;
  tracker_.FlushIdle(now);
  EXPECT_EQ(tracker_.connections(), 0u);
  ASSERT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.done[0].status, 0);
  EXPECT_EQ(sink_.done[0].end_ns, now);
  EXPECT_EQ(sink_.done[0].outcome, Outcome::kAborted);
  EXPECT_EQ(tracker_.stats().conns_evicted_stale, 1u);
}

TEST_F(TrackerTest, DropProcessAbortsPendingAndKeepsIdleResponsesCompleted) {
  const uint64_t t0 = 100 * kSec;
  // Conn 1: response written long ago, connection idle in keep-alive.
  Accept(10, 1, t0);
  Read(10, 1, t0 + 1, 60, {{"GET /done HTTP/1.1"}});
  Write(10, 1, t0 + 2, 100, {{"HTTP/1.1 200 OK"}});
  // Conn 2: a response being written and a pipelined request behind it.
  Accept(10, 2, t0);
  Read(10, 2, t0 + 3, 74, {{"GET /big HTTP/1.1", 0}, {"GET /next HTTP/1.1", 37}});
  Write(10, 2, t0 + 2 * kIdle, 100, {{"HTTP/1.1 200 OK"}});
  // Another worker.
  Accept(11, 3, t0);
  Read(11, 3, t0 + 4, 60, {{"GET /other HTTP/1.1"}});

  const uint64_t now = t0 + 2 * kIdle + 10;
  tracker_.DropProcess(10, now);
  ASSERT_EQ(sink_.done.size(), 3u);
  std::vector<std::string> got;
  for (const auto& r : sink_.done) {
    got.push_back(r.path + " " + std::to_string(r.status) + " " + std::to_string(r.end_ns - t0) +
                  " " + (r.outcome == Outcome::kCompleted ? "completed" : "aborted"));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{
                     "/big 200 " + std::to_string(2 * kIdle + 10) + " aborted",
                     "/done 200 2 completed",
                     "/next 0 " + std::to_string(2 * kIdle + 10) + " aborted",
                 }));
  EXPECT_EQ(tracker_.connections(), 1u);
  auto s = tracker_.stats();
  EXPECT_EQ(s.conns_dropped, 2u);
  EXPECT_EQ(s.stitch.requests_aborted, 2u);
  EXPECT_EQ(s.stitch.requests_completed, 1u);
}

TEST_F(TrackerTest, LineAtEndOfScanWindowIsTreatedAsTruncated) {
  Accept(10, 1, 100);
  // A pipelined request line starting 9 bytes before the 512-byte scan
  // limit: the kernel copied "GET /x HT" and no more.
  Read(10, 1, 200, 1000, {{"GET /a HTTP/1.1", 0}, {"GET /x HT", 503}}, PERFD_F_SCAN_LIMITED);
  // The same bytes ending well inside the scanned data are malformed.
  Read(10, 1, 300, 1000, {{"GET /y HT", 100}});
  // A line cut at PERFD_LINE_MAX.
  std::string long_line = ("GET /z/" + std::string(200, 'q')).substr(0, 127);
  Read(10, 1, 400, 1000, {{long_line, 0, PERFD_LINE_LONG}});
  // A copy fault: the kernel fell back to the first 8 bytes.
  Read(10, 1, 500, 300, {{"GET / HT", 0}}, PERFD_F_READ_FAULT);
  ASSERT_EQ(sink_.starts.size(), 4u);
  EXPECT_EQ(sink_.starts[0].path, "/a");
  EXPECT_EQ(sink_.starts[1].path, "/x");
  EXPECT_EQ(sink_.starts[2].path, long_line.substr(4));
  EXPECT_EQ(sink_.starts[3].path, "/");
  auto s = tracker_.stats();
  EXPECT_EQ(s.stitch.unparsed_request_lines, 1u);
  EXPECT_EQ(s.scan_limited, 1u);
  EXPECT_EQ(s.read_faults, 1u);
}

TEST_F(TrackerTest, MalformedAndUnknownEventsAreCountedNotTrusted) {
  perfd_http_event_header h{};
  h.kind = PERFD_EV_READ;
  h.tgid = 10;
  h.conn_id = 1;
  h.ts_ns = 100;
  h.ret = 40;
  h.nlines = 2;  // but no line data
  tracker_.OnEvent(h, nullptr);
  h.kind = 9;
  tracker_.OnEvent(h, nullptr);
  auto s = tracker_.stats();
  EXPECT_EQ(s.malformed, 1u);
  EXPECT_EQ(s.unknown_kind, 1u);
  EXPECT_EQ(s.stitch.unparsed_read_bytes, 40u);
  EXPECT_TRUE(sink_.starts.empty());
}

TEST_F(TrackerTest, StatsAggregateFlagsAndClosedConnections) {
  Accept(10, 1, 100);
  Write(10, 1, 200, 100, {{"HTTP/1.1 200 OK"}});  // nothing asked for it
  Read(10, 1, 300, 600,
       {{"GET /1 HTTP/1.1", 0},
        {"GET /2 HTTP/1.1", 20},
        {"GET /3 HTTP/1.1", 40},
        {"GET /4 HTTP/1.1", 60}},
       PERFD_F_LINES_DROPPED | PERFD_F_SCAN_LIMITED);
  Write(10, 1, 400, -EPIPE);
  Close(10, 1, 500);
  auto s = tracker_.stats();
  EXPECT_EQ(s.lines_dropped, 1u);
  EXPECT_EQ(s.scan_limited, 1u);
  EXPECT_EQ(s.stitch.unmatched_responses, 1u);
  EXPECT_EQ(s.stitch.requests_started, 4u);
  EXPECT_EQ(s.stitch.requests_aborted, 4u);
  EXPECT_EQ(s.conns_open, 0u);
  ASSERT_EQ(sink_.done.size(), 4u);
  for (const auto& r : sink_.done) {
    EXPECT_EQ(r.end_ns, 400u);
    EXPECT_EQ(r.status, 0);
  }
}

TEST_F(TrackerTest, ArrivalOfTheReadReachesTheRequest) {
  Accept(1, 10, 100);
  Send(PERFD_EV_READ, 1, 10, 1000, 60, {{"GET /q HTTP/1.1"}}, 0, 7, /*arrival=*/250);
  Write(1, 10, 1200, 90, {{"HTTP/1.1 200 OK"}});
  Close(1, 10, 1300);
  ASSERT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.done[0].start_ns, 1000u);
  EXPECT_EQ(sink_.done[0].arrival_ns, 250u);
  EXPECT_EQ(sink_.done[0].end_ns, 1200u);
}

}  // namespace
}  // namespace perfd::http
