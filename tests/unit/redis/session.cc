#include "tests/unit/redis/session.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

namespace perfd::protocols::redis::testing {

DataEvent Chunk::Event() const {
  DataEvent ev;
  ev.dir = dir;
  ev.ts_ns = ts;
  ev.head = std::string_view(bytes).substr(0, std::min(head, bytes.size()));
  ev.total = bytes.size();
  return ev;
}

Session LoadFixture(const std::string& name) {
  std::ifstream in(std::string(PERFD_REDIS_FIXTURES) + "/" + name + ".jsonl");
  if (!in) throw std::runtime_error("no fixture " + name);
  Session s;
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    Chunk c;
    c.conn = j["conn"];
    c.dir = j["dir"] == "out" ? Direction::kEgress : Direction::kIngress;
    c.ts = j["ts"];
    for (const auto& seg : j["data"]) {
      if (seg[0] == "r") {
        c.bytes.append(seg[2].get<size_t>(), static_cast<char>(seg[1].get<int>()));
      } else {
        std::string hex = seg[1];
        for (size_t i = 0; i + 1 < hex.size(); i += 2) {
          c.bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
        }
      }
    }
    s.push_back(std::move(c));
  }
  return s;
}

Session OneConn(const Session& s, uint32_t conn) {
  Session out;
  for (const Chunk& c : s) {
    if (c.conn == conn) out.push_back(c);
  }
  return out;
}

Session SplitChunk(const Session& s, size_t index, const std::vector<size_t>& cuts) {
  Session out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != index) {
      out.push_back(s[i]);
      continue;
    }
    size_t from = 0;
    for (size_t cut : cuts) {
      if (cut <= from || cut >= s[i].bytes.size()) continue;
      Chunk piece = s[i];
      piece.bytes = s[i].bytes.substr(from, cut - from);
      out.push_back(std::move(piece));
      from = cut;
    }
    Chunk last = s[i];
    last.bytes = s[i].bytes.substr(from);
    out.push_back(std::move(last));
  }
  return out;
}

Session RandomSplits(const Session& s, uint32_t seed, size_t max_piece) {
  std::mt19937 rng(seed);
  Session out;
  for (const Chunk& c : s) {
    size_t from = 0;
    while (from < c.bytes.size()) {
      size_t n = std::uniform_int_distribution<size_t>(1, max_piece)(rng);
      Chunk piece = c;
      piece.bytes = c.bytes.substr(from, n);
      out.push_back(std::move(piece));
      from += n;
    }
  }
  return out;
}

Session TruncateHeads(const Session& s, size_t head) {
  Session out = s;
  for (Chunk& c : out) c.head = head;
  return out;
}

Session AttachAt(const Session& s, size_t index, size_t offset) {
  Session out;
  for (size_t i = index; i < s.size(); ++i) {
    Chunk c = s[i];
    if (i == index) {
      c.bytes = c.bytes.substr(std::min(offset, c.bytes.size()));
      if (c.bytes.empty()) continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string Describe(const CommandRecord& r, bool with_times) {
  std::string s = r.command + " ";
  switch (r.outcome) {
    case Outcome::kNoReply:
      s += "noreply";
      break;
    case Outcome::kClosed:
      s += "closed";
      break;
    case Outcome::kReplied:
      s += ReplyTypeName(r.reply_type);
      if (!r.error_prefix.empty()) s += " " + r.error_prefix;
      if (r.queued) s += " queued";
      break;
  }
  if (with_times) s += " @" + std::to_string(r.start_ns) + "-" + std::to_string(r.end_ns);
  return s;
}

std::vector<std::string> Replay::Names(uint32_t conn, bool with_times) const {
  std::vector<std::string> out;
  auto it = records.find(conn);
  if (it == records.end()) return out;
  for (const auto& r : it->second) out.push_back(Describe(r, with_times));
  return out;
}

Replay Play(const Session& s, bool from_start, bool close_at_end) {
  return PlayCut(s, SIZE_MAX, 0, from_start, close_at_end);
}

Replay PlayCut(const Session& s, size_t index, size_t cut, bool from_start, bool close_at_end) {
  std::map<uint32_t, std::unique_ptr<RecordingSink>> sinks;
  std::map<uint32_t, std::unique_ptr<ConnStitcher>> conns;
  uint64_t last_ts = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const Chunk& c = s[i];
    auto& st = conns[c.conn];
    if (!st) {
      sinks[c.conn] = std::make_unique<RecordingSink>();
      st = std::make_unique<ConnStitcher>(1, c.conn, *sinks[c.conn], from_start);
    }
    DataEvent ev = c.Event();
    if (i == index && cut > 0 && cut < c.bytes.size() && c.head == SIZE_MAX) {
      // Same as SplitChunk(s, index, {cut}) without copying the session.
      DataEvent first = ev;
      first.head = ev.head.substr(0, cut);
      first.total = cut;
      st->OnEvent(first);
      ev.head = ev.head.substr(cut);
      ev.total -= cut;
    }
    st->OnEvent(ev);
    last_ts = std::max(last_ts, c.ts);
  }
  Replay r;
  for (auto& [conn, st] : conns) {
    if (close_at_end) st->OnClose(last_ts + 1);
    r.stats += st->stats();
    r.records[conn] = sinks[conn]->records;
  }
  return r;
}

bool SameRecord(const CommandRecord& a, const CommandRecord& b) {
  return a.conn_id == b.conn_id && a.command == b.command && a.start_ns == b.start_ns &&
         a.end_ns == b.end_ns && a.outcome == b.outcome && a.reply_type == b.reply_type &&
         a.error_prefix == b.error_prefix && a.reply_bytes == b.reply_bytes && a.queued == b.queued;
}

}  // namespace perfd::protocols::redis::testing
