// Run statistics of every program in a libbpf object, for the
// perfd_bpf_program_* self-metrics (event loss and cost are first-class
// risks on this platform: DESIGN.md).
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace perfd {

struct ProgramStats {
  std::string name;
  uint64_t run_count = 0;  // needs kernel.bpf_stats_enabled=1
  uint64_t run_time_ns = 0;
  uint64_t recursion_misses = 0;
};

inline std::vector<ProgramStats> ObjectProgramStats(const bpf_object* obj) {
  std::vector<ProgramStats> out;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) continue;
    out.push_back({bpf_program__name(prog), info.run_cnt, info.run_time_ns, info.recursion_misses});
  }
  return out;
}

}  // namespace perfd
