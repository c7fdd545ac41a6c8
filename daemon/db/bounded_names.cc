#include "daemon/db/bounded_names.h"

#include <algorithm>

#include "daemon/aggregator/bounded_labels.h"

namespace perfd::db {

BoundedNames::BoundedNames(size_t cap) : cap_(std::min(cap, kMaxCap)) {}

uint8_t BoundedNames::Index(const std::string& name, bool* folded) {
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it != names_.end()) return static_cast<uint8_t>(it - names_.begin());
  if (names_.size() < cap_) {
    names_.push_back(name);
    return static_cast<uint8_t>(names_.size() - 1);
  }
  if (folded != nullptr) *folded = true;
  return Overflow();
}

const std::string& BoundedNames::Name(uint8_t index) const {
  static const std::string other = kOtherLabel;
  return index < names_.size() ? names_[index] : other;
}

void AddCount(IndexCounts& counts, uint8_t index, uint64_t n) {
  for (auto& [i, c] : counts) {
    if (i == index) {
      c += n;
      return;
    }
  }
  counts.emplace_back(index, n);
}

}  // namespace perfd::db
