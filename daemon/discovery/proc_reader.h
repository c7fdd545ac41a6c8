// Reads process facts from a /proc-like tree. The root is configurable so
// tests build fake trees in a temp dir. Every read tolerates the process
// exiting underneath it: a vanished pid is std::nullopt, never an exception.
//
// A failed read says why through `error` (an errno value): only ProcessGone()
// errors mean the process exited. perfd runs beside untrusted applications
// that can make it run out of file descriptors (EMFILE/ENFILE), so any other
// failure means "unknown", and callers must keep what they knew and retry.
#pragma once

#include <cerrno>
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

// ENOENT: /proc/<pid> is gone; ESRCH: the task exited while we read.
inline bool ProcessGone(int error) { return error == ENOENT || error == ESRCH; }

class ProcReader {
 public:
  explicit ProcReader(std::string root = "/proc");
  virtual ~ProcReader() = default;

  // Every `error` out-parameter (optional) is set to 0 on success, else to
  // the errno of the failure (ENOENT when the process is gone).

  // Numeric entries of the root directory, ascending. On error the list is
  // incomplete and must not be taken as "these are all the processes".
  virtual std::vector<uint32_t> ListPids(int* error = nullptr) const;
  virtual std::optional<ProcStat> ReadStat(uint32_t pid, int* error = nullptr) const;
  // stat + cmdline + exe + kept environment variables.
  virtual std::optional<ProcessInfo> ReadProcess(uint32_t pid, int* error = nullptr) const;
  // Just the command line (raw, NUL-separated): cheap enough to poll.
  virtual std::optional<std::string> ReadCmdline(uint32_t pid, int* error = nullptr) const;

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
