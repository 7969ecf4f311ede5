#include "bay/drivers/safe_remove.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace shipyard::bay {
namespace {

namespace fs = std::filesystem;

class SafeRemoveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bay-remove-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_, fs::perms::owner_all, ec);
    fs::remove_all(root_, ec);
  }
  void touch(const fs::path& p, const std::string& content = "x") { std::ofstream(p) << content; }
  fs::path root_;
};

// A tree with files, nested directories and symlinks (to a file and a directory outside
// the tree) is removed; the symlink targets are untouched.
TEST_F(SafeRemoveTest, RemovesTreeWithoutFollowingSymlinks) {
  fs::create_directories(root_ / "outside/keep");
  touch(root_ / "outside/keep/precious.txt");
  touch(root_ / "outside/file.txt");
  fs::create_directories(root_ / "tree/a/b/c");
  touch(root_ / "tree/a/b/c/f");
  touch(root_ / "tree/top");
  fs::create_directory_symlink(root_ / "outside/keep", root_ / "tree/a/link-dir");
  fs::create_symlink(root_ / "outside/file.txt", root_ / "tree/a/b/link-file");
  fs::create_symlink("/", root_ / "tree/root-link");
  ASSERT_EQ(::mkfifo((root_ / "tree/a/fifo").c_str(), 0600), 0);

  auto s = remove_tree((root_ / "tree").string());
  ASSERT_TRUE(s.ok()) << s.error().context;
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "tree")));
  EXPECT_TRUE(fs::exists(root_ / "outside/keep/precious.txt"));
  EXPECT_TRUE(fs::exists(root_ / "outside/file.txt"));
}

// Removing a missing entry succeeds; a plain file or a symlink given as the root is
// removed itself (a symlink's target is kept).
TEST_F(SafeRemoveTest, MissingFileAndSymlinkRoots) {
  EXPECT_TRUE(remove_tree((root_ / "nothing").string()).ok());
  touch(root_ / "file");
  EXPECT_TRUE(remove_tree((root_ / "file").string()).ok());
  EXPECT_FALSE(fs::exists(root_ / "file"));
  fs::create_directories(root_ / "target");
  touch(root_ / "target/x");
  fs::create_directory_symlink(root_ / "target", root_ / "link");
  EXPECT_TRUE(remove_tree((root_ / "link").string()).ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "link")));
  EXPECT_TRUE(fs::exists(root_ / "target/x"));
}

// Depth far beyond the number of descriptors kept open is handled without recursion.
TEST_F(SafeRemoveTest, VeryDeepTree) {
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::mkdirat(fd, "deep", 0700), 0);
  int cur = ::openat(fd, "deep", O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(::mkdirat(cur, "d", 0700), 0);
    int next = ::openat(cur, "d", O_RDONLY | O_DIRECTORY);
    int f = ::openat(cur, "file", O_CREAT | O_WRONLY, 0600);
    ::close(f);
    ::close(cur);
    cur = next;
  }
  ::close(cur);
  ::close(fd);
  auto s = remove_tree((root_ / "deep").string());
  ASSERT_TRUE(s.ok()) << s.error().context;
  EXPECT_FALSE(fs::exists(root_ / "deep"));
}

// Directories the sandbox user left without permissions are still emptied.
TEST_F(SafeRemoveTest, LockedDirectories) {
  fs::create_directories(root_ / "t/locked/inner");
  touch(root_ / "t/locked/inner/f");
  ASSERT_EQ(::chmod((root_ / "t/locked/inner").c_str(), 0), 0);
  ASSERT_EQ(::chmod((root_ / "t/locked").c_str(), 0500), 0);
  auto s = remove_tree((root_ / "t").string());
  ASSERT_TRUE(s.ok()) << s.error().context;
  EXPECT_FALSE(fs::exists(root_ / "t"));
}

// Relative paths are refused.
TEST_F(SafeRemoveTest, RefusesRelativePaths) { EXPECT_FALSE(remove_tree("relative/path").ok()); }

}  // namespace
}  // namespace shipyard::bay
