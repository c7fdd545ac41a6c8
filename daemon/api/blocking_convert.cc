#include "daemon/api/blocking_convert.h"

#include <algorithm>

namespace perfd {
namespace {

double Seconds(uint64_t ns) { return double(ns) / 1e9; }

}  // namespace

void SiteToProto(const BlockingSite& s, const StackTable* stacks, v1::BlockingSite* out) {
  out->set_route(s.route);
  out->set_kind(BlockingKindName(s.kind));
  out->set_site(s.site);
  // Stack 0 is "none" here (the table's overflow stack is never evidence).
  if (stacks != nullptr && s.stack_id != 0) {
    for (uint32_t frame_id : stacks->Stack(s.stack_id)) {
      const FrameInfo f = stacks->Frame(frame_id);
      v1::Frame* frame = out->add_stack();
      frame->set_function(f.function);
      frame->set_file(f.file);
      frame->set_line(static_cast<uint32_t>(std::max(f.line, 0)));
      frame->set_first_line(static_cast<uint32_t>(std::max(f.first_line, 0)));
    }
    out->set_stack_truncated(stacks->Truncated(s.stack_id));
  }
  out->set_events(s.events);
  out->set_total_seconds(Seconds(s.total_ns));
  out->set_max_seconds(Seconds(s.max_ns));
  out->set_oncpu_seconds(Seconds(s.oncpu_ns));
  out->set_runnable_seconds(Seconds(s.runnable_ns));
  out->set_blocked_sleep_seconds(Seconds(s.blocked_ns[LOOP_BLOCK_SLEEP]));
  out->set_blocked_lock_seconds(Seconds(s.blocked_ns[LOOP_BLOCK_LOCK]));
  out->set_blocked_io_seconds(Seconds(s.blocked_ns[LOOP_BLOCK_IO]));
  out->set_blocked_other_seconds(Seconds(s.blocked_ns[LOOP_BLOCK_OTHER]));
  out->set_victims(s.victims);
  out->set_victim_wait_seconds(Seconds(s.victim_wait_ns));
}

bool IsBareTemplate(const std::string& filter) { return !filter.empty() && filter[0] == '/'; }

void KeepTemplate(const std::string& tmpl, BlockingWindowSnapshot* snapshot) {
  // "METHOD /template": the template after the one space (methods have none).
  const auto of_template = [&tmpl](const BlockingSite& s) {
    const size_t space = s.route.find(' ');
    return space != std::string::npos && s.route.compare(space + 1, std::string::npos, tmpl) == 0;
  };
  auto& sites = snapshot->sites;
  sites.erase(std::remove_if(sites.begin(), sites.end(),
                             [&](const BlockingSite& s) { return !of_template(s); }),
              sites.end());
  snapshot->events = 0;
  snapshot->total_ns = 0;
  for (const auto& s : sites) {
    snapshot->events += s.events;
    snapshot->total_ns += s.total_ns;
  }
}

void BlockingToProto(const BlockingWindowSnapshot& snapshot, const StackTable* stacks, size_t limit,
                     v1::GetBlockingResponse* out) {
  out->set_stacks(stacks != nullptr);
  out->set_events(snapshot.events);
  out->set_total_seconds(Seconds(snapshot.total_ns));
  const size_t n = std::min(limit, snapshot.sites.size());
  for (size_t i = 0; i < n; ++i) SiteToProto(snapshot.sites[i], stacks, out->add_sites());
}

}  // namespace perfd
