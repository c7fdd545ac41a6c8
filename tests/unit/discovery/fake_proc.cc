#include "tests/unit/discovery/fake_proc.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace perfd::testing {

FakeProcTree::FakeProcTree() {
  char tmpl[] = "/tmp/perfd_fake_proc.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  // Non-pid entries a real /proc has.
  ::mkdir((root_ + "/self").c_str(), 0755);
  ::mkdir((root_ + "/sys").c_str(), 0755);
  WriteFile("uptime", "1.0 1.0\n");
}

FakeProcTree::~FakeProcTree() {
  std::error_code ignored;  // leaking a temp dir is not worth failing a test over
  std::filesystem::remove_all(root_, ignored);
}

void FakeProcTree::WriteFile(const std::string& relative_path, const std::string& content) {
  std::ofstream out(root_ + "/" + relative_path, std::ios::binary | std::ios::trunc);
  out << content;
}

void FakeProcTree::Add(FakeProcess p) {
  const std::string dir = root_ + "/" + std::to_string(p.pid);
  Remove(p.pid);
  ::mkdir(dir.c_str(), 0755);
  std::string comm = p.comm;
  if (comm.empty() && !p.argv.empty()) {
    comm = p.argv[0].substr(p.argv[0].rfind('/') + 1).substr(0, 15);
  }
  const uint64_t start_time = p.start_time != 0 ? p.start_time : 1000 + p.pid;
  // Fields 3..52 as in Linux 6.x; only ppid (4) and starttime (22) matter.
  std::string stat = std::to_string(p.pid) + " (" + comm + ") S " + std::to_string(p.ppid);
  for (int field = 5; field <= 21; ++field) stat += " " + std::to_string(field == 20 ? 1 : 0);
  stat += " " + std::to_string(start_time);
  for (int field = 23; field <= 52; ++field) stat += " 0";
  stat += "\n";
  WriteFile(std::to_string(p.pid) + "/stat", stat);
  std::string cmdline;
  for (const auto& arg : p.argv) cmdline += arg + std::string(1, '\0');
  WriteFile(std::to_string(p.pid) + "/cmdline", cmdline);
  std::string environ = "PATH=/usr/bin" + std::string(1, '\0');
  for (const auto& [k, v] : p.env) environ += k + "=" + v + std::string(1, '\0');
  WriteFile(std::to_string(p.pid) + "/environ", environ);
  const std::string exe = !p.exe.empty() ? p.exe : (p.argv.empty() ? "" : p.argv[0]);
  if (!exe.empty() && ::symlink(exe.c_str(), (dir + "/exe").c_str()) != 0) {
    throw std::runtime_error("symlink failed");
  }
}

void FakeProcTree::Remove(uint32_t pid) {
  std::filesystem::remove_all(root_ + "/" + std::to_string(pid));
}

}  // namespace perfd::testing
