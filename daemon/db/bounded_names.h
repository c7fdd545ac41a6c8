// A small set of names (routes, call sites, error codes of one fingerprint)
// capped at `cap`: the first `cap` distinct names get their own index, every
// later one shares the overflow index, shown as "_OTHER". Windows store the
// one-byte index per slot instead of the string, so a fingerprint's 600
// slots do not each hold copies of its route and call-site names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perfd::db {

class BoundedNames {
 public:
  static constexpr size_t kMaxCap = 254;  // indices fit a byte with the overflow

  explicit BoundedNames(size_t cap);

  // The name's index, admitting it while there is room; Overflow() past
  // the cap (*folded set to true then, when given).
  uint8_t Index(const std::string& name, bool* folded = nullptr);
  uint8_t Overflow() const { return static_cast<uint8_t>(cap_); }
  // The name of an index; "_OTHER" for the overflow index.
  const std::string& Name(uint8_t index) const;
  size_t size() const { return names_.size(); }

 private:
  size_t cap_;
  std::vector<std::string> names_;
};

// Per-slot counts by index: a flat vector (few entries) that keeps its order.
using IndexCounts = std::vector<std::pair<uint8_t, uint64_t>>;
void AddCount(IndexCounts& counts, uint8_t index, uint64_t n = 1);

}  // namespace perfd::db
