#include "daemon/discovery/proc_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace perfd {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;   // cmdline is bounded by ARG_MAX anyway
constexpr size_t kMaxEnvValueBytes = 1024;  // longer values are truncated

void SetError(int* error, int value) {
  if (error != nullptr) *error = value;
}

// Reads a small /proc file whole. nullopt when it cannot be opened or a read
// fails midway; *error tells a vanished process (ENOENT/ESRCH) from a failure
// of ours (EMFILE, ...).
std::optional<std::string> ReadSmallFile(const std::string& path, int* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    SetError(error, errno);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      SetError(error, errno);
      ::close(fd);
      return std::nullopt;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() >= kMaxFileBytes) break;
  }
  ::close(fd);
  SetError(error, 0);
  return out;
}

bool IsKeptEnvVar(const std::string& name) {
  for (const char* kept : kKeptEnvVars) {
    if (name == kept) return true;
  }
  return false;
}

// Streams environ in fixed chunks and keeps only kKeptEnvVars: other values
// (tokens, passwords) never get copied out of the read buffer. false (with
// *error) when environ could not be opened for a reason that may pass
// (EMFILE, ...): the caller must not name a service from a missing
// environment. No ptrace rights (EACCES/EPERM) is permanent: empty env.
bool ReadKeptEnv(const std::string& path, std::map<std::string, std::string>* out, int* error) {
  std::map<std::string, std::string>& env = *out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES || errno == EPERM) return true;
    SetError(error, errno);
    return false;
  }
  enum class State { kKey, kValue, kSkip } state = State::kKey;
  std::string key;
  std::string value;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buf[i];
      if (c == '\0') {
        if (state == State::kValue) env[key] = value;
        state = State::kKey;
        key.clear();
        value.clear();
        continue;
      }
      switch (state) {
        case State::kKey:
          if (c == '=') {
            state = IsKeptEnvVar(key) ? State::kValue : State::kSkip;
          } else if (key.size() < 32) {
            key.push_back(c);
          } else {
            state = State::kSkip;
          }
          break;
        case State::kValue:
          if (value.size() < kMaxEnvValueBytes) value.push_back(c);
          break;
        case State::kSkip:
          break;
      }
    }
  }
  if (state == State::kValue) env[key] = value;
  ::close(fd);
  // Drop anything that could have been half of a secret from the stack buffer.
  std::memset(buf, 0, sizeof buf);
  return true;
}

}  // namespace

std::optional<ProcStat> ParseStat(const std::string& text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return std::nullopt;
  }
  ProcStat st;
  st.comm = text.substr(open + 1, close - open - 1);
  // Fields after ')' start at field 3 (state); ppid is field 4, starttime 22.
  // Hand-rolled: this runs for every process on every scan.
  size_t pos = close + 1;
  for (int index = 3; index <= 22; ++index) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    const size_t begin = pos;
    uint64_t value = 0;
    bool numeric = true;
    while (pos < text.size() && text[pos] != ' ' && text[pos] != '\n') {
      const char c = text[pos++];
      if (c < '0' || c > '9') {
        numeric = false;
      } else {
        value = value * 10 + static_cast<uint64_t>(c - '0');
      }
    }
    if (pos == begin) return std::nullopt;  // ran out of fields
    if (index == 4 || index == 22) {
      if (!numeric) return std::nullopt;
      if (index == 4) st.ppid = static_cast<uint32_t>(value);
      if (index == 22) st.start_time = value;
    }
  }
  return st;
}

std::vector<std::string> ParseCmdline(const std::string& text) {
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    argv.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  while (!argv.empty() && argv.back().empty()) argv.pop_back();
  return argv;
}

ProcReader::ProcReader(std::string root) : root_(std::move(root)) {}

std::vector<uint32_t> ProcReader::ListPids(int* error) const {
  std::vector<uint32_t> pids;
  DIR* dir = ::opendir(root_.c_str());
  if (dir == nullptr) {
    SetError(error, errno);
    return pids;
  }
  SetError(error, 0);
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      // readdir signals errors only through errno.
      if (errno != 0) SetError(error, errno);
      break;
    }
    const char* name = entry->d_name;
    if (*name == '\0') continue;
    uint64_t pid = 0;
    bool numeric = true;
    for (const char* p = name; *p; ++p) {
      if (*p < '0' || *p > '9' || pid > UINT32_MAX / 10) {
        numeric = false;
        break;
      }
      pid = pid * 10 + static_cast<uint64_t>(*p - '0');
    }
    if (numeric && pid > 0 && pid <= UINT32_MAX) pids.push_back(static_cast<uint32_t>(pid));
  }
  ::closedir(dir);
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::optional<ProcStat> ProcReader::ReadStat(uint32_t pid, int* error) const {
  const auto text = ReadSmallFile(root_ + "/" + std::to_string(pid) + "/stat", error);
  if (!text) return std::nullopt;
  auto st = ParseStat(*text);
  // The kernel never writes a truncated stat for a live process; an empty
  // read is a task reaped after open(). Anything else unparseable is
  // "unknown", not "gone".
  if (!st) SetError(error, text->empty() ? ESRCH : EINVAL);
  return st;
}

std::optional<std::string> ProcReader::ReadCmdline(uint32_t pid, int* error) const {
  return ReadSmallFile(root_ + "/" + std::to_string(pid) + "/cmdline", error);
}

std::optional<ProcessInfo> ProcReader::ReadProcess(uint32_t pid, int* error) const {
  const std::string dir = root_ + "/" + std::to_string(pid);
  const auto st = ReadStat(pid, error);
  if (!st) return std::nullopt;
  const auto cmdline = ReadSmallFile(dir + "/cmdline", error);
  if (!cmdline) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  info.ppid = st->ppid;
  info.start_time = st->start_time;
  info.comm = st->comm;
  info.argv = ParseCmdline(*cmdline);
  char exe[4096];
  const ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof exe);
  if (n > 0) info.exe.assign(exe, static_cast<size_t>(n));
  if (!ReadKeptEnv(dir + "/environ", &info.env, error)) return std::nullopt;
  // The pid may have exited and been reused while we read: the files would
  // then mix two processes. A second stat tells.
  const auto again = ReadStat(pid, error);
  if (!again) return std::nullopt;
  if (again->start_time != st->start_time) {
    SetError(error, ESRCH);  // the process we started reading is gone
    return std::nullopt;
  }
  SetError(error, 0);
  return info;
}

}  // namespace perfd
