// The Python CPU profile pipeline on the event thread:
//   py_sample (BPF) → symbolize frames (daemon/python) → category (leaf-most
//   rule) → intern stack → attribute to a request's route → CPU profile
//   store (API) + perfd_python_cpu_seconds_total (Prometheus).
// Requests arrive as a RequestObserver so samples can wait for their route.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "bpf/python.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/profile/cpu_profile.h"
#include "daemon/profile/cpu_series.h"
#include "daemon/profile/sample_attributor.h"
#include "daemon/profile/stack_table.h"
#include "daemon/python/categories.h"
#include "daemon/python/symbolizer.h"

namespace perfd {

class PythonProfiler : public RequestObserver {
 public:
  struct Stats {
    uint64_t samples = 0;
    uint64_t unknown_process = 0;    // sample from a pid not (or no longer) profiled
    uint64_t unresolved_frames = 0;  // frames whose code object could not be read
    uint64_t truncated_samples = 0;
    uint64_t partial_samples = 0;                // a frame read failed in the kernel
    uint64_t empty_samples = 0;                  // no Python frame (thread outside Python)
    std::map<std::string, uint64_t> attributed;  // exact/interval/unattributed/no_request
    // Share of request samples (routes + "(unattributed)") joined exactly.
    double ExactRatio() const {
      auto at = [this](const char* k) {
        auto it = attributed.find(k);
        return it == attributed.end() ? 0.0 : double(it->second);
      };
      double all = at("exact") + at("interval") + at("unattributed");
      return all > 0 ? at("exact") / all : 0.0;
    }
  };

  PythonProfiler(std::vector<python::CategoryRule> user_rules, uint32_t window_max_seconds,
                 double seconds_per_sample, prometheus::Registry& registry);

  // Sees every sample once attributed (service, route key, sample): CPU
  // samples and off-CPU stacks (ProfileSample::offcpu_ns > 0) alike.
  using SampleListener = std::function<void(const std::string& service, const std::string& route,
                                            const ProfileSample& s)>;
  void SetSampleListener(SampleListener listener) { listener_ = std::move(listener); }

  void AddProcess(uint32_t pid, const std::string& service, const py_offsets& offsets);
  void RemoveProcess(uint32_t pid, uint64_t now_ns);
  // A CPU sample, or an off-CPU stack (PY_SAMPLE_OFFCPU): attributed like
  // one, but kept out of every CPU figure (it is not CPU time).
  void OnSample(const py_sample& sample);
  // A call-site stack (PY_SAMPLE_CALL_SITE): its leaf-most application
  // frame as "qualname (file:line)", skipping the interpreter's library and
  // installed packages (drivers, asyncio, the framework); "" if none.
  std::string CallSite(const py_sample& sample);
  void Tick(uint64_t now_ns);
  // Drops CPU series and stored services with no sample for idle_ns.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns);

  void OnStart(const RoutedRequest& req) override;
  void OnComplete(const RoutedRequest& req) override;

  const CpuProfileStore& store() const { return store_; }
  const CpuSeries& cpu_series() const { return cpu_series_; }
  const StackTable& stacks() const { return stacks_; }
  Stats stats() const { return stats_; }
  python::SymbolizerStats symbolizer_stats() const { return symbolizer_.stats(); }
  size_t pending_samples() const { return attributor_.pending(); }

 private:
  struct Proc {
    std::string service;
    py_offsets offsets;
    std::unique_ptr<python::ProcessMemoryReader> memory;
  };
  void Record(const std::string& service, const std::string& route, const ProfileSample& s,
              JoinKind join);

  python::Classifier classifier_;
  python::Symbolizer symbolizer_;
  StackTable stacks_;
  CpuProfileStore store_;
  SampleAttributor attributor_;
  CpuSeries cpu_series_;
  std::unordered_map<uint32_t, Proc> procs_;
  Stats stats_;
  SampleListener listener_;
};

}  // namespace perfd
