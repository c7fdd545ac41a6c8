// Recorded Redis sessions (fixtures/*.jsonl, see record_sessions.py) and the
// ways tests damage them: re-splitting events, truncating captured heads,
// attaching mid-stream. Replay feeds one ConnStitcher per connection.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/protocols/data_event.h"
#include "daemon/protocols/redis/stitch.h"
#include "daemon/protocols/redis/types.h"

namespace perfd::protocols::redis::testing {

// One read or write with all its bytes; `head` bytes of them were captured.
struct Chunk {
  uint32_t conn = 0;
  Direction dir = Direction::kEgress;
  uint64_t ts = 0;
  std::string bytes;
  size_t head = SIZE_MAX;  // captured prefix (SIZE_MAX: all)

  DataEvent Event() const;
};

using Session = std::vector<Chunk>;

Session LoadFixture(const std::string& name);  // fixtures/<name>.jsonl
Session OneConn(const Session& s, uint32_t conn);

// Every chunk split into pieces at `cuts` (offsets into that chunk); the
// pieces keep the chunk's timestamp.
Session SplitChunk(const Session& s, size_t index, const std::vector<size_t>& cuts);
Session RandomSplits(const Session& s, uint32_t seed, size_t max_piece);
Session TruncateHeads(const Session& s, size_t head);
// The stream as seen by a tracer attached `offset` bytes into chunk `index`
// (earlier chunks are dropped, that chunk loses its first bytes).
Session AttachAt(const Session& s, size_t index, size_t offset);

// A record as text: "GET bulk", "LPUSH error WRONGTYPE", "SET simple queued",
// "SET noreply"; with_times adds "@start-end".
std::string Describe(const CommandRecord& r, bool with_times = false);

struct Replay {
  std::map<uint32_t, std::vector<CommandRecord>> records;  // per connection
  RedisStats stats;                                        // summed
  std::vector<std::string> Names(uint32_t conn, bool with_times = false) const;
};

class RecordingSink : public CommandSink {
 public:
  void OnCommand(const CommandRecord& r) override { records.push_back(r); }
  void OnEncrypted(uint32_t, uint64_t conn_id) override { encrypted.push_back(conn_id); }
  std::vector<CommandRecord> records;
  std::vector<uint64_t> encrypted;
};

Replay Play(const Session& s, bool from_start = true, bool close_at_end = false);
// Play(SplitChunk(s, index, {cut})), without copying the session.
Replay PlayCut(const Session& s, size_t index, size_t cut, bool from_start = true,
               bool close_at_end = false);

bool SameRecord(const CommandRecord& a, const CommandRecord& b);

}  // namespace perfd::protocols::redis::testing
