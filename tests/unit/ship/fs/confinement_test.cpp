// Symlink and hard-link confinement across all operations (spec §3.2 step 3).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

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
using testing::put;
using testing::succeeded;

class ConfinementTest : public FsTest {
 protected:
  // Every operation on `path` must be refused with the 403 of spec §3.2.
  void expect_all_refused(const std::string& path) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(failed_with(read_file(ws(), path, {}, {}), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(read_file(ws(), path, 1, 1), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(write_file(ws(), path, "x", false), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(write_file(ws(), path, "x", true), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(create_file(ws(), path, "x"), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(
        failed_with(edit_file(ws(), path, "SECRET", "x", true), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(open_for_download(ws(), path), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(list_dir(ws(), path, true), ErrorCode::kPathEscape, kEscape));
  }
};

// A symlink to an outside directory (like /etc) is refused when followed, for every op.
TEST_F(ConfinementTest, AbsoluteSymlinkToOutsideDirectory) {
  symlink_host(outside_, "etc");
  expect_all_refused("etc/secret.txt");
  expect_all_refused("etc/sub/deep.txt");
  expect_all_refused("etc/new.txt");
  expect_all_refused("etc/newdir/new.txt");
  EXPECT_TRUE(
      failed_with(UploadSink::create(ws(), "etc/new.txt"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(delete_path(ws(), "etc/secret.txt"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(delete_path(ws(), "etc/sub"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(resolve_cwd(ws(), "etc"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(list_dir(ws(), "etc", false), ErrorCode::kPathEscape, kEscape));
}

// A symlink to the real /etc is refused too.
TEST_F(ConfinementTest, SymlinkToEtc) {
  symlink_host("/etc", "etc");
  EXPECT_TRUE(failed_with(read_file(ws(), "etc/passwd", {}, {}), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(list_dir(ws(), "etc", false), ErrorCode::kPathEscape, kEscape));
  symlink_host("/etc/passwd", "passwd");
  EXPECT_TRUE(failed_with(read_file(ws(), "passwd", {}, {}), ErrorCode::kPathEscape, kEscape));
}

// Relative symlinks climbing out ("../..") are refused, at any depth.
TEST_F(ConfinementTest, RelativeSymlinkClimbingOut) {
  symlink_host("../outside", "up");
  expect_all_refused("up/secret.txt");
  mkdir_host("a/b");
  symlink_host("../../../outside/secret.txt", "a/b/s");
  expect_all_refused("a/b/s");
  symlink_host("../../..", "a/b/top");
  expect_all_refused("a/b/top/outside/secret.txt");
}

// An absolute symlink target counts as leaving the root even if it names a path inside it.
TEST_F(ConfinementTest, AbsoluteSymlinkIntoTheRootCountsAsLeaving) {
  put(host("inside.txt"), "in");
  mkdir_host("idir");
  symlink_host(host("inside.txt"), "abs");
  symlink_host(host("idir"), "absdir");
  EXPECT_TRUE(failed_with(read_file(ws(), "abs", {}, {}), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(write_file(ws(), "abs", "x", true), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(create_file(ws(), "absdir/x", "x"), ErrorCode::kPathEscape, kEscape));
  EXPECT_EQ(get(host("inside.txt")), "in");
  EXPECT_FALSE(lexists(host("idir/x")));
}

// Symlinks that stay inside are followed for reading, writing (in place) and listing.
TEST_F(ConfinementTest, InsideSymlinksAreFollowed) {
  put(host("real/target.txt"), "one");
  mkdir_host("links");
  symlink_host("../real/target.txt", "links/t");
  symlink_host("../real", "links/dir");

  auto r = read_file(ws(), "links/t", {}, {});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->content, "one");
  EXPECT_EQ(r->path, "/workspace/links/t");

  ASSERT_TRUE(succeeded(write_file(ws(), "links/t", "two", false)));
  EXPECT_TRUE(is_symlink(host("links/t")));
  EXPECT_EQ(get(host("real/target.txt")), "two");

  ASSERT_TRUE(succeeded(write_file(ws(), "links/t", "+", true)));
  EXPECT_EQ(get(host("real/target.txt")), "two+");

  ASSERT_TRUE(succeeded(edit_file(ws(), "links/t", "two", "three", false)));
  EXPECT_TRUE(is_symlink(host("links/t")));
  EXPECT_EQ(get(host("real/target.txt")), "three+");

  ASSERT_TRUE(succeeded(create_file(ws(), "links/t", "four", 0600)));
  EXPECT_TRUE(is_symlink(host("links/t")));
  EXPECT_EQ(get(host("real/target.txt")), "four");
  EXPECT_EQ(testing::perm_bits(host("real/target.txt")), 0600u);

  ASSERT_TRUE(succeeded(create_file(ws(), "links/dir/new.txt", "n")));
  EXPECT_EQ(get(host("real/new.txt")), "n");
  auto l = list_dir(ws(), "links/dir", false);
  ASSERT_TRUE(succeeded(l));
  EXPECT_EQ(l->current_path, "/workspace/links/dir");
  EXPECT_EQ(l->files.size(), 2u);

  // A dangling symlink pointing inside creates its target.
  symlink_host("../real/created.txt", "links/dangling");
  ASSERT_TRUE(succeeded(write_file(ws(), "links/dangling", "c", false)));
  EXPECT_EQ(get(host("real/created.txt")), "c");
}

// A dangling symlink pointing outside never creates its target.
TEST_F(ConfinementTest, DanglingEscapingSymlinkCreatesNothing) {
  symlink_host(outside_ + "/created.txt", "d1");
  symlink_host("../outside/created2.txt", "d2");
  for (const char* p : {"d1", "d2"}) {
    EXPECT_TRUE(failed_with(write_file(ws(), p, "x", false), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(write_file(ws(), p, "x", true), ErrorCode::kPathEscape, kEscape));
    EXPECT_TRUE(failed_with(create_file(ws(), p, "x"), ErrorCode::kPathEscape, kEscape));
  }
  // TearDown asserts that outside/ is unchanged (no created*.txt).
}

// Symlink loops are refused like escapes (ELOOP), never hang.
TEST_F(ConfinementTest, SymlinkLoop) {
  symlink_host("b", "a");
  symlink_host("a", "b");
  EXPECT_TRUE(failed_with(read_file(ws(), "a", {}, {}), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(write_file(ws(), "a/x", "x", false), ErrorCode::kPathEscape, kEscape));
}

// Magic links (/proc/self/...) are refused even when a symlink points at them.
TEST_F(ConfinementTest, ProcMagicLinks) {
  symlink_host("/proc/self/root", "procroot");
  EXPECT_TRUE(
      failed_with(read_file(ws(), "procroot/etc/passwd", {}, {}), ErrorCode::kPathEscape, kEscape));
  // With "/" as the root nothing is absolute-escaping; RESOLVE_NO_MAGICLINKS alone refuses.
  auto root = Workspace::open("/", "/");
  ASSERT_TRUE(root.ok());
  const std::string esc = "Access denied: path must be within workspace /";
  EXPECT_TRUE(failed_with(read_file(*root, "proc/self/root/etc/hostname", {}, {}),
                          ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(failed_with(list_dir(*root, "proc/self/cwd", false), ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(failed_with(read_file(*root, "proc/self/fd/0", {}, {}), ErrorCode::kPathEscape, esc));
}

// delete never follows a symlinked directory: the link is removed, the target is intact.
TEST_F(ConfinementTest, DeleteSymlinkToOutsideDirectory) {
  symlink_host(outside_, "link");
  auto r = delete_path(ws(), "link");
  ASSERT_TRUE(succeeded(r));
  EXPECT_FALSE(r->was_directory);
  EXPECT_FALSE(lexists(host("link")));
  EXPECT_TRUE(lexists(outside_ + "/secret.txt"));
  symlink_host(outside_ + "/", "link_slash");
  ASSERT_TRUE(succeeded(delete_path(ws(), "link_slash/")));  // trailing '/' is lexical only
  EXPECT_FALSE(lexists(host("link_slash")));
}

// Deleting a directory that contains symlinks to outside removes only the links.
TEST_F(ConfinementTest, DeleteTreeWithEscapingSymlinks) {
  put(host("tree/a/file"), "f");
  symlink_host(outside_, "tree/abs");
  symlink_host("../../outside", "tree/a/rel");
  symlink_host(outside_ + "/secret.txt", "tree/a/file_link");
  symlink_host("/", "tree/slash");
  auto r = delete_path(ws(), "tree");
  ASSERT_TRUE(succeeded(r));
  EXPECT_TRUE(r->was_directory);
  EXPECT_FALSE(lexists(host("tree")));
}

// An inside symlink to an inside directory: delete removes the link, not the directory.
TEST_F(ConfinementTest, DeleteInsideSymlinkKeepsTarget) {
  put(host("real/keep.txt"), "k");
  symlink_host("real", "alias");
  ASSERT_TRUE(succeeded(delete_path(ws(), "alias")));
  EXPECT_EQ(get(host("real/keep.txt")), "k");
  // Through the alias, deleting an entry inside is fine (it resolves inside).
  symlink_host("real", "alias");
  ASSERT_TRUE(succeeded(delete_path(ws(), "alias/keep.txt")));
  EXPECT_FALSE(lexists(host("real/keep.txt")));
}

// Hard links: a hard link *is* the outside inode. Reads and appends reach it (nothing
// path-based can tell), whole-file writes replace the name (outside content unchanged),
// delete removes the name only. In a sandbox link(2) to outside files fails (EXDEV: separate
// mount; fs.protected_hardlinks); here, as root on one filesystem, it succeeds.
TEST_F(ConfinementTest, HardLinkToOutsideFile) {
  put(base_ + "/outside_hl.txt", "OUT");
  const std::string out = base_ + "/outside_hl.txt";
  if (::link(out.c_str(), host("hl").c_str()) != 0) GTEST_SKIP() << "link(2) refused here";

  auto r = read_file(ws(), "hl", {}, {});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r->content, "OUT");

  ASSERT_TRUE(succeeded(write_file(ws(), "hl", "mine", false)));
  EXPECT_EQ(get(host("hl")), "mine");
  EXPECT_EQ(get(out), "OUT");

  ASSERT_EQ(::unlink(host("hl").c_str()), 0);
  ASSERT_EQ(::link(out.c_str(), host("hl").c_str()), 0);
  ASSERT_TRUE(succeeded(create_file(ws(), "hl", "created", 0600)));
  EXPECT_EQ(get(out), "OUT");
  EXPECT_EQ(testing::perm_bits(out), 0644u);

  ASSERT_EQ(::unlink(host("hl").c_str()), 0);
  ASSERT_EQ(::link(out.c_str(), host("hl").c_str()), 0);
  ASSERT_TRUE(succeeded(edit_file(ws(), "hl", "OUT", "EDITED", false)));
  EXPECT_EQ(get(host("hl")), "EDITED");
  EXPECT_EQ(get(out), "OUT");

  ASSERT_EQ(::unlink(host("hl").c_str()), 0);
  ASSERT_EQ(::link(out.c_str(), host("hl").c_str()), 0);
  auto sink = UploadSink::create(ws(), "hl");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->write("up", 2).ok());
  ASSERT_TRUE(succeeded(sink->commit()));
  EXPECT_EQ(get(out), "OUT");

  ASSERT_EQ(::unlink(host("hl").c_str()), 0);
  ASSERT_EQ(::link(out.c_str(), host("hl").c_str()), 0);
  ASSERT_TRUE(succeeded(delete_path(ws(), "hl")));
  EXPECT_EQ(get(out), "OUT");

  // Append writes to the shared inode: documented, inherent to hard links.
  ASSERT_EQ(::link(out.c_str(), host("hl").c_str()), 0);
  ASSERT_TRUE(succeeded(write_file(ws(), "hl", "+", true)));
  EXPECT_EQ(get(out), "OUT+");
}

}  // namespace
}  // namespace shipyard::ship::fs
