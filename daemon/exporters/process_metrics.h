// perfd's own CPU, memory and descriptors, under the names every Prometheus
// client library's process collector uses (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), so perfd's health dashboard and any
// generic "process" dashboard read it like any other exporter. prometheus-cpp
// has no process collector; this one reads /proc/self at scrape time (a few
// small reads per scrape, nothing on the event thread).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <optional>
#include <string>
#include <vector>

namespace perfd {

struct ProcessStats {
  double cpu_seconds = 0;         // utime + stime
  double resident_bytes = 0;      // RSS
  double virtual_bytes = 0;       // VSZ
  double start_time_seconds = 0;  // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;  // soft RLIMIT_NOFILE
};

// Parsers of /proc texts, separate from the reads so tests can feed them.
// /proc/<pid>/stat: fields after the parenthesised comm (which may hold
// spaces and ')'). Returns nullopt on a malformed line.
struct StatFields {
  double utime_ticks = 0, stime_ticks = 0, starttime_ticks = 0, vsize_bytes = 0, rss_pages = 0;
};
std::optional<StatFields> ParseProcStat(const std::string& text);
// The "btime" line of /proc/stat: boot time in seconds since the epoch.
std::optional<double> ParseBootTime(const std::string& text);
// The "Max open files" soft limit of /proc/<pid>/limits ("unlimited" -> -1).
std::optional<double> ParseMaxOpenFiles(const std::string& text);

// Reads /proc/self; a value that cannot be read is left out (nullopt for all
// when /proc/self/stat itself is unreadable).
std::optional<ProcessStats> ReadSelfProcessStats();

// The families for one snapshot (exported as counter / gauges).
std::vector<prometheus::MetricFamily> ProcessFamilies(const ProcessStats& s);

class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace perfd
