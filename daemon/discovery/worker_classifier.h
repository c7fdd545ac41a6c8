// Decides whether a process is a uvicorn worker perfd should trace. Pure:
// works on ProcessInfo snapshots of the process and its ancestors, so every
// case (uvicorn, uvicorn --workers, gunicorn + UvicornWorker, setproctitle)
// is tested on fake trees.
#pragma once

#include <string>

#include "daemon/discovery/proc_reader.h"

namespace perfd {

enum class Role {
  kNone,
  kWorker,      // serves requests: trace it
  kSupervisor,  // uvicorn --workers/--reload parent or gunicorn master
};

struct Classification {
  Role role = Role::kNone;
  std::string app_spec;  // "shop.main:app"; may be empty for a renamed gunicorn
  std::string server;    // "uvicorn" or "gunicorn"
  // A multiprocessing spawn child: its own argv says nothing, so the service
  // is named from the supervisor's command line.
  bool named_by_parent = false;
  // argv is identical to the parent's: a fork that may be about to exec (a
  // uvicorn spawn child before exec looks like its supervisor). Discovery
  // re-checks such processes for a few scans instead of caching the verdict.
  bool same_argv_as_parent = false;
};

// parent/grandparent may be null (unknown, exited, or pid 1's parent).
Classification ClassifyProcess(const ProcessInfo& proc, const ProcessInfo* parent,
                               const ProcessInfo* grandparent);

}  // namespace perfd
