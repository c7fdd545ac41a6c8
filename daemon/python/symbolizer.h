// Turns sampled Python frames (code pointer + instruction index) into
// qualified name, file, module and line, with an LRU cache of decoded code
// objects. Not thread-safe: one pipeline thread owns it.
//
// The cache key is (pid, code address, firstlineno as the BPF walker read it
// with the pointer): code objects are freed and their addresses reused, and a
// reused address whose new object starts on another line misses instead of
// returning a stale name. On a miss the object is read and its own
// firstlineno must equal the frame's, else the read raced a free and is
// dropped (counted, not cached).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "bpf/python.h"
#include "daemon/python/code_reader.h"
#include "daemon/python/linetable.h"

namespace perfd::python {

struct Symbol {
  std::string qualname;  // "Klass.method"; empty when !ok
  std::string filename;
  std::string module;  // dotted, from filename (module_name.h)
  int line = 0;        // 0: unknown (no line for this instruction)
  bool ok = false;     // false: the code object could not be read
};

struct SymbolizerStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t read_failures = 0;  // process_vm_readv failed or data implausible
  // Of read_failures: refused because a length, kind or size the process
  // wrote was out of range (code_reader.h caps). Not a race; a lying or
  // corrupted process, or an offsets bug.
  uint64_t rejected = 0;
  // Objects resolved without line numbers: co_linetable over the cap.
  uint64_t linetables_truncated = 0;
  uint64_t stale_reads = 0;  // object's firstlineno != the frame's (reused)
  size_t entries = 0;
};

class Symbolizer {
 public:
  static constexpr size_t kDefaultMaxEntries = 50000;

  explicit Symbolizer(size_t max_entries = kDefaultMaxEntries);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // `off` must be the verified offsets of the process `pid`; `mem` reads
  // that process. The line uses the version's InstrPointer adjustment.
  Symbol Resolve(MemoryReader& mem, uint32_t pid, const py_offsets& off, const py_frame& frame);

  // Forget a process (exit or exec): its addresses mean nothing any more.
  void DropPid(uint32_t pid);

  SymbolizerStats stats() const;

 private:
  struct Key {
    uint32_t pid;
    int32_t firstlineno;
    uint64_t code;
    bool operator==(const Key& o) const {
      return pid == o.pid && firstlineno == o.firstlineno && code == o.code;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key;
    std::string qualname;
    std::string filename;
    std::string module;
    LineTable lines;
  };
  using Lru = std::list<Entry>;  // front = most recently used

  const Entry* Lookup(const Key& key);
  const Entry* Insert(Entry entry);

  size_t max_entries_;
  Lru lru_;
  std::unordered_map<Key, Lru::iterator, KeyHash> index_;
  SymbolizerStats stats_;
};

}  // namespace perfd::python
