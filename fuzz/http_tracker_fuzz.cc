// HttpTracker (and the ConnStitcher per connection under it) over any
// sequence of ring-buffer events, idle flushes and worker exits. The event
// stream comes from whatever clients send and whatever the kernel managed to
// copy, so it may be reordered, lossy or hostile. Checks the contract of
// RequestSink: every RequestStart is followed by exactly one
// CompletedRequest for the same request, in order per connection; times are
// ordered, statuses plausible, pipelining bounded, the counters agree with
// what the sink saw, and after every worker exits nothing is left.
#include <fuzzer/FuzzedDataProvider.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "daemon/protocols/http/http_tracker.h"
#include "fuzz/check.h"

using namespace perfd::http;

namespace {

constexpr uint32_t kTgids = 3;
constexpr uint64_t kIdleTimeoutNs = 1000000000;

class CheckingSink : public RequestSink {
 public:
  void OnRequestStart(const RequestStart& s) override {
    FUZZ_CHECK(s.arrival_ns <= s.start_ns);
    auto& q = pending_[{s.pid, s.conn_id}];
    q.push_back(s);
    // The queue cap plus the one response in progress.
    FUZZ_CHECK(q.size() <= ConnStitcher::kMaxQueued + 1);
    ++starts;
  }
  void OnRequestComplete(const CompletedRequest& r) override {
    auto it = pending_.find({r.pid, r.conn_id});
    FUZZ_CHECK(it != pending_.end() && !it->second.empty());
    const RequestStart s = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) pending_.erase(it);
    FUZZ_CHECK(r.method == s.method && r.path == s.path);
    FUZZ_CHECK(r.start_ns == s.start_ns && r.arrival_ns == s.arrival_ns);
    FUZZ_CHECK(r.end_ns >= r.start_ns);
    FUZZ_CHECK(r.status == 0 || r.status == 101 || (r.status >= 200 && r.status <= 599));
    if (r.outcome == Outcome::kCompleted) FUZZ_CHECK(r.status != 0);
    ++completes;
  }
  bool nothing_pending() const { return pending_.empty(); }

  uint64_t starts = 0;
  uint64_t completes = 0;

 private:
  std::map<std::pair<uint32_t, uint64_t>, std::deque<RequestStart>> pending_;
};

// A return value as the syscalls give them: mostly small byte counts, some
// errors that end a connection and some that do not.
int64_t ConsumeRet(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      return -EAGAIN;
    case 1:
      return -static_cast<int64_t>(in.ConsumeIntegralInRange(1, 133));
    case 2:
      return 0;
    case 3:
      return in.ConsumeIntegral<int64_t>();
    default:
      return in.ConsumeIntegralInRange<int64_t>(1, 4096);
  }
}

// One ring-buffer record as HttpProbes::OnRecord hands it on: lines point to
// exactly nlines lines (a heap block of that size, so ASan sees any read past
// them), or are null when the record was too short for its nlines.
void FeedEvent(FuzzedDataProvider& in, HttpTracker& tracker, uint64_t* now) {
  perfd_http_event_header h{};
  // Usually forward in time, sometimes backwards (timestamps of different
  // CPUs), sometimes far ahead.
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
      *now -= std::min<uint64_t>(*now, in.ConsumeIntegralInRange<uint64_t>(0, 1000000));
      break;
    case 1:
      *now += in.ConsumeIntegralInRange<uint64_t>(0, 100ull * 60 * 1000000000);
      break;
    default:
      *now += in.ConsumeIntegralInRange<uint64_t>(0, 2 * kIdleTimeoutNs);
  }
  h.ts_ns = *now;
  h.tgid = in.ConsumeIntegralInRange<uint32_t>(1, kTgids);
  h.conn_id = in.ConsumeIntegralInRange<uint64_t>(0, 3);
  h.kind = in.ConsumeIntegralInRange<uint8_t>(0, 5);
  h.flags = in.ConsumeIntegral<uint8_t>();
  h.nlines = in.ConsumeIntegralInRange<uint8_t>(0, PERFD_MAX_LINES + 1);
  h.ret = ConsumeRet(in);
  h.py_root = in.ConsumeIntegral<uint8_t>();
  h.arrival_ns = in.ConsumeBool()
                     ? 0
                     : h.ts_ns - std::min<uint64_t>(h.ts_ns, in.ConsumeIntegral<uint16_t>()) +
                           in.ConsumeIntegralInRange<uint64_t>(0, 1);
  const bool has_lines =
      h.nlines > 0 && h.nlines <= PERFD_MAX_LINES && in.ConsumeIntegralInRange(0, 15) != 0;
  std::unique_ptr<char[][PERFD_LINE_MAX]> lines;
  if (has_lines) {
    lines = std::make_unique<char[][PERFD_LINE_MAX]>(h.nlines);
    for (size_t k = 0; k < h.nlines; ++k) {
      const std::string text = in.ConsumeRandomLengthString(PERFD_LINE_MAX);
      std::memcpy(lines[k], text.data(), text.size());
      // What the kernel fills in; the length may lie (> the line) and the
      // tracker must clamp it to the line buffer.
      h.line_len[k] =
          in.ConsumeBool() ? static_cast<uint8_t>(text.size()) : in.ConsumeIntegral<uint8_t>();
      h.line_off[k] = in.ConsumeIntegral<uint16_t>();
      h.line_flags[k] = in.ConsumeIntegral<uint8_t>();
    }
  }
  tracker.OnEvent(h, lines.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  CheckingSink sink;
  HttpTracker tracker(sink, kIdleTimeoutNs);
  uint64_t now = 1000000000;
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange(0, 9)) {
      case 0:
        now += in.ConsumeIntegralInRange<uint64_t>(0, 2ull * 60 * 60 * 1000000000);
        tracker.FlushIdle(now);
        break;
      case 1:
        tracker.DropProcess(in.ConsumeIntegralInRange<uint32_t>(1, kTgids), now);
        break;
      default:
        FeedEvent(in, tracker, &now);
    }
    const HttpTracker::Stats s = tracker.stats();
    FUZZ_CHECK(s.stitch.requests_started == sink.starts);
    FUZZ_CHECK(s.stitch.requests_completed + s.stitch.requests_aborted == sink.completes);
    FUZZ_CHECK(s.conns_open == tracker.connections());
  }
  // Every worker exits: whatever was pending is completed or aborted.
  for (uint32_t tgid = 1; tgid <= kTgids; ++tgid) tracker.DropProcess(tgid, now);
  FUZZ_CHECK(sink.nothing_pending());
  FUZZ_CHECK(tracker.connections() == 0);
  FUZZ_CHECK(sink.starts == sink.completes);
  return 0;
}
