// Interns symbolized frames and stacks so samples are stored as small ids.
// Bounded: past max_stacks new stacks are folded into one "[stack table
// full]" stack and counted (perfd_python_stacks_overflow_total), and their
// frames are not interned, so neither table grows without limit.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace perfd {

struct FrameInfo {
  std::string function;  // qualified name, e.g. "UserService.get"
  std::string file;      // co_filename
  int line = 0;          // current line
  int first_line = 0;    // co_firstlineno: identifies the function
  bool operator<(const FrameInfo& o) const {
    return std::tie(function, file, line, first_line) <
           std::tie(o.function, o.file, o.line, o.first_line);
  }
};

class StackTable {
 public:
  static constexpr uint32_t kOverflowStack = 0;

  explicit StackTable(size_t max_stacks = 200000);

  // frames: leaf first. Thread-safe.
  uint32_t Intern(const std::vector<FrameInfo>& frames, bool truncated);
  // Leaf-first frame ids of a stack, and the frame table. Thread-safe.
  std::vector<uint32_t> Stack(uint32_t id) const;
  bool Truncated(uint32_t id) const;
  FrameInfo Frame(uint32_t frame_id) const;
  size_t stacks() const;
  size_t frames() const;        // distinct frames interned
  uint64_t overflowed() const;  // samples folded into kOverflowStack

 private:
  uint32_t InternFrame(const FrameInfo& f);

  const size_t max_stacks_;
  mutable std::mutex mu_;
  std::map<FrameInfo, uint32_t> frame_ids_;
  std::vector<FrameInfo> frames_;
  std::map<std::vector<uint32_t>, uint32_t> stack_ids_;  // key: frames + truncated marker
  std::vector<std::vector<uint32_t>> stacks_;
  std::vector<bool> truncated_;
  uint64_t overflowed_ = 0;
};

}  // namespace perfd
