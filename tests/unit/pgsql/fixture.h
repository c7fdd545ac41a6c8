// Recorded sessions (fixtures/*.bin + *.idx, made by record_sessions.py) and a
// replay harness: chunks → DataEvents → ConnStitcher → records.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/protocols/data_event.h"
#include "daemon/protocols/pgsql/stitch.h"

namespace perfd::pgsql::testing {

struct Chunk {
  protocols::Direction dir;
  uint64_t ts_ns;
  std::string bytes;
};

inline std::vector<Chunk> LoadFixture(const std::string& name) {
  std::string base = std::string(PERFD_PGSQL_FIXTURES) + "/" + name;
  std::ifstream bin(base + ".bin", std::ios::binary), idx(base + ".idx");
  std::string all((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());
  std::vector<Chunk> out;
  std::string d;
  uint64_t off, len, ts;
  while (idx >> d >> off >> len >> ts) {
    out.push_back({d == "e" ? protocols::Direction::kEgress : protocols::Direction::kIngress,
                   ts + 1000, all.substr(off, len)});
  }
  return out;
}

class RecordingSink : public QuerySink {
 public:
  void OnQuery(const QueryRecord& r) override { records.push_back(r); }
  void OnEncrypted(uint32_t, uint64_t) override { ++encrypted; }
  std::vector<QueryRecord> records;
  int encrypted = 0;
};

// One event as the kernel reports it: `head` captured of `total` bytes.
struct Event {
  protocols::Direction dir;
  uint64_t ts_ns;
  std::string head;
  uint64_t total;
};

inline std::vector<Event> WholeEvents(const std::vector<Chunk>& chunks) {
  std::vector<Event> ev;
  for (const Chunk& c : chunks) ev.push_back({c.dir, c.ts_ns, c.bytes, c.bytes.size()});
  return ev;
}

struct Replayed {
  std::vector<QueryRecord> records;
  Stats stats;
  int encrypted = 0;
};

inline Replayed Replay(const std::vector<Event>& events, const Limits& limits = Limits{}) {
  Replayed r;
  RecordingSink sink;
  {
    ConnStitcher s(7, 42, sink, r.stats, limits);
    for (const Event& e : events) {
      protocols::DataEvent de;
      de.dir = e.dir;
      de.ts_ns = e.ts_ns;
      de.head = e.head;
      de.total = e.total;
      s.OnEvent(de);
    }
    s.OnClose();
  }
  r.records = std::move(sink.records);
  r.encrypted = sink.encrypted;
  return r;
}

// One line per record, for readable comparisons.
inline std::string Describe(const QueryRecord& q) {
  std::ostringstream o;
  o << (q.protocol == Protocol::kSimple ? "Q " : "X ") << q.operation << " | " << q.table << " | "
    << q.fingerprint << " | rows=" << q.rows << " x" << q.executions;
  if (!q.sqlstate.empty()) o << " err=" << q.sqlstate;
  if (!q.statement.empty()) o << " stmt=" << q.statement;
  if (q.housekeeping) o << " hk";
  if (q.unresolved) o << " unresolved";
  if (q.text_truncated) o << " truncated";
  return o.str();
}

}  // namespace perfd::pgsql::testing
