// Command-line parsing for the Python servers perfd recognises: how python
// was invoked (script, -m, -c) and the uvicorn / gunicorn options that decide
// a process's role. Pure functions over argv, shared by the classifier.
#pragma once

#include <string>
#include <vector>

namespace perfd::server_argv {

std::string Basename(const std::string& path);

// "python", "python3", "/usr/bin/python3.11", "python3.12d", "python3-dbg".
bool IsPythonInterpreter(const std::string& path);

// "module:attr", "pkg.mod:attr", "pkg.mod:create_app()", "mod:factory('x')".
bool LooksLikeAppSpec(const std::string& arg);

enum class Program {
  kOther,
  kUvicorn,        // uvicorn CLI: args = its arguments
  kGunicorn,       // gunicorn CLI: args = its arguments
  kGunicornTitle,  // renamed by setproctitle: "gunicorn: master [name]"
  kSpawnChild,     // python -c "...spawn_main(...)" --multiprocessing-fork
};

struct Command {
  Program program = Program::kOther;
  std::vector<std::string> args;
  bool title_master = false;  // kGunicornTitle: master (else worker)
  std::string title_name;     // kGunicornTitle: text in the brackets
};

// argv[0] (or, when argv[0] is python, its script or "-m" module) must BE
// uvicorn/gunicorn; a program that merely mentions them is kOther.
Command ParseCommand(const std::vector<std::string>& argv);

struct UvicornArgs {
  std::string app_spec;  // first positional that LooksLikeAppSpec
  bool reload = false;   // --reload / --debug
  int workers = 0;       // --workers; 0 = not given
};
UvicornArgs ParseUvicornArgs(const std::vector<std::string>& args);

struct GunicornArgs {
  std::string app_spec;
  std::string worker_class;  // -k / --worker-class; empty = not given
};
GunicornArgs ParseGunicornArgs(const std::vector<std::string>& args);

// Splits GUNICORN_CMD_ARGS like shlex.split (quotes, backslashes).
std::vector<std::string> ShellSplit(const std::string& text);

}  // namespace perfd::server_argv
