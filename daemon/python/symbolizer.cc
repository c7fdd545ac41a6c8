#include "daemon/python/symbolizer.h"

#include "daemon/python/module_name.h"

namespace perfd::python {

size_t Symbolizer::KeyHash::operator()(const Key& k) const {
  // Code pointers are 16-byte aligned heap addresses; mix all three fields.
  uint64_t h = k.code * 0x9E3779B97F4A7C15ull;
  h ^= (static_cast<uint64_t>(k.pid) << 32 | static_cast<uint32_t>(k.firstlineno)) +
       0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
  return static_cast<size_t>(h);
}

Symbolizer::Symbolizer(size_t max_entries) : max_entries_(max_entries == 0 ? 1 : max_entries) {}

Symbolizer::~Symbolizer() = default;

const Symbolizer::Entry* Symbolizer::Lookup(const Key& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

const Symbolizer::Entry* Symbolizer::Insert(Entry entry) {
  while (lru_.size() >= max_entries_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(std::move(entry));
  index_[lru_.front().key] = lru_.begin();
  return &lru_.front();
}

Symbol Symbolizer::Resolve(MemoryReader& mem, uint32_t pid, const py_offsets& off,
                           const py_frame& frame) {
  const Key key{pid, frame.firstlineno, frame.code};
  const Entry* entry = Lookup(key);
  if (entry) {
    ++stats_.hits;
  } else {
    ++stats_.misses;
    ReadError error = ReadError::kUnreadable;
    std::optional<CodeInfo> info = ReadCode(mem, off, frame.code, &error);
    if (!info) {
      ++stats_.read_failures;
      if (error == ReadError::kImplausible) ++stats_.rejected;
      return Symbol{};
    }
    if (info->firstlineno != frame.firstlineno) {
      ++stats_.stale_reads;
      return Symbol{};
    }
    if (info->linetable_truncated) ++stats_.linetables_truncated;
    Entry e;
    e.key = key;
    e.module = ModuleNameForFile(info->filename);
    e.qualname = std::move(info->qualname);
    e.filename = std::move(info->filename);
    e.lines = LineTable::Decode(LineTableFormatFor(off.major, off.minor), info->linetable,
                                info->firstlineno);
    entry = Insert(std::move(e));
  }
  Symbol s;
  s.qualname = entry->qualname;
  s.filename = entry->filename;
  s.module = entry->module;
  const int64_t instr = CurrentInstrIndex(InstrPointerFor(off.major, off.minor), frame.instr);
  const int line = entry->lines.LineFor(instr);
  s.line = line < 0 ? 0 : line;
  s.ok = true;
  return s;
}

void Symbolizer::DropPid(uint32_t pid) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->key.pid == pid) {
      index_.erase(it->key);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

SymbolizerStats Symbolizer::stats() const {
  SymbolizerStats s = stats_;
  s.entries = lru_.size();
  return s;
}

}  // namespace perfd::python
