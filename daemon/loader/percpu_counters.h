// Reads a BPF per-CPU array of u64 counters and sums each index over CPUs.
#pragma once

#include <bpf/libbpf.h>

#include <array>
#include <cstdint>
#include <vector>

namespace perfd {

template <size_t N>
std::array<uint64_t, N> SumPerCpuCounters(const bpf_map* map) {
  std::array<uint64_t, N> out{};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> per_cpu(ncpu);
  for (uint32_t i = 0; i < N; ++i)
    if (bpf_map__lookup_elem(map, &i, sizeof(i), per_cpu.data(), per_cpu.size() * sizeof(uint64_t),
                             0) == 0)
      for (uint64_t v : per_cpu) out[i] += v;
  return out;
}

}  // namespace perfd
