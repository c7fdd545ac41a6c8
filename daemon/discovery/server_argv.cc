#include "daemon/discovery/server_argv.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

namespace perfd::server_argv {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// "a.b.c": dot-separated Python identifiers.
bool IsDottedName(const std::string& s) {
  if (s.empty()) return false;
  bool at_start = true;
  for (char c : s) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
    } else if (at_start ? IsIdentStart(c) : IsIdentChar(c)) {
      at_start = false;
    } else {
      return false;
    }
  }
  return !at_start;
}

std::vector<std::string> Tail(const std::vector<std::string>& v, size_t from) {
  return from >= v.size() ? std::vector<std::string>{}
                          : std::vector<std::string>(v.begin() + static_cast<long>(from), v.end());
}

// setproctitle'd gunicorn: "gunicorn: master [shop.main:app]".
bool ParseTitle(const std::vector<std::string>& argv, Command& out) {
  std::string title = argv[0];
  while (!title.empty() && std::isspace(static_cast<unsigned char>(title.back()))) {
    title.pop_back();
  }
  for (const bool master : {true, false}) {
    const std::string prefix = master ? "gunicorn: master [" : "gunicorn: worker [";
    if (StartsWith(title, prefix) && title.size() > prefix.size() && title.back() == ']') {
      out.program = Program::kGunicornTitle;
      out.title_master = master;
      out.title_name = title.substr(prefix.size(), title.size() - prefix.size() - 1);
      return true;
    }
  }
  return false;
}

Program ProgramByName(const std::string& name) {
  if (name == "uvicorn") return Program::kUvicorn;
  if (name == "gunicorn") return Program::kGunicorn;
  return Program::kOther;
}

// python [options] (script | -m module | -c command | -) [args...]
// Short options may be bundled ("-Bm uvicorn"); -c/-m end option parsing;
// -W/-X take a value (attached or next argument).
Command ParsePython(const std::vector<std::string>& argv) {
  Command out;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      if (i + 1 < argv.size()) {
        out.program = ProgramByName(Basename(argv[i + 1]));
        out.args = Tail(argv, i + 2);
      }
      return out;
    }
    if (StartsWith(a, "--")) {
      if (a == "--check-hash-based-pycs") ++i;
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {  // the script (or "-": stdin)
      if (a != "-") out.program = ProgramByName(Basename(a));
      out.args = Tail(argv, i + 1);
      return out;
    }
    for (size_t j = 1; j < a.size(); ++j) {
      const char opt = a[j];
      if (opt != 'c' && opt != 'm' && opt != 'W' && opt != 'X') continue;
      std::string value = a.substr(j + 1);
      if (value.empty() && i + 1 < argv.size()) value = argv[++i];
      if (opt == 'm') {
        out.program = ProgramByName(value);
        out.args = Tail(argv, i + 1);
        return out;
      }
      if (opt == 'c') {
        out.args = Tail(argv, i + 1);
        const bool fork_flag =
            std::find(out.args.begin(), out.args.end(), "--multiprocessing-fork") != out.args.end();
        if (value.find("from multiprocessing.spawn import spawn_main") != std::string::npos &&
            fork_flag) {
          out.program = Program::kSpawnChild;
        }
        return out;
      }
      break;  // -W/-X consumed the rest of this argument
    }
  }
  return out;
}

}  // namespace

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsPythonInterpreter(const std::string& path) {
  const std::string base = Basename(path);
  if (!StartsWith(base, "python")) return false;
  size_t i = 6;
  while (i < base.size() && (std::isdigit(static_cast<unsigned char>(base[i])) || base[i] == '.')) {
    ++i;
  }
  std::string rest = base.substr(i);
  if (rest.size() >= 4 && rest.compare(rest.size() - 4, 4, "-dbg") == 0) {
    rest.resize(rest.size() - 4);
  }
  // ABI suffixes: d (debug), m (pymalloc, <3.8), t (free-threaded), u.
  return rest.empty() || std::all_of(rest.begin(), rest.end(), [](char c) {
           return c == 'd' || c == 'm' || c == 't' || c == 'u';
         });
}

bool LooksLikeAppSpec(const std::string& arg) {
  const size_t colon = arg.find(':');
  if (colon == std::string::npos || !IsDottedName(arg.substr(0, colon))) return false;
  std::string attr = arg.substr(colon + 1);
  const size_t paren = attr.find('(');
  if (paren != std::string::npos) {
    if (attr.back() != ')') return false;  // gunicorn factory call "create_app()"
    attr.resize(paren);
  }
  return IsDottedName(attr);
}

Command ParseCommand(const std::vector<std::string>& argv) {
  Command out;
  if (argv.empty()) return out;
  if (ParseTitle(argv, out)) return out;
  const Program direct = ProgramByName(Basename(argv[0]));
  if (direct != Program::kOther) {
    out.program = direct;
    out.args = Tail(argv, 1);
    return out;
  }
  if (IsPythonInterpreter(argv[0])) return ParsePython(argv);
  return out;
}

UvicornArgs ParseUvicornArgs(const std::vector<std::string>& args) {
  // uvicorn 0.17 (click) options that take a value; everything else that
  // starts with "--" is a flag (--reload, --factory, --proxy-headers, ...).
  static const std::set<std::string> kValued = {
      "--host",
      "--port",
      "--uds",
      "--fd",
      "--workers",
      "--loop",
      "--http",
      "--ws",
      "--lifespan",
      "--interface",
      "--env-file",
      "--log-config",
      "--log-level",
      "--root-path",
      "--limit-concurrency",
      "--backlog",
      "--limit-max-requests",
      "--timeout-keep-alive",
      "--header",
      "--forwarded-allow-ips",
      "--app-dir",
      "--reload-dir",
      "--reload-include",
      "--reload-exclude",
      "--reload-delay",
      "--ws-max-size",
      "--ws-ping-interval",
      "--ws-ping-timeout",
      "--ws-per-message-deflate",
      "--h11-max-incomplete-event-size",
  };
  UvicornArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    if (options_done || a.size() < 2 || a[0] != '-') {
      if (out.app_spec.empty() && LooksLikeAppSpec(a)) out.app_spec = a;
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    std::string value;
    if (kValued.count(name) || StartsWith(name, "--ssl-")) {
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      }
    }
    if (name == "--workers") out.workers = std::atoi(value.c_str());
    if (name == "--reload" || name == "--debug") out.reload = true;
  }
  return out;
}

GunicornArgs ParseGunicornArgs(const std::vector<std::string>& args) {
  // gunicorn 20.1 (argparse) options that take a value.
  static const std::set<std::string> kValued = {"--config",
                                                "--bind",
                                                "--backlog",
                                                "--workers",
                                                "--worker-class",
                                                "--threads",
                                                "--worker-connections",
                                                "--max-requests",
                                                "--max-requests-jitter",
                                                "--timeout",
                                                "--graceful-timeout",
                                                "--keep-alive",
                                                "--limit-request-line",
                                                "--limit-request-fields",
                                                "--limit-request-field_size",
                                                "--reload-engine",
                                                "--reload-extra-file",
                                                "--chdir",
                                                "--env",
                                                "--pid",
                                                "--worker-tmp-dir",
                                                "--user",
                                                "--group",
                                                "--umask",
                                                "--forwarded-allow-ips",
                                                "--access-logfile",
                                                "--access-logformat",
                                                "--error-logfile",
                                                "--log-file",
                                                "--log-level",
                                                "--logger-class",
                                                "--log-config",
                                                "--log-syslog-to",
                                                "--log-syslog-prefix",
                                                "--log-syslog-facility",
                                                "--statsd-host",
                                                "--dogstatsd-tags",
                                                "--statsd-prefix",
                                                "--name",
                                                "--pythonpath",
                                                "--paste",
                                                "--paster",
                                                "--proxy-allow-from",
                                                "--keyfile",
                                                "--certfile",
                                                "--ssl-version",
                                                "--cert-reqs",
                                                "--ca-certs",
                                                "--ciphers",
                                                "--paste-global"};
  static const std::set<std::string> kFlags = {"--reload",
                                               "--spew",
                                               "--check-config",
                                               "--print-config",
                                               "--preload",
                                               "--no-sendfile",
                                               "--reuse-port",
                                               "--daemon",
                                               "--initgroups",
                                               "--disable-redirect-access-to-syslog",
                                               "--capture-output",
                                               "--log-syslog",
                                               "--enable-stdio-inheritance",
                                               "--proxy-protocol",
                                               "--suppress-ragged-eofs",
                                               "--do-handshake-on-connect",
                                               "--strip-header-spaces",
                                               "--tolerate-dangerous-framing",
                                               "--version",
                                               "--help"};
  static const std::string kShortValued = "cbwktepugmn";

  GunicornArgs out;
  std::string first_positional;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    if (options_done || a.size() < 2 || a[0] != '-') {
      if (first_positional.empty()) first_positional = a;
      if (out.app_spec.empty() && LooksLikeAppSpec(a)) out.app_spec = a;
      continue;
    }
    std::string name;
    std::string value;
    bool valued = false;
    bool has_value = false;
    if (a[1] != '-') {  // short: "-w 2", "-w2", "-k=uvicorn..."
      name = a.substr(0, 2);
      valued = kShortValued.find(a[1]) != std::string::npos;
      if (valued && a.size() > 2) {
        value = a.substr(a[2] == '=' ? 3 : 2);
        has_value = true;
      }
    } else {
      const size_t eq = a.find('=');
      name = a.substr(0, eq);
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        has_value = true;
      }
      if (!kValued.count(name) && !kFlags.count(name)) {
        // argparse accepts any unambiguous prefix of a long option.
        std::string match;
        int matches = 0;
        for (const auto* set : {&kValued, &kFlags}) {
          for (const auto& opt : *set) {
            if (StartsWith(opt, name)) {
              match = opt;
              ++matches;
            }
          }
        }
        if (matches == 1) name = match;
      }
      valued = kValued.count(name) > 0;
    }
    if (valued && !has_value && i + 1 < args.size()) value = args[++i];
    if (name == "-k" || name == "--worker-class") out.worker_class = value;
  }
  // gunicorn's "module" alone means "module:application".
  if (out.app_spec.empty() && IsDottedName(first_positional)) {
    out.app_spec = first_positional + ":application";
  }
  return out;
}

std::vector<std::string> ShellSplit(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
      } else {
        cur.push_back(c);
      }
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) {
        cur.push_back(text[++i]);
      } else {
        cur.push_back(c);
      }
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      in_word = true;
      if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '\\' && i + 1 < text.size()) {
        cur.push_back(text[++i]);
      } else {
        cur.push_back(c);
      }
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

}  // namespace perfd::server_argv
