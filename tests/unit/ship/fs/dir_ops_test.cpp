// delete_path, list_dir and resolve_cwd.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fs_test_util.hpp"
#include "ship/fs/ops.hpp"

namespace shipyard::ship::fs {
namespace {

using testing::failed_with;
using testing::FsTest;
using testing::get;
using testing::is_symlink;
using testing::kEscape;
using testing::lexists;
using testing::names_in;
using testing::put;
using testing::succeeded;

using DirOpsTest = FsTest;

// ---- delete_path ----

// Deleting a file reports it as a file.
TEST_F(DirOpsTest, DeleteFile) {
  put(host("a.txt"), "x");
  auto r = delete_path(ws(), "a.txt");
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->path, "/workspace/a.txt");
  EXPECT_FALSE(r->was_directory);
  EXPECT_FALSE(lexists(host("a.txt")));
}

// Deleting a directory removes the whole tree.
TEST_F(DirOpsTest, DeleteDirectoryRecursively) {
  put(host("t/a/b/c.txt"), "");
  mkdir_host("t/a/b/c");
  put(host("t/a/b/c/d"), "d");
  put(host("t/.hidden"), "h");
  mkdir_host("t/empty");
  ::chmod(host("t/a/b/c.txt").c_str(), 0);
  auto r = delete_path(ws(), "/workspace/t");
  ASSERT_TRUE(succeeded(r));
  EXPECT_TRUE(r->was_directory);
  EXPECT_EQ(r->path, "/workspace/t");
  EXPECT_FALSE(lexists(host("t")));
}

// Missing paths are 404 "Path not found"; the root cannot be deleted.
TEST_F(DirOpsTest, DeleteErrors) {
  EXPECT_TRUE(failed_with(delete_path(ws(), "nope"), ErrorCode::kFileNotFound,
                          "Path not found: /workspace/nope"));
  EXPECT_TRUE(failed_with(delete_path(ws(), "no/such/thing"), ErrorCode::kFileNotFound,
                          "Path not found: /workspace/no/such/thing"));
  put(host("f"), "x");
  EXPECT_TRUE(failed_with(delete_path(ws(), "f/x"), ErrorCode::kFileNotFound,
                          "Path not found: /workspace/f/x"));
  for (std::string_view root : {".", "/workspace", "./", "a/.."}) {
    EXPECT_TRUE(failed_with(delete_path(ws(), root), ErrorCode::kInvalidArgument,
                            "Cannot delete the workspace root"))
        << root;
  }
  EXPECT_TRUE(failed_with(delete_path(ws(), "../outside"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(
      failed_with(delete_path(ws(), outside_ + "/secret.txt"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(lexists(host("f")));
}

// A tree far deeper than the fd budget is deleted completely (subtrees get flattened).
TEST_F(DirOpsTest, DeleteVeryDeepTree) {
  mkdir_host("deep");
  int fd = ::open(host("deep").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 400; ++i) {
    ASSERT_EQ(::mkdirat(fd, "d", 0755), 0);
    int f = ::openat(fd, "x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    ASSERT_GE(f, 0);
    ::close(f);
    ASSERT_EQ(::symlinkat(outside_.c_str(), fd, "out"), 0);
    int next = ::openat(fd, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(next, 0);
    ::close(fd);
    fd = next;
  }
  ::close(fd);
  auto r = delete_path(ws(), "deep");
  ASSERT_TRUE(succeeded(r));
  EXPECT_FALSE(lexists(host("deep")));
  EXPECT_EQ(names_in(ws_dir_).size(), 0u);
}

// A wide directory is deleted completely.
TEST_F(DirOpsTest, DeleteWideDirectory) {
  mkdir_host("wide");
  for (int i = 0; i < 3000; ++i) put(host("wide/f" + std::to_string(i)), "");
  ASSERT_TRUE(succeeded(delete_path(ws(), "wide")));
  EXPECT_FALSE(lexists(host("wide")));
}

// ---- list_dir ----

DirEntry find(const ListResult& l, std::string_view name) {
  for (const auto& e : l.files) {
    if (e.name == name) return e;
  }
  ADD_FAILURE() << "no entry " << name;
  return {};
}

std::vector<std::string> names(const ListResult& l) {
  std::vector<std::string> out;
  for (const auto& e : l.files) out.push_back(e.name);
  return out;
}

// Directories first, then case-insensitive names; hidden names only on request.
TEST_F(DirOpsTest, ListOrdering) {
  put(host("b.txt"), "bb");
  put(host("A.txt"), "a");
  put(host("c"), "");
  put(host("B.txt"), "");
  mkdir_host("Zdir");
  mkdir_host("adir");
  put(host(".hidden"), "");
  mkdir_host(".hdir");
  auto r = list_dir(ws(), ".", false);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->current_path, "/workspace");
  EXPECT_EQ(names(*r), (std::vector<std::string>{"adir", "Zdir", "A.txt", "B.txt", "b.txt", "c"}));
  auto all = list_dir(ws(), "/workspace", true);
  ASSERT_TRUE(succeeded(all));
  EXPECT_EQ(names(*all), (std::vector<std::string>{".hdir", "adir", "Zdir", ".hidden", "A.txt",
                                                   "B.txt", "b.txt", "c"}));
}

// Entry fields: display paths, sizes for files only, mtime in seconds.
TEST_F(DirOpsTest, ListEntryFields) {
  put(host("sub/f.txt"), "12345");
  mkdir_host("sub/inner");
  struct timespec times[2] = {{1707550000, 250000000}, {1707550000, 250000000}};
  ASSERT_EQ(::utimensat(AT_FDCWD, host("sub/f.txt").c_str(), times, 0), 0);
  auto r = list_dir(ws(), "sub", false);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->current_path, "/workspace/sub");
  auto f = find(*r, "f.txt");
  EXPECT_EQ(f.path, "/workspace/sub/f.txt");
  EXPECT_TRUE(f.is_file);
  EXPECT_FALSE(f.is_dir);
  ASSERT_TRUE(f.size.has_value());
  EXPECT_EQ(*f.size, 5u);
  EXPECT_DOUBLE_EQ(f.modified_time, 1707550000.25);
  auto d = find(*r, "inner");
  EXPECT_EQ(d.path, "/workspace/sub/inner");
  EXPECT_TRUE(d.is_dir);
  EXPECT_FALSE(d.is_file);
  EXPECT_FALSE(d.size.has_value());
  EXPECT_GT(d.modified_time, 1.6e9);
}

// Symlinks are described by their target only when it resolves beneath the root.
TEST_F(DirOpsTest, ListSymlinks) {
  put(host("target.txt"), "abc");
  mkdir_host("tdir");
  symlink_host("target.txt", "in_file");
  symlink_host("tdir", "in_dir");
  symlink_host("./tdir/../target.txt", "in_dotdot");
  symlink_host(outside_, "out_abs");
  symlink_host("../outside/secret.txt", "out_rel");
  symlink_host(host("target.txt"), "abs_inside");  // absolute target counts as leaving
  symlink_host("/usr/bin/python3", "venv_python");
  symlink_host("missing", "dangling");
  symlink_host("loop", "loop");
  struct timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, host("out_abs").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);

  auto r = list_dir(ws(), ".", false);
  ASSERT_TRUE(succeeded(r));
  auto in_file = find(*r, "in_file");
  EXPECT_TRUE(in_file.is_file);
  EXPECT_EQ(in_file.size, std::optional<std::uint64_t>(3));
  EXPECT_TRUE(find(*r, "in_dir").is_dir);
  EXPECT_TRUE(find(*r, "in_dotdot").is_file);
  for (std::string_view other :
       {"out_abs", "out_rel", "abs_inside", "venv_python", "dangling", "loop"}) {
    auto e = find(*r, other);
    EXPECT_FALSE(e.is_file) << other;
    EXPECT_FALSE(e.is_dir) << other;
    EXPECT_FALSE(e.size.has_value()) << other;
  }
  EXPECT_DOUBLE_EQ(find(*r, "out_abs").modified_time, 1600000000.0);
  // in_dir is a directory for ordering purposes.
  EXPECT_EQ(names(*r).front(), "in_dir");
}

// Names that are not UTF-8 are sanitised for JSON.
TEST_F(DirOpsTest, ListSanitisesNames) {
  put(host("bad\xff.txt"), "");
  auto r = list_dir(ws(), ".", false);
  ASSERT_TRUE(succeeded(r));
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].name, "bad\xEF\xBF\xBD.txt");
  EXPECT_EQ(r->files[0].path, "/workspace/bad\xEF\xBF\xBD.txt");
}

// Missing → 404, file → 400, escape → 403, too many entries → 400.
TEST_F(DirOpsTest, ListErrors) {
  EXPECT_TRUE(failed_with(list_dir(ws(), "nope", false), ErrorCode::kFileNotFound,
                          "Path not found: /workspace/nope"));
  put(host("f.txt"), "");
  EXPECT_TRUE(failed_with(list_dir(ws(), "f.txt", false), ErrorCode::kInvalidArgument,
                          "Path is not a directory: /workspace/f.txt"));
  EXPECT_TRUE(failed_with(list_dir(ws(), "f.txt/x", false), ErrorCode::kFileNotFound,
                          "Path not found: /workspace/f.txt/x"));
  symlink_host(outside_, "out");
  EXPECT_TRUE(failed_with(list_dir(ws(), "out", false), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(list_dir(ws(), "..", false), ErrorCode::kPathEscape, kEscape));
  for (int i = 0; i < 5; ++i) put(host("many" + std::to_string(i)), "");
  EXPECT_TRUE(failed_with(list_dir(ws(), ".", false, 4), ErrorCode::kInvalidArgument,
                          "Directory has too many entries to list: /workspace (more than 4)"));
}

// ---- resolve_cwd ----

// cwd: existing or missing paths inside are accepted; escapes are 403.
TEST_F(DirOpsTest, ResolveCwd) {
  mkdir_host("sub/dir");
  put(host("file"), "");
  symlink_host(outside_, "out");
  symlink_host("../outside", "out_rel");
  symlink_host("sub", "alias");
  EXPECT_EQ(*resolve_cwd(ws(), ""), "/workspace");
  EXPECT_EQ(*resolve_cwd(ws(), "."), "/workspace");
  EXPECT_EQ(*resolve_cwd(ws(), "sub/dir"), "/workspace/sub/dir");
  EXPECT_EQ(*resolve_cwd(ws(), "/workspace/sub/"), "/workspace/sub");
  EXPECT_EQ(*resolve_cwd(ws(), "alias/dir"), "/workspace/alias/dir");
  EXPECT_EQ(*resolve_cwd(ws(), "missing/x"), "/workspace/missing/x");
  EXPECT_EQ(*resolve_cwd(ws(), "file"), "/workspace/file");
  EXPECT_TRUE(failed_with(resolve_cwd(ws(), "../x"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(resolve_cwd(ws(), "/tmp"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(resolve_cwd(ws(), "out"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(resolve_cwd(ws(), "out/sub"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(resolve_cwd(ws(), "out_rel/missing"), ErrorCode::kPathEscape, kEscape));
}

}  // namespace
}  // namespace shipyard::ship::fs
