// Reads process facts from a /proc-like tree. The root is configurable so
// tests build fake trees in a temp dir. Every read tolerates the process
// exiting underneath it: a vanished pid is std::nullopt, never an exception.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace perfd {

// The only environment variables perfd keeps (the rest of environ may hold
// secrets and is never stored): two name the service, the others change how
// uvicorn/gunicorn run (worker count, reload, gunicorn flags), so the
// classifier needs them to tell a supervisor from a worker.
inline constexpr const char* kKeptEnvVars[] = {
    "PERFD_SERVICE",   "OTEL_SERVICE_NAME", "WEB_CONCURRENCY",
    "UVICORN_WORKERS", "UVICORN_RELOAD",    "GUNICORN_CMD_ARGS",
};

// /proc/<pid>/stat fields discovery needs on every scan.
struct ProcStat {
  uint32_t ppid = 0;
  uint64_t start_time = 0;  // field 22, clock ticks since boot
  std::string comm;         // changes on exec: tells "same pid, new program" apart
};

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint64_t start_time = 0;
  std::string comm;
  std::vector<std::string> argv;           // empty for kernel threads / zombies
  std::string exe;                         // readlink of exe; empty if unreadable
  std::map<std::string, std::string> env;  // only kKeptEnvVars that are set
};

class ProcReader {
 public:
  explicit ProcReader(std::string root = "/proc");
  virtual ~ProcReader() = default;

  // Numeric entries of the root directory, ascending.
  virtual std::vector<uint32_t> ListPids() const;
  virtual std::optional<ProcStat> ReadStat(uint32_t pid) const;
  // stat + cmdline + exe + kept environment variables.
  virtual std::optional<ProcessInfo> ReadProcess(uint32_t pid) const;
  // Just the command line (raw, NUL-separated): cheap enough to poll.
  virtual std::optional<std::string> ReadCmdline(uint32_t pid) const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

// Parses the text of /proc/<pid>/stat. comm may contain spaces and ')', so
// the fields are read after the LAST ')'.
std::optional<ProcStat> ParseStat(const std::string& text);

// Splits /proc/<pid>/cmdline (NUL-terminated arguments). Trailing empty
// arguments are dropped: setproctitle pads the argv area with NULs.
std::vector<std::string> ParseCmdline(const std::string& text);

}  // namespace perfd
