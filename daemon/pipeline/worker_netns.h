// Enters a worker's network namespace for the calling thread, for the
// OpenAPI fetch to reach listeners on the worker's loopback (a container's
// 127.0.0.1 is not perfd's). If entering fails, the thread is still in
// perfd's own namespace, where the same address can be another service's
// listener: the fetch must not go on (the caller checks entered()).
#pragma once

#include <cstdint>
#include <string>

namespace perfd {

class WorkerNetns {
 public:
  // proc_root: where /proc is ("/proc"; tests point it at a fake tree).
  explicit WorkerNetns(uint32_t pid, const std::string& proc_root = "/proc");
  ~WorkerNetns();  // back to the namespace the thread was in
  WorkerNetns(const WorkerNetns&) = delete;
  WorkerNetns& operator=(const WorkerNetns&) = delete;

  bool entered() const { return entered_; }
  // Why not, when !entered().
  const std::string& error() const { return error_; }

 private:
  int self_ = -1;
  bool entered_ = false;
  std::string error_;
};

}  // namespace perfd
