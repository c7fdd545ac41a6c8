// OpenMappedFile and the check under it: a regular file with the mapping's
// device and inode is opened; a FIFO, a symlink to another file or to a
// FIFO, a directory, or another inode are refused with a reason, and
// nothing blocks. Made-up maps lines point at temp files; the map_files
// cases map a temp file into this test process.
#include "daemon/python/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace perfd::python {
namespace {

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/perfd_mapped_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    return path;
  }

  // The maps line a process mapping `path` would have (lstat: the object
  // itself, so a FIFO's line names the FIFO).
  static MapEntry LineFor(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    MapEntry m;
    m.start = 0x400000;
    m.end = 0x401000;
    m.perms = "r--p";
    m.dev_major = major(st.st_dev);
    m.dev_minor = minor(st.st_dev);
    m.inode = st.st_ino;
    m.path = path;
    return m;
  }

  static std::string Refusal(const FileOrReason& r) {
    const auto* why = std::get_if<std::string>(&r);
    return why ? *why : "";
  }

  std::string dir_;
};

TEST_F(MappedFileTest, RegularFileWithTheMappingsInodeIsOpened) {
  std::string path = Write("lib.so", "0123456789");
  OpenResult result = OpenResult::kUnopenable;
  auto r = OpenIfMappedFile(path, LineFor(path), &result);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const MappedFile>>(r)) << Refusal(r);
  EXPECT_EQ(result, OpenResult::kMapFiles);
  const auto& f = std::get<std::shared_ptr<const MappedFile>>(r);
  EXPECT_EQ(f->size(), 10u);
  char buf[4];
  ASSERT_TRUE(f->ReadAt(6, buf, 4));
  EXPECT_EQ(std::string(buf, 4), "6789");
  EXPECT_FALSE(f->ReadAt(7, buf, 4));                 // past the end
  EXPECT_FALSE(f->ReadAt(~uint64_t{0} - 1, buf, 4));  // off + len wraps
  EXPECT_EQ(f->SelfPath(), "/proc/self/fd/" + std::to_string(f->fd()));
}

TEST_F(MappedFileTest, FifoIsRefusedWithoutBlocking) {
  std::string path = dir_ + "/lib.so (deleted)";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  OpenResult result = OpenResult::kMapFiles;
  auto r = OpenIfMappedFile(path, LineFor(path), &result);
  EXPECT_EQ(result, OpenResult::kNotRegular);
  EXPECT_NE(Refusal(r).find("is a FIFO"), std::string::npos) << Refusal(r);
  // The no-identity open for perfd's own paths refuses it too, at once.
  EXPECT_NE(Refusal(OpenRegularFile(path)).find("not a regular file"), std::string::npos);
}

TEST_F(MappedFileTest, SymlinkToAnotherFileIsRefused) {
  std::string mapped = Write("lib.so", "mapped");
  std::string secret = Write("secret", "host file");
  std::string link = dir_ + "/lib.so (deleted)";
  ASSERT_EQ(::symlink(secret.c_str(), link.c_str()), 0);
  OpenResult result = OpenResult::kMapFiles;
  auto r = OpenIfMappedFile(link, LineFor(mapped), &result);
  EXPECT_EQ(result, OpenResult::kNotTheMappedFile);
  EXPECT_NE(Refusal(r).find("the mapping is"), std::string::npos) << Refusal(r);
}

TEST_F(MappedFileTest, SymlinkToAFifoIsRefusedWithoutBlocking) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string link = dir_ + "/lib.so (deleted)";
  ASSERT_EQ(::symlink(fifo.c_str(), link.c_str()), 0);
  OpenResult result = OpenResult::kMapFiles;
  auto r = OpenIfMappedFile(link, LineFor(fifo), &result);
  EXPECT_EQ(result, OpenResult::kNotRegular);
  EXPECT_NE(Refusal(r).find("is a FIFO"), std::string::npos) << Refusal(r);
}

TEST_F(MappedFileTest, DirectoryIsRefused) {
  OpenResult result = OpenResult::kMapFiles;
  auto r = OpenIfMappedFile(dir_, LineFor(dir_), &result);
  EXPECT_EQ(result, OpenResult::kNotRegular);
  EXPECT_NE(Refusal(r).find("is a directory"), std::string::npos) << Refusal(r);
}

TEST_F(MappedFileTest, OtherInodeOrDeviceIsRefused) {
  std::string path = Write("lib.so", "x");
  MapEntry m = LineFor(path);
  m.inode += 1;
  OpenResult result = OpenResult::kMapFiles;
  EXPECT_NE(Refusal(OpenIfMappedFile(path, m, &result)).find("inode"), std::string::npos);
  EXPECT_EQ(result, OpenResult::kNotTheMappedFile);
  m = LineFor(path);
  m.dev_minor += 1;
  result = OpenResult::kMapFiles;
  EXPECT_FALSE(Refusal(OpenIfMappedFile(path, m, &result)).empty());
  EXPECT_EQ(result, OpenResult::kNotTheMappedFile);
}

// The real thing: this process maps a temp file, then it is deleted and a
// FIFO put at the name maps shows. As root the mapped inode is still read
// through map_files; without CAP_SYS_ADMIN the live file is read by name
// (same inode) and the deleted one refused. Either way nothing blocks.
TEST_F(MappedFileTest, OwnMappingThroughMapFiles) {
  std::string path = Write("lib.so", std::string(4096, 'P'));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  const uint32_t self = static_cast<uint32_t>(::getpid());
  const bool root = ::geteuid() == 0;

  auto find = [&](const std::string& name) {
    auto maps = ReadMaps(self);
    for (const MapEntry& m : std::get<std::vector<MapEntry>>(maps))
      if (m.path == name) return m;
    ADD_FAILURE() << name << " not in /proc/self/maps";
    return MapEntry{};
  };
  const auto before = MappedFileOpenCounts();
  auto live = OpenMappedFile(self, find(path));
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const MappedFile>>(live)) << Refusal(live);
  char c = 0;
  ASSERT_TRUE(std::get<std::shared_ptr<const MappedFile>>(live)->ReadAt(4095, &c, 1));
  EXPECT_EQ(c, 'P');
  const auto result = root ? OpenResult::kMapFiles : OpenResult::kRootPath;
  EXPECT_EQ(MappedFileOpenCounts()[size_t(result)], before[size_t(result)] + 1);

  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::mkfifo((path + " (deleted)").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto deleted = OpenMappedFile(self, find(path + " (deleted)"));
  if (root) {
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const MappedFile>>(deleted))
        << Refusal(deleted);
    ASSERT_TRUE(std::get<std::shared_ptr<const MappedFile>>(deleted)->ReadAt(0, &c, 1));
    EXPECT_EQ(c, 'P');
  } else {
    EXPECT_NE(Refusal(deleted).find("deleted"), std::string::npos) << Refusal(deleted);
  }
  ::munmap(map, 4096);
}

TEST_F(MappedFileTest, AnonymousMappingIsRefused) {
  MapEntry m;
  m.start = 0x1000;
  m.end = 0x2000;
  EXPECT_NE(Refusal(OpenMappedFile(static_cast<uint32_t>(::getpid()), m)).find("not backed"),
            std::string::npos);
}

}  // namespace
}  // namespace perfd::python
