#include "daemon/profile/stack_table.h"

namespace perfd {

StackTable::StackTable(size_t max_stacks) : max_stacks_(max_stacks) {
  frames_.push_back({"[stack table full]", "", 0, 0});
  frame_ids_[frames_[0]] = 0;
  stacks_.push_back({0});
  truncated_.push_back(false);
}

uint32_t StackTable::InternFrame(const FrameInfo& f) {
  auto it = frame_ids_.find(f);
  if (it != frame_ids_.end()) return it->second;
  uint32_t id = frames_.size();
  frames_.push_back(f);
  frame_ids_.emplace(f, id);
  return id;
}

uint32_t StackTable::Intern(const std::vector<FrameInfo>& frames, bool truncated) {
  std::lock_guard<std::mutex> lock(mu_);
  // Look the stack up before interning anything: a frame never seen makes
  // the stack new, and a full table must refuse it before its frames are
  // kept (else the frame table grows without bound behind the cap).
  std::vector<uint32_t> key;
  key.reserve(frames.size() + 1);
  bool known = true;
  for (const auto& f : frames) {
    auto it = frame_ids_.find(f);
    if (it == frame_ids_.end()) {
      known = false;
      break;
    }
    key.push_back(it->second);
  }
  // The marker keeps a truncated stack apart from a complete one with the
  // same frames; it is never a valid frame id.
  const uint32_t marker = truncated ? UINT32_MAX : UINT32_MAX - 1;
  if (known) {
    key.push_back(marker);
    auto it = stack_ids_.find(key);
    if (it != stack_ids_.end()) return it->second;
  }
  if (stacks_.size() >= max_stacks_) {
    ++overflowed_;
    return kOverflowStack;
  }
  key.clear();
  for (const auto& f : frames) key.push_back(InternFrame(f));
  key.push_back(marker);
  uint32_t id = stacks_.size();
  stacks_.emplace_back(key.begin(), key.end() - 1);
  truncated_.push_back(truncated);
  stack_ids_.emplace(std::move(key), id);
  return id;
}

std::vector<uint32_t> StackTable::Stack(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return id < stacks_.size() ? stacks_[id] : std::vector<uint32_t>{};
}

bool StackTable::Truncated(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return id < truncated_.size() && truncated_[id];
}

FrameInfo StackTable::Frame(uint32_t frame_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return frame_id < frames_.size() ? frames_[frame_id] : FrameInfo{};
}

size_t StackTable::stacks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stacks_.size();
}

size_t StackTable::frames() const {
  std::lock_guard<std::mutex> lock(mu_);
  return frames_.size();
}

uint64_t StackTable::overflowed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overflowed_;
}

}  // namespace perfd
