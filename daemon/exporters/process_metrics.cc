#include "daemon/exporters/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace perfd {

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

double CountOpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  double n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily fam;
  fam.name = name;
  fam.help = help;
  fam.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  fam.metric.push_back(std::move(m));
  return fam;
}

}  // namespace

std::optional<StatFields> ParseProcStat(const std::string& text) {
  // comm is "(...)" and may itself contain ") ": the fields start after the last one.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(close + 1));
  // Field 3 (state) is the first after comm; we want 14 utime, 15 stime,
  // 22 starttime, 23 vsize, 24 rss.
  std::vector<std::string> f;
  std::string tok;
  while (in >> tok) f.push_back(tok);
  if (f.size() < 22) return std::nullopt;
  auto num = [&f](size_t field, double* out) {
    const std::string& s = f[field - 3];
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end && *end == '\0' && !s.empty();
  };
  StatFields st;
  if (!num(14, &st.utime_ticks) || !num(15, &st.stime_ticks) || !num(22, &st.starttime_ticks) ||
      !num(23, &st.vsize_bytes) || !num(24, &st.rss_pages))
    return std::nullopt;
  return st;
}

std::optional<double> ParseBootTime(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    char* end = nullptr;
    const double v = std::strtod(line.c_str() + 6, &end);
    if (end == line.c_str() + 6) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<double> ParseMaxOpenFiles(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  const std::string key = "Max open files";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(key.size()));
    std::string soft;
    if (!(fields >> soft)) return std::nullopt;
    if (soft == "unlimited") return -1;
    char* end = nullptr;
    const double v = std::strtod(soft.c_str(), &end);
    if (*end != '\0') return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<ProcessStats> ReadSelfProcessStats() {
  const auto stat = ParseProcStat(ReadFile("/proc/self/stat"));
  if (!stat) return std::nullopt;
  const double ticks = double(sysconf(_SC_CLK_TCK));
  const double page = double(sysconf(_SC_PAGESIZE));
  ProcessStats s;
  s.cpu_seconds = (stat->utime_ticks + stat->stime_ticks) / ticks;
  s.resident_bytes = stat->rss_pages * page;
  s.virtual_bytes = stat->vsize_bytes;
  if (const auto boot = ParseBootTime(ReadFile("/proc/stat")))
    s.start_time_seconds = *boot + stat->starttime_ticks / ticks;
  s.open_fds = CountOpenFds();
  s.max_fds = ParseMaxOpenFiles(ReadFile("/proc/self/limits")).value_or(-1);
  return s;
}

std::vector<prometheus::MetricFamily> ProcessFamilies(const ProcessStats& s) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  out.push_back(Family("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", MetricType::Counter,
                       s.cpu_seconds));
  out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                       MetricType::Gauge, s.resident_bytes));
  out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       MetricType::Gauge, s.virtual_bytes));
  if (s.start_time_seconds > 0)
    out.push_back(Family("process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.",
                         MetricType::Gauge, s.start_time_seconds));
  if (s.open_fds >= 0)
    out.push_back(Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                         s.open_fds));
  if (s.max_fds >= 0)
    out.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                         MetricType::Gauge, s.max_fds));
  return out;
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  const auto s = ReadSelfProcessStats();
  if (!s) return {};
  return ProcessFamilies(*s);
}

}  // namespace perfd
