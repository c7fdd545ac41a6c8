// Runs the real perfctl binary (PERFCTL_BIN) as a user would, with stdout
// and stderr captured in files, for the CLI tests against in-process
// servers.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace perfd {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PerfctlRunner {
 public:
  // Output goes to dir/out and dir/err.
  explicit PerfctlRunner(std::string dir) : dir_(std::move(dir)) {}

  // Starts perfctl with these arguments; returns its pid.
  pid_t Spawn(const std::vector<std::string>& args) const {
    std::vector<std::string> argv_storage = {PERFCTL_BIN};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, (dir_ + "/err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, PERFCTL_BIN, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }

  Result Wait(pid_t pid) const {
    Result r;
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = Slurp(dir_ + "/out");
    r.err = Slurp(dir_ + "/err");
    return r;
  }

  Result Run(const std::vector<std::string>& args) const { return Wait(Spawn(args)); }

  // What a running perfctl has written to stdout so far.
  std::string OutSoFar() const { return Slurp(dir_ + "/out"); }

 private:
  std::string dir_;
};

}  // namespace perfd
