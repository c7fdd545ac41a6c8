#include "daemon/discovery/worker_classifier.h"

#include <cctype>
#include <cstdlib>

#include "daemon/discovery/server_argv.h"

namespace perfd {
namespace {

using server_argv::Command;
using server_argv::Program;

std::string Env(const ProcessInfo& p, const char* name) {
  const auto it = p.env.find(name);
  return it == p.env.end() ? "" : it->second;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// click's boolean parsing of UVICORN_RELOAD.
bool ClickTruthy(const std::string& v) {
  const std::string s = Lower(v);
  return s == "1" || s == "true" || s == "t" || s == "yes" || s == "y" || s == "on";
}

bool SameArgv(const ProcessInfo* other, const ProcessInfo& proc) {
  return other != nullptr && !other->argv.empty() && other->argv == proc.argv;
}

Classification ClassifyUvicorn(const ProcessInfo& proc, const ProcessInfo* parent,
                               const Command& cmd) {
  Classification c;
  c.server = "uvicorn";
  if (SameArgv(parent, proc)) {
    // uvicorn never forks a copy of itself: this is a spawn child before its
    // exec, or the app forking (multiprocessing "fork"). Neither serves.
    c.same_argv_as_parent = true;
    return c;
  }
  const auto args = server_argv::ParseUvicornArgs(cmd.args);
  c.app_spec = args.app_spec;
  // Precedence as in uvicorn 0.17: --workers, then click's UVICORN_WORKERS,
  // then WEB_CONCURRENCY (Config.__init__).
  int workers = args.workers;
  if (workers == 0) workers = std::atoi(Env(proc, "UVICORN_WORKERS").c_str());
  if (workers == 0) workers = std::atoi(Env(proc, "WEB_CONCURRENCY").c_str());
  const bool reload = args.reload || ClickTruthy(Env(proc, "UVICORN_RELOAD"));
  c.role = (reload || workers > 1) ? Role::kSupervisor : Role::kWorker;
  return c;
}

// Custom subclasses ("myapp.workers.QuietUvicornWorker") count too.
bool IsUvicornWorkerClass(const std::string& worker_class) {
  return Lower(worker_class).find("uvicorn") != std::string::npos;
}

// gunicorn forks workers without exec, so a worker has its master's exact
// argv. Master = same command whose parent is something else.
Role GunicornRoleByAncestry(const ProcessInfo& proc, const ProcessInfo* parent,
                            const ProcessInfo* grandparent) {
  if (!SameArgv(parent, proc)) return Role::kSupervisor;
  // Parent is itself a copy: we are a fork of a worker (the app forking).
  if (SameArgv(grandparent, proc)) return Role::kNone;
  return Role::kWorker;
}

Classification ClassifyGunicorn(const ProcessInfo& proc, const ProcessInfo* parent,
                                const ProcessInfo* grandparent, const Command& cmd) {
  Classification c;
  c.server = "gunicorn";
  const auto args = server_argv::ParseGunicornArgs(cmd.args);
  // The command line overrides GUNICORN_CMD_ARGS, as in gunicorn.
  std::string worker_class = args.worker_class;
  if (worker_class.empty()) {
    worker_class =
        server_argv::ParseGunicornArgs(server_argv::ShellSplit(Env(proc, "GUNICORN_CMD_ARGS")))
            .worker_class;
  }
  // No class given means gunicorn's default "sync" (WSGI) worker.
  if (!IsUvicornWorkerClass(worker_class)) return c;
  c.app_spec = args.app_spec;
  c.role = GunicornRoleByAncestry(proc, parent, grandparent);
  return c;
}

Classification ClassifyGunicornTitle(const ProcessInfo& proc, const ProcessInfo* parent,
                                     const ProcessInfo* grandparent, const Command& cmd) {
  Classification c;
  c.server = "gunicorn";
  // The title hides the worker class; only GUNICORN_CMD_ARGS can still rule
  // it out. Otherwise assume an ASGI (uvicorn) worker.
  const std::string env_class =
      server_argv::ParseGunicornArgs(server_argv::ShellSplit(Env(proc, "GUNICORN_CMD_ARGS")))
          .worker_class;
  if (!env_class.empty() && !IsUvicornWorkerClass(env_class)) return c;
  if (server_argv::LooksLikeAppSpec(cmd.title_name)) c.app_spec = cmd.title_name;
  if (cmd.title_master) {
    // A just-forked worker still carries the master's title.
    c.role = GunicornRoleByAncestry(proc, parent, grandparent);
    return c;
  }
  if (parent != nullptr) {
    const Classification p = ClassifyProcess(*parent, grandparent, nullptr);
    if (p.role == Role::kSupervisor && p.server == "gunicorn") c.role = Role::kWorker;
  }
  return c;
}

}  // namespace

Classification ClassifyProcess(const ProcessInfo& proc, const ProcessInfo* parent,
                               const ProcessInfo* grandparent) {
  const Command cmd = server_argv::ParseCommand(proc.argv);
  switch (cmd.program) {
    case Program::kUvicorn:
      return ClassifyUvicorn(proc, parent, cmd);
    case Program::kGunicorn:
      return ClassifyGunicorn(proc, parent, grandparent, cmd);
    case Program::kGunicornTitle:
      return ClassifyGunicornTitle(proc, parent, grandparent, cmd);
    case Program::kSpawnChild: {
      Classification c;
      if (parent == nullptr) return c;
      const Classification p = ClassifyProcess(*parent, grandparent, nullptr);
      if (p.role == Role::kSupervisor && p.server == "uvicorn") {
        c.role = Role::kWorker;
        c.app_spec = p.app_spec;
        c.server = p.server;
        c.named_by_parent = true;
      }
      return c;
    }
    case Program::kOther:
      break;
  }
  return {};
}

}  // namespace perfd
