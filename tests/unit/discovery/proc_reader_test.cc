#include "daemon/discovery/proc_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "tests/unit/discovery/fake_proc.h"

namespace perfd {
namespace {

using testing::FakeProcess;
using testing::FakeProcTree;
using testing::Proc;

TEST(ParseStatTest, ReadsFieldsAfterTheLastParen) {
  // comm may hold spaces and parens; a naive split would shift every field.
  const std::string text =
      "4242 (we(ird) ) name) S 77 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 "
      "987654 123456 789 18446744073709551615 1 1 0 0 0 0 0 16781312 16386 0 0 0 17 1 0 0\n";
  const auto st = ParseStat(text);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->ppid, 77u);
  EXPECT_EQ(st->start_time, 987654u);
  EXPECT_EQ(st->comm, "we(ird) ) name");
}

TEST(ParseStatTest, RejectsTruncatedOrGarbage) {
  EXPECT_FALSE(ParseStat("").has_value());
  EXPECT_FALSE(ParseStat("12 (x S 1 2 3").has_value());
  EXPECT_FALSE(ParseStat("12 (x) S 1 2 3 4").has_value());  // ends before field 22
  EXPECT_FALSE(
      ParseStat("12 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20").has_value());
}

TEST(ParseCmdlineTest, SplitsOnNulAndDropsPadding) {
  using V = std::vector<std::string>;
  EXPECT_EQ(ParseCmdline(std::string("uvicorn\0a:b\0", 12)), (V{"uvicorn", "a:b"}));
  EXPECT_EQ(ParseCmdline(std::string("x\0\0y\0", 5)), (V{"x", "", "y"}));
  // setproctitle: title then NUL padding over the old argv area.
  EXPECT_EQ(ParseCmdline(std::string("gunicorn: worker [a:b]\0\0\0\0", 26)),
            (V{"gunicorn: worker [a:b]"}));
  EXPECT_EQ(ParseCmdline(""), V{});
  EXPECT_EQ(ParseCmdline("no-terminator"), V{"no-terminator"});
}

TEST(ProcReaderTest, ListsOnlyNumericEntries) {
  FakeProcTree tree;
  tree.Add(Proc(30, 1, {"a"}));
  tree.Add(Proc(7, 1, {"b"}));
  tree.Add(Proc(1000, 1, {"c"}));
  ProcReader reader(tree.root());
  EXPECT_EQ(reader.ListPids(), (std::vector<uint32_t>{7, 30, 1000}));
  EXPECT_TRUE(ProcReader("/nonexistent/proc").ListPids().empty());
}

TEST(ProcReaderTest, ReadsAProcessAndKeepsOnlyWhitelistedEnv) {
  FakeProcTree tree;
  FakeProcess p = Proc(321, 12, {"/usr/bin/python3", "-m", "uvicorn", "shop.main:app"},
                       {{"PERFD_SERVICE", "shop"},
                        {"OTEL_SERVICE_NAME", "shop-otel"},
                        {"WEB_CONCURRENCY", "4"},
                        {"DATABASE_PASSWORD", "hunter2"},
                        {"PERFD_SERVICEX", "nope"},
                        {"XPERFD_SERVICE", "nope"}});
  p.start_time = 55555;
  tree.Add(p);
  ProcReader reader(tree.root());
  const auto info = reader.ReadProcess(321);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->pid, 321u);
  EXPECT_EQ(info->ppid, 12u);
  EXPECT_EQ(info->start_time, 55555u);
  EXPECT_EQ(info->comm, "python3");
  EXPECT_EQ(info->argv,
            (std::vector<std::string>{"/usr/bin/python3", "-m", "uvicorn", "shop.main:app"}));
  EXPECT_EQ(info->exe, "/usr/bin/python3");
  EXPECT_EQ(info->env, (std::map<std::string, std::string>{{"PERFD_SERVICE", "shop"},
                                                           {"OTEL_SERVICE_NAME", "shop-otel"},
                                                           {"WEB_CONCURRENCY", "4"}}));
}

TEST(ProcReaderTest, EnvValueSpanningReadChunksAndLongValues) {
  FakeProcTree tree;
  tree.Add(Proc(5, 1, {"x"}));
  // 5000 bytes of filler push PERFD_SERVICE across the 4 KiB read boundary;
  // a 3000-byte value is truncated to 1024; the last entry has no final NUL.
  const std::string environ = "FILLER=" + std::string(4090, 'f') + std::string(1, '\0') +
                              "OTEL_SERVICE_NAME=" + std::string(3000, 'o') + std::string(1, '\0') +
                              "PERFD_SERVICE=tail";
  tree.WriteFile("5/environ", environ);
  const auto info = ProcReader(tree.root()).ReadProcess(5);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->env.at("PERFD_SERVICE"), "tail");
  EXPECT_EQ(info->env.at("OTEL_SERVICE_NAME"), std::string(1024, 'o'));
  EXPECT_EQ(info->env.count("FILLER"), 0u);
}

TEST(ProcReaderTest, VanishedOrUnreadableProcessIsNullopt) {
  FakeProcTree tree;
  ProcReader reader(tree.root());
  EXPECT_FALSE(reader.ReadStat(999).has_value());
  EXPECT_FALSE(reader.ReadProcess(999).has_value());
  // stat present but cmdline gone: it exited between the two reads.
  tree.Add(Proc(10, 1, {"x"}));
  std::remove((tree.root() + "/10/cmdline").c_str());
  EXPECT_FALSE(reader.ReadProcess(10).has_value());
  // Kernel thread: empty cmdline, no exe link, no environ: still a process.
  FakeProcess kthreadd = Proc(2, 0, {});
  kthreadd.comm = "kthreadd";
  tree.Add(kthreadd);
  const auto kthread = reader.ReadProcess(2);
  ASSERT_TRUE(kthread.has_value());
  EXPECT_TRUE(kthread->argv.empty());
  EXPECT_EQ(kthread->exe, "");
  EXPECT_EQ(kthread->comm, "kthreadd");
}

TEST(ProcReaderTest, ErrorsTellGoneFromUnknown) {
  FakeProcTree tree;
  tree.Add(Proc(10, 1, {"x"}));
  ProcReader reader(tree.root());
  int error = -1;
  EXPECT_TRUE(reader.ReadStat(10, &error).has_value());
  EXPECT_EQ(error, 0);
  EXPECT_FALSE(reader.ReadStat(999, &error).has_value());
  EXPECT_TRUE(ProcessGone(error));
  EXPECT_FALSE(reader.ReadProcess(999, &error).has_value());
  EXPECT_TRUE(ProcessGone(error));
  tree.WriteFile("10/stat", "10 (x) S 1 2");  // truncated: not an exit
  EXPECT_FALSE(reader.ReadStat(10, &error).has_value());
  EXPECT_FALSE(ProcessGone(error));
  EXPECT_FALSE(ProcReader("/nonexistent/proc").ListPids(&error).size());
  EXPECT_EQ(error, ENOENT);
}

TEST(ProcReaderTest, OutOfFdsIsNotAnExit) {
  // The real failure: a traced app made perfd use up its fds. Reads of a
  // live process (ourselves) fail with EMFILE, which must not read as "gone".
  ProcReader reader;
  const auto self = static_cast<uint32_t>(getpid());
  // A low soft limit keeps the fd table small; restored below.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 128);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const int base = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(base, 0);
  std::vector<int> held{base};
  for (;;) {
    const int fd = ::fcntl(base, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) break;
    held.push_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);
  int stat_error = 0, process_error = 0, list_error = 0;
  const bool stat_ok = reader.ReadStat(self, &stat_error).has_value();
  const bool process_ok = reader.ReadProcess(self, &process_error).has_value();
  reader.ListPids(&list_error);
  for (int fd : held) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_FALSE(stat_ok);
  EXPECT_EQ(stat_error, EMFILE);
  EXPECT_FALSE(process_ok);
  EXPECT_EQ(process_error, EMFILE);
  EXPECT_EQ(list_error, EMFILE);
  EXPECT_FALSE(ProcessGone(stat_error));
}

TEST(ProcReaderTest, ReadsTheRealProc) {
  ProcReader reader;  // "/proc"
  const auto self = reader.ReadProcess(static_cast<uint32_t>(getpid()));
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->ppid, static_cast<uint32_t>(getppid()));
  EXPECT_GT(self->start_time, 0u);
  ASSERT_FALSE(self->argv.empty());
  EXPECT_NE(self->argv[0].find("perfd_discovery_test"), std::string::npos);
  EXPECT_NE(self->exe.find("perfd_discovery_test"), std::string::npos);
  const auto pids = reader.ListPids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), static_cast<uint32_t>(getpid())), pids.end());
}

}  // namespace
}  // namespace perfd
