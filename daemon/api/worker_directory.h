// The API lists services together with their workers. Discovery owns the
// live worker set; this interface lets the API read it without depending on
// discovery internals (and lets tests hand in a fixed list).
#pragma once

#include <vector>

#include "daemon/discovery/worker.h"

namespace perfd {

class WorkerDirectory {
 public:
  virtual ~WorkerDirectory() = default;
  // A copy of the workers traced right now; called from gRPC threads.
  virtual std::vector<Worker> Workers() const = 0;
};

}  // namespace perfd
