#include "daemon/api/profile_convert.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace perfd {
namespace {

using FunctionKey = std::tuple<std::string, std::string, int>;  // function, file, first_line

FunctionKey KeyOf(const FrameInfo& f) { return {f.function, f.file, f.first_line}; }

// Frame() takes the table's lock; stacks share frames, so look each up once.
class FrameCache {
 public:
  explicit FrameCache(const StackTable& table) : table_(table) {}
  const FrameInfo& Get(uint32_t id) {
    auto it = frames_.find(id);
    if (it == frames_.end()) it = frames_.emplace(id, table_.Frame(id)).first;
    return it->second;
  }

 private:
  const StackTable& table_;
  std::unordered_map<uint32_t, FrameInfo> frames_;
};

}  // namespace

void RouteCpuToProto(const RouteCpu& cpu, double seconds_per_sample, v1::RouteStats* out) {
  const double seconds = static_cast<double>(cpu.total) * seconds_per_sample;
  out->set_cpu_seconds(seconds);
  out->set_cpu_seconds_per_request(
      out->requests() == 0 ? 0.0 : seconds / static_cast<double>(out->requests()));
  auto& by_category = *out->mutable_cpu_seconds_by_category();
  for (int c = 0; c < kNumCategories; ++c) {
    by_category[kCategoryNames[c]] = static_cast<double>(cpu.by_category[c]) * seconds_per_sample;
  }
}

std::vector<std::string> MatchCpuRoutes(const std::map<std::string, RouteCpu>& routes,
                                        const std::string& filter) {
  std::vector<std::string> keys;
  for (const auto& entry : routes) {
    const std::string& key = entry.first;
    const size_t space = key.find(' ');
    if (filter.empty() || key == filter ||
        (space != std::string::npos && key.compare(space + 1, std::string::npos, filter) == 0)) {
      keys.push_back(key);
    }
  }
  return keys;
}

void FunctionsToProto(const StackCounts& stacks, const StackTable& table, double seconds_per_sample,
                      v1::GetFunctionsResponse* out) {
  struct Counts {
    uint64_t own = 0, total = 0;
  };
  std::map<FunctionKey, Counts> by_function;
  FrameCache frames(table);
  uint64_t total_samples = 0;
  for (const auto& [stack_id, n] : stacks) {
    total_samples += n;
    const std::vector<uint32_t> ids = table.Stack(stack_id);
    if (ids.empty()) continue;
    by_function[KeyOf(frames.Get(ids.front()))].own += n;
    std::set<FunctionKey> seen;
    for (uint32_t id : ids) {
      FunctionKey key = KeyOf(frames.Get(id));
      if (seen.insert(key).second) by_function[key].total += n;
    }
  }
  out->set_total_samples(total_samples);
  out->set_sample_period_seconds(seconds_per_sample);

  std::vector<std::pair<FunctionKey, Counts>> sorted(by_function.begin(), by_function.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    if (a.second.own != b.second.own) return a.second.own > b.second.own;
    if (a.second.total != b.second.total) return a.second.total > b.second.total;
    return a.first < b.first;
  });
  for (const auto& [key, counts] : sorted) {
    v1::FunctionStats* f = out->add_functions();
    f->set_function(std::get<0>(key));
    f->set_file(std::get<1>(key));
    f->set_line(static_cast<uint32_t>(std::max(0, std::get<2>(key))));
    f->set_own_samples(counts.own);
    f->set_total_samples(counts.total);
    f->set_own_seconds(static_cast<double>(counts.own) * seconds_per_sample);
    f->set_total_seconds(static_cast<double>(counts.total) * seconds_per_sample);
  }
}

void StacksToProto(const StackCounts& stacks, const StackTable& table,
                   v1::GetProfileResponse* out) {
  struct Entry {
    std::vector<uint32_t> frames;  // response frame indexes, leaf first
    uint64_t samples;
    bool truncated;
  };
  std::unordered_map<uint32_t, uint32_t> index_of;  // table frame id -> response index
  FrameCache frames(table);
  std::vector<Entry> entries;
  // Visit stacks in id order so frame indexes do not depend on hash order.
  std::vector<std::pair<uint32_t, uint64_t>> by_id(stacks.begin(), stacks.end());
  std::sort(by_id.begin(), by_id.end());
  for (const auto& [stack_id, n] : by_id) {
    Entry e{{}, n, table.Truncated(stack_id)};
    for (uint32_t id : table.Stack(stack_id)) {
      auto [it, added] = index_of.emplace(id, static_cast<uint32_t>(out->frames_size()));
      if (added) {
        const FrameInfo& info = frames.Get(id);
        v1::Frame* f = out->add_frames();
        f->set_function(info.function);
        f->set_file(info.file);
        f->set_line(static_cast<uint32_t>(std::max(0, info.line)));
        f->set_first_line(static_cast<uint32_t>(std::max(0, info.first_line)));
      }
      e.frames.push_back(it->second);
    }
    entries.push_back(std::move(e));
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.samples != b.samples) return a.samples > b.samples;
    return a.frames < b.frames;
  });
  for (const Entry& e : entries) {
    v1::Stack* s = out->add_stacks();
    for (uint32_t i : e.frames) s->add_frames(i);
    s->set_samples(e.samples);
    s->set_truncated(e.truncated);
  }
}

}  // namespace perfd
