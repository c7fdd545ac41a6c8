// A WorkerDirectory over a fixed list, for tests.
#pragma once

#include <mutex>
#include <vector>

#include "daemon/api/worker_directory.h"

namespace perfd {

class FakeWorkerDirectory : public WorkerDirectory {
 public:
  void Set(std::vector<Worker> workers) {
    std::lock_guard<std::mutex> lock(mu_);
    workers_ = std::move(workers);
  }
  std::vector<Worker> Workers() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Worker> workers_;
};

inline Worker MakeWorker(uint32_t pid, const std::string& service) {
  Worker w;
  w.pid = pid;
  w.service = service;
  w.app_spec = service + ".main:app";
  w.server = "uvicorn";
  w.argv = {"python3", "-m", "uvicorn", w.app_spec};
  return w;
}

}  // namespace perfd
