// Connection scenarios as uvicorn produces them: each test feeds the event
// sequence the BPF program emits and checks exactly what reaches the sink.
#include "daemon/protocols/http/conn_stitcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/unit/http/fake_sink.h"

namespace perfd::http {
namespace {

using ::testing::ElementsAre;
using testing::FakeSink;

constexpr uint32_t kPid = 4242;
constexpr uint64_t kConn = 77;
constexpr uint64_t kIdle = 5'000;

struct L {
  std::string text;
  uint32_t offset = 0;
  bool truncated = false;
};

class StitcherTest : public ::testing::Test {
 protected:
  void Feed(ConnEventKind kind, uint64_t ts, int64_t ret, const std::vector<L>& lines,
            uint64_t arrival = 0) {
    std::vector<ConnLine> conv;
    for (const L& l : lines) conv.push_back(ConnLine{l.text, l.offset, l.truncated});
    ConnEvent ev{kind, ts, ret, conv.data(), conv.size()};
    ev.arrival_ns = arrival;
    st_.OnEvent(ev);
  }
  void Read(uint64_t ts, int64_t ret, const std::vector<L>& lines = {}) {
    Feed(ConnEventKind::kRead, ts, ret, lines);
  }
  void ReadArrived(uint64_t arrival, uint64_t ts, int64_t ret, const std::vector<L>& lines) {
    Feed(ConnEventKind::kRead, ts, ret, lines, arrival);
  }
  void Write(uint64_t ts, int64_t ret, const std::vector<L>& lines = {}) {
    Feed(ConnEventKind::kWrite, ts, ret, lines);
  }
  void Close(uint64_t ts) { Feed(ConnEventKind::kClose, ts, 0, {}); }

  void ExpectDone(size_t i, const std::string& method, const std::string& path, int status,
                  uint64_t start, uint64_t end, Outcome outcome) {
    ASSERT_LT(i, sink_.done.size());
    const CompletedRequest& r = sink_.done[i];
    EXPECT_EQ(r.pid, kPid);
    EXPECT_EQ(r.conn_id, kConn);
    EXPECT_EQ(r.method, method);
    EXPECT_EQ(r.path, path);
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.start_ns, start);
    EXPECT_EQ(r.end_ns, end);
    EXPECT_EQ(r.outcome, outcome);
  }

  FakeSink sink_;
  ConnStitcher st_{kPid, kConn, sink_};
};

TEST_F(StitcherTest, KeepAliveSequenceOfThreeRequests) {
  Read(1000, 78, {{"GET /users/42 HTTP/1.1"}});
  Write(1500, 120, {{"HTTP/1.1 200 OK"}});
  Write(1600, 40);  // body
  Read(3000, 150, {{"POST /items HTTP/1.1"}});
  Write(3500, 160, {{"HTTP/1.1 201 Created"}});
  Read(5000, 70, {{"GET /search"}});  // query cut by the kernel
  Write(5200, 90, {{"HTTP/1.1 404 Not Found"}});
  Close(9000);

  EXPECT_THAT(sink_.log,
              ElementsAre("start GET /users/42", "start POST /items", "done GET /users/42 200",
                          "start GET /search", "done POST /items 201", "done GET /search 404"));
  ASSERT_EQ(sink_.starts.size(), 3u);
  EXPECT_EQ(sink_.starts[0].start_ns, 1000u);
  EXPECT_EQ(sink_.starts[0].pid, kPid);
  EXPECT_EQ(sink_.starts[0].conn_id, kConn);
  EXPECT_EQ(sink_.starts[1].start_ns, 3000u);
  EXPECT_EQ(sink_.starts[2].start_ns, 5000u);
  ExpectDone(0, "GET", "/users/42", 200, 1000, 1600, Outcome::kCompleted);
  ExpectDone(1, "POST", "/items", 201, 3000, 3500, Outcome::kCompleted);
  ExpectDone(2, "GET", "/search", 404, 5000, 5200, Outcome::kCompleted);
  EXPECT_EQ(st_.counters().requests_started, 3u);
  EXPECT_EQ(st_.counters().requests_completed, 3u);
  EXPECT_EQ(st_.counters().requests_aborted, 0u);
  EXPECT_EQ(st_.counters().unparsed_read_bytes, 0u);
  EXPECT_EQ(st_.counters().unmatched_write_bytes, 0u);
  EXPECT_TRUE(st_.idle());
}

TEST_F(StitcherTest, PipelinedRequestsInOneReadThenThreeStatusWrites) {
  Read(1000, 111, {{"GET /a HTTP/1.1", 0}, {"GET /b HTTP/1.1", 37}, {"GET /c HTTP/1.1", 74}});
  EXPECT_EQ(st_.queued(), 3u);
  Write(2000, 100, {{"HTTP/1.1 200 OK"}});
  Write(2100, 100, {{"HTTP/1.1 204 No Content"}});
  Write(2300, 100, {{"HTTP/1.1 500 Internal Server Error"}});
  Write(2400, 900);
  Close(3000);

  ASSERT_EQ(sink_.done.size(), 3u);
  ExpectDone(0, "GET", "/a", 200, 1000, 2000, Outcome::kCompleted);
  ExpectDone(1, "GET", "/b", 204, 1000, 2100, Outcome::kCompleted);
  ExpectDone(2, "GET", "/c", 500, 1000, 2400, Outcome::kCompleted);
}

TEST_F(StitcherTest, PipelinedResponsesInOneWrite) {
  Read(1000, 111, {{"GET /a HTTP/1.1", 0}, {"GET /b HTTP/1.1", 37}, {"GET /c HTTP/1.1", 74}});
  Write(2000, 300, {{"HTTP/1.1 200 OK", 0}, {"HTTP/1.1 200 OK", 100}, {"HTTP/1.1 200 OK", 200}});
  Write(2500, 50);  // rest of /c
  Close(3000);
  ASSERT_EQ(sink_.done.size(), 3u);
  ExpectDone(0, "GET", "/a", 200, 1000, 2000, Outcome::kCompleted);
  ExpectDone(1, "GET", "/b", 200, 1000, 2000, Outcome::kCompleted);
  ExpectDone(2, "GET", "/c", 200, 1000, 2500, Outcome::kCompleted);
}

TEST_F(StitcherTest, StatusLineAfterPreviousBodyBytesEndsPreviousResponseInThatWrite) {
  Read(1000, 74, {{"GET /a HTTP/1.1", 0}, {"GET /b HTTP/1.1", 37}});
  Write(2000, 60, {{"HTTP/1.1 200 OK"}});
  Write(2200, 160, {{"HTTP/1.1 200 OK", 60}});  // tail of /a, then /b's head
  Close(3000);
  ExpectDone(0, "GET", "/a", 200, 1000, 2200, Outcome::kCompleted);
  ExpectDone(1, "GET", "/b", 200, 1000, 2200, Outcome::kCompleted);
}

TEST_F(StitcherTest, RequestBodySpreadOverSeveralReads) {
  Read(1000, 65536, {{"POST /upload HTTP/1.1"}});
  Read(1100, 65536);
  Read(1200, 65536);
  Read(1300, 1024);
  Write(2000, 150, {{"HTTP/1.1 201 Created"}});
  Close(2500);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "POST", "/upload", 201, 1000, 2000, Outcome::kCompleted);
  EXPECT_EQ(st_.counters().unparsed_read_bytes, 0u);
}

TEST_F(StitcherTest, LargeResponseLatencyEndsAtLastWrite) {
  Read(1000, 80, {{"GET /export.csv HTTP/1.1"}});
  Write(2000, 65536, {{"HTTP/1.1 200 OK"}});
  for (uint64_t ts = 2100; ts <= 4000; ts += 100) Write(ts, 65536);
  EXPECT_TRUE(sink_.done.empty());  // nothing says it is over yet
  Read(9000, 80, {{"GET /next HTTP/1.1"}});
  EXPECT_TRUE(sink_.done.empty());  // a new request does not end the response
  Write(9100, 100, {{"HTTP/1.1 200 OK"}});
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/export.csv", 200, 1000, 4000, Outcome::kCompleted);
}

TEST_F(StitcherTest, StreamedResponseSurvivesFlushesWhileChunksKeepComing) {
  Read(1000, 80, {{"GET /events HTTP/1.1"}});
  Write(2000, 120, {{"HTTP/1.1 200 OK"}});
  for (uint64_t ts = 6000; ts <= 30000; ts += 4000) {
    st_.Flush(ts - 1, kIdle);  // 3999 after the previous chunk
    Write(ts, 20);
  }
  EXPECT_TRUE(sink_.done.empty());
  st_.Flush(30000 + kIdle, kIdle);  // exactly the timeout: not older than it
  EXPECT_TRUE(sink_.done.empty());
  st_.Flush(30000 + kIdle + 1, kIdle);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/events", 200, 1000, 30000, Outcome::kCompleted);
  EXPECT_EQ(st_.counters().idle_completions, 1u);
}

TEST_F(StitcherTest, IdleFlushCompletesKeepAliveResponseButNotSlowHandler) {
  Read(1000, 80, {{"GET /a HTTP/1.1"}});
  Write(2000, 200, {{"HTTP/1.1 200 OK"}});
  st_.Flush(7001, kIdle);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/a", 200, 1000, 2000, Outcome::kCompleted);
  EXPECT_TRUE(st_.idle());
  // A late write after the flush has no response to belong to.
  Write(7500, 30);
  EXPECT_EQ(st_.counters().unmatched_write_bytes, 30u);

  Read(8000, 80, {{"GET /slow HTTP/1.1"}});
  st_.Flush(1'000'000, kIdle);
  EXPECT_EQ(sink_.done.size(), 1u);  // still waiting for its status line
  Write(1'000'500, 200, {{"HTTP/1.1 200 OK"}});
  Close(1'001'000);
  ExpectDone(1, "GET", "/slow", 200, 8000, 1'000'500, Outcome::kCompleted);
}

TEST_F(StitcherTest, ConnectionClosedMidRequestIsAbortedWithStatusZero) {
  Read(1000, 200, {{"POST /slow HTTP/1.1"}});
  Read(1100, 500);
  Close(4000);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "POST", "/slow", 0, 1000, 4000, Outcome::kAborted);
  EXPECT_EQ(st_.counters().requests_aborted, 1u);
}

TEST_F(StitcherTest, ClosedAfterStatusWrittenIsCompleted) {
  Read(1000, 60, {{"GET /bye HTTP/1.0"}});
  Write(2000, 100, {{"HTTP/1.1 200 OK"}});
  Write(2100, 500);
  Close(2200);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/bye", 200, 1000, 2100, Outcome::kCompleted);
}

TEST_F(StitcherTest, WriteErrorMidResponseAbortsAndKeepsStatus) {
  Read(1000, 74, {{"GET /big HTTP/1.1", 0}, {"GET /next HTTP/1.1", 37}});
  Write(2000, 65536, {{"HTTP/1.1 200 OK"}});
  Write(2100, -EAGAIN);  // socket buffer full: not an error
  Write(2200, 65536);
  Write(2300, -EPIPE);
  ASSERT_EQ(sink_.done.size(), 2u);
  ExpectDone(0, "GET", "/big", 200, 1000, 2300, Outcome::kAborted);
  ExpectDone(1, "GET", "/next", 0, 1000, 2300, Outcome::kAborted);
  Close(2400);
  EXPECT_EQ(sink_.done.size(), 2u);  // nothing reported twice
}

TEST_F(StitcherTest, ConnResetOnWriteAborts) {
  Read(1000, 60, {{"GET /a HTTP/1.1"}});
  Write(2000, -ECONNRESET);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/a", 0, 1000, 2000, Outcome::kAborted);
}

TEST_F(StitcherTest, EofCompletesWrittenResponseAndAbortsUnanswered) {
  Read(1000, 74, {{"GET /a HTTP/1.1", 0}, {"GET /b HTTP/1.1", 37}});
  Write(2000, 100, {{"HTTP/1.1 200 OK"}});
  Read(2500, 0);  // peer closed
  ASSERT_EQ(sink_.done.size(), 2u);
  ExpectDone(0, "GET", "/a", 200, 1000, 2000, Outcome::kCompleted);
  ExpectDone(1, "GET", "/b", 0, 1000, 2500, Outcome::kAborted);
}

TEST_F(StitcherTest, ReadErrorFinishesButEintrDoesNot) {
  Read(1000, 60, {{"GET /a HTTP/1.1"}});
  Read(1100, -EINTR);
  Read(1150, -EAGAIN);
  EXPECT_TRUE(sink_.done.empty());
  Read(1200, -ECONNRESET);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/a", 0, 1000, 1200, Outcome::kAborted);
}

TEST_F(StitcherTest, GarbageBytesAreCounted) {
  Read(1000, 37);                        // no line start at all
  Read(1100, 16, {{"get / HTTP/1.1"}});  // kernel never sends this, but be safe
  Read(1200, 30, {{"GET / HTTP/2.0"}});  // not HTTP/1.x
  EXPECT_EQ(st_.counters().unparsed_read_bytes, 37u + 16 + 30);
  EXPECT_EQ(st_.counters().unparsed_request_lines, 2u);
  // Body bytes of a real request, including a line that only looks like a
  // method, are not garbage.
  Read(2000, 300, {{"POST /form HTTP/1.1"}});
  Read(2100, 400, {{"DELETE all the things", 120}});
  EXPECT_EQ(st_.counters().unparsed_read_bytes, 83u);
  EXPECT_EQ(st_.counters().unparsed_request_lines, 3u);
  EXPECT_EQ(st_.queued(), 1u);
  EXPECT_TRUE(sink_.done.empty());
}

TEST_F(StitcherTest, UnmatchedResponseIsCounted) {
  Write(1000, 100, {{"HTTP/1.1 200 OK"}});
  Write(1100, 50);
  EXPECT_EQ(st_.counters().unmatched_responses, 1u);
  EXPECT_EQ(st_.counters().unmatched_write_bytes, 50u);
  EXPECT_TRUE(sink_.done.empty());
  // Body text that starts like a status line is not a response boundary.
  Read(2000, 60, {{"GET /readme HTTP/1.1"}});
  Write(2100, 100, {{"HTTP/1.1 200 OK"}});
  Write(2200, 500, {{"HTTPie is a command-line client", 40}});
  Close(2300);
  ExpectDone(0, "GET", "/readme", 200, 2000, 2200, Outcome::kCompleted);
  EXPECT_EQ(st_.counters().unparsed_status_lines, 1u);
}

TEST_F(StitcherTest, AbortForDyingWorker) {
  Read(1000, 74, {{"GET /a HTTP/1.1", 0}, {"GET /b HTTP/1.1", 37}});
  Write(2000, 100, {{"HTTP/1.1 200 OK"}});
  st_.Abort(5000);
  ASSERT_EQ(sink_.done.size(), 2u);
  ExpectDone(0, "GET", "/a", 200, 1000, 5000, Outcome::kAborted);
  ExpectDone(1, "GET", "/b", 0, 1000, 5000, Outcome::kAborted);
  EXPECT_TRUE(st_.idle());
}

TEST_F(StitcherTest, ContinueIsInterimAndTheFinalStatusCounts) {
  Read(1000, 200, {{"POST /upload HTTP/1.1"}});
  Write(1100, 25, {{"HTTP/1.1 100 Continue"}});
  Read(1200, 4096);
  Write(2000, 100, {{"HTTP/1.1 201 Created"}});
  Close(2500);
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "POST", "/upload", 201, 1000, 2000, Outcome::kCompleted);
  EXPECT_EQ(st_.counters().interim_responses, 1u);
}

TEST_F(StitcherTest, WebSocketUpgradeEndsTheHttpExchange) {
  Read(1000, 200, {{"GET /ws HTTP/1.1"}});
  Write(1100, 130, {{"HTTP/1.1 101 Switching Protocols"}});
  ASSERT_EQ(sink_.done.size(), 1u);
  ExpectDone(0, "GET", "/ws", 101, 1000, 1100, Outcome::kCompleted);
  // Frames, even ones that happen to look like HTTP lines, are not traffic.
  Read(2000, 30);
  Write(2100, 30, {{"HTTP/1.1 200 OK"}});
  Read(2200, 30, {{"GET / HTTP/1.1"}});
  Close(3000);
  EXPECT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.starts.size(), 1u);
  EXPECT_EQ(st_.counters().upgrades, 1u);
  EXPECT_EQ(st_.counters().unparsed_read_bytes, 0u);
  EXPECT_EQ(st_.counters().unmatched_responses, 0u);
}

TEST_F(StitcherTest, PipelineDepthIsBounded) {
  for (size_t i = 0; i < ConnStitcher::kMaxQueued + 3; ++i) {
    Read(1000 + i, 20, {{"GET /p HTTP/1.1"}});
  }
  EXPECT_EQ(st_.queued(), ConnStitcher::kMaxQueued);
  EXPECT_EQ(st_.counters().queue_overflows, 3u);
  EXPECT_EQ(sink_.starts.size(), ConnStitcher::kMaxQueued);
  Close(5000);
  EXPECT_EQ(sink_.done.size(), ConnStitcher::kMaxQueued);  // one completion per start
}

TEST_F(StitcherTest, TruncatedLongRequestLineStillCounts) {
  std::string line = "GET /r/" + std::string(130, 'x');
  line.resize(127);
  Read(1000, 600, {{line, 0, true}});
  Write(1500, 100, {{"HTTP/1.1 200 OK"}});
  Close(1600);
  ASSERT_EQ(sink_.done.size(), 1u);
  EXPECT_EQ(sink_.done[0].path, line.substr(4));
  EXPECT_EQ(sink_.done[0].status, 200);
}

TEST_F(StitcherTest, SkewedTimestampsNeverGiveNegativeLatency) {
  Read(1000, 60, {{"GET /a HTTP/1.1"}});
  Close(900);
  ExpectDone(0, "GET", "/a", 0, 1000, 1000, Outcome::kAborted);
}

TEST_F(StitcherTest, ArrivalIsCarriedToStartAndCompletion) {
  ReadArrived(400, 1000, 60, {{"GET /a HTTP/1.1"}});
  Write(1500, 100, {{"HTTP/1.1 200 OK"}});
  ReadArrived(1550, 3000, 60, {{"GET /b HTTP/1.1"}});  // waited while the loop was busy
  Write(3200, 100, {{"HTTP/1.1 200 OK"}});
  Close(4000);
  ASSERT_EQ(sink_.starts.size(), 2u);
  EXPECT_EQ(sink_.starts[0].arrival_ns, 400u);
  EXPECT_EQ(sink_.starts[0].start_ns, 1000u);
  ASSERT_EQ(sink_.done.size(), 2u);
  ExpectDone(0, "GET", "/a", 200, 1000, 1500, Outcome::kCompleted);
  EXPECT_EQ(sink_.done[0].arrival_ns, 400u);
  ExpectDone(1, "GET", "/b", 200, 3000, 3200, Outcome::kCompleted);
  EXPECT_EQ(sink_.done[1].arrival_ns, 1550u);
  EXPECT_EQ(st_.counters().arrival_unknown, 0u);
  EXPECT_EQ(st_.counters().arrival_after_read, 0u);
}

TEST_F(StitcherTest, PipelinedLinesShareTheReadsArrival) {
  ReadArrived(700, 1000, 80, {{"GET /a HTTP/1.1"}, {"GET /b HTTP/1.1", 40}});
  Write(1500, 100, {{"HTTP/1.1 200 OK"}});
  Write(1600, 100, {{"HTTP/1.1 200 OK"}});
  Close(2000);
  ASSERT_EQ(sink_.done.size(), 2u);
  EXPECT_EQ(sink_.done[0].arrival_ns, 700u);
  EXPECT_EQ(sink_.done[1].arrival_ns, 700u);
}

TEST_F(StitcherTest, UnknownOrLateArrivalFallsBackToTheReadAndIsCounted) {
  Read(1000, 60, {{"GET /a HTTP/1.1"}});               // e.g. adopted, unix new conn
  ReadArrived(2500, 2000, 60, {{"GET /b HTTP/1.1"}});  // skewed clocks
  ReadArrived(2900, 3000, 10, {});                     // body: not a request
  Close(4000);
  ASSERT_EQ(sink_.done.size(), 2u);
  EXPECT_EQ(sink_.done[0].arrival_ns, 1000u);
  EXPECT_EQ(sink_.done[1].arrival_ns, 2000u);
  EXPECT_EQ(st_.counters().arrival_unknown, 1u);
  EXPECT_EQ(st_.counters().arrival_after_read, 1u);
  StitchCounters sum;
  sum += st_.counters();
  EXPECT_EQ(sum.arrival_unknown, 1u);
  EXPECT_EQ(sum.arrival_after_read, 1u);
}

}  // namespace
}  // namespace perfd::http
