// ClientTracker (and the PostgreSQL and Redis stitchers under it) over any
// sequence of client-connection events, call sites, idle flushes and worker
// exits. The bytes come from whatever a traced worker and its database
// exchange, cut at the kernel's capture limit: hostile input. Checks that
// records stay bounded and privacy-shaped (no byte the parsers did not vet
// reaches a name), that every call is counted, and that after every worker
// exits nothing is left.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "bpf/http_trace.h"
#include "daemon/protocols/client_tracker.h"
#include "fuzz/check.h"

using namespace perfd;

namespace {

constexpr uint32_t kTgids = 2;

class CheckingSink : public protocols::ClientSink {
 public:
  void OnCall(const db::DbCall& c, uint64_t) override {
    FUZZ_CHECK(c.fingerprint.size() <= 8192);
    FUZZ_CHECK(c.operation.size() <= 256);
    FUZZ_CHECK(c.collection.size() <= 256);
    FUZZ_CHECK(c.error_code.size() <= 64);
    FUZZ_CHECK(c.rows >= -1);
    ++calls;
  }
  void OnEncrypted(uint32_t, const char* system) override { FUZZ_CHECK(system != nullptr); }
  uint64_t calls = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  CheckingSink sink;
  protocols::ClientTracker tracker(sink);
  uint64_t ts = 1;
  while (in.remaining_bytes() > 0) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>();
    ts += in.ConsumeIntegralInRange<uint64_t>(0, 5000000);
    perfd_http_event_header h{};
    h.ts_ns = ts;
    h.tgid = 100 + op % kTgids;
    h.fd = in.ConsumeIntegralInRange<int32_t>(3, 6);
    h.conn_id = in.ConsumeIntegralInRange<uint64_t>(1, 4);
    h.role = PERFD_ROLE_CLIENT;
    h.proto = in.ConsumeIntegralInRange<uint8_t>(0, 3);
    h.peer_port = in.ConsumeBool() ? 5432 : 6379;
    h.owner_conn = in.ConsumeIntegralInRange<uint64_t>(0, 3);
    h.owner_task = in.ConsumeIntegralInRange<uint64_t>(0, 3);
    switch ((op >> 1) % 8) {
      case 0:
        h.kind = PERFD_EV_CONNECT;
        tracker.OnEvent(h, {});
        break;
      case 1:
        h.kind = PERFD_EV_CLOSE;
        tracker.OnEvent(h, {});
        break;
      case 2:
        tracker.OnCallSite(h.tgid, h.fd, ts - in.ConsumeIntegralInRange<uint64_t>(0, ts - 1),
                           in.ConsumeRandomLengthString(64));
        break;
      case 3:
        if (in.ConsumeIntegralInRange<int>(0, 15) == 0) tracker.DropProcess(h.tgid);
        tracker.FlushIdle(ts);
        break;
      default: {
        h.kind = (op >> 4) & 1 ? PERFD_EV_WRITE : PERFD_EV_READ;
        std::string bytes = in.ConsumeRandomLengthString(PERFD_DATA_MAX);
        // The kernel reports how much went by; it may be more than it copied.
        h.ret = static_cast<int64_t>(bytes.size()) +
                (in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(0, 1 << 20) : 0);
        h.data_len = static_cast<uint32_t>(bytes.size());
        tracker.OnEvent(h, bytes);
      }
    }
  }
  for (uint32_t t = 0; t < kTgids; ++t) tracker.DropProcess(100 + t);
  FUZZ_CHECK(tracker.connections() == 0);
  FUZZ_CHECK(tracker.stats().calls == sink.calls);
  return 0;
}
