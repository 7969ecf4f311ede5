#include "ship/fs/workspace.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "fs_test_util.hpp"
#include "ship/fs/ops.hpp"

namespace shipyard::ship::fs {
namespace {

using testing::failed_with;
using testing::FsTest;
using testing::get;
using testing::kEscape;
using testing::put;
using testing::succeeded;

// Session ids follow ^[A-Za-z0-9._-]{1,128}$ minus "." and "..".
TEST(SessionIdTest, Validation) {
  EXPECT_TRUE(valid_session_id("chat-session-123"));
  EXPECT_TRUE(valid_session_id("3f9a1c0b-e27d-4c1e-9f3a-000000000000"));
  EXPECT_TRUE(valid_session_id("a.b_c-D"));
  EXPECT_TRUE(valid_session_id("..."));
  EXPECT_TRUE(valid_session_id(std::string(128, 'x')));
  EXPECT_FALSE(valid_session_id(std::string(129, 'x')));
  EXPECT_FALSE(valid_session_id(""));
  EXPECT_FALSE(valid_session_id("."));
  EXPECT_FALSE(valid_session_id(".."));
  EXPECT_FALSE(valid_session_id("../x"));
  EXPECT_FALSE(valid_session_id("a/b"));
  EXPECT_FALSE(valid_session_id("a b"));
  EXPECT_FALSE(valid_session_id(std::string_view("a\0b", 3)));
  EXPECT_FALSE(valid_session_id("caf\xc3\xa9"));
}

using WorkspaceTest = FsTest;

// Opening a missing directory or a file fails with a clear error.
TEST_F(WorkspaceTest, OpenErrors) {
  auto missing = Workspace::open(base_ + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  put(base_ + "/file", "x");
  auto file = Workspace::open(base_ + "/file");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code, ErrorCode::kInvalidArgument);
}

// Without an explicit display root the directory itself (normalised) is shown to clients.
TEST_F(WorkspaceTest, DefaultDisplayRootIsTheDirectory) {
  auto w = Workspace::open(ws_dir_ + "/./");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->root(), ws_dir_);
  auto info = create_file(*w, "a.txt", "x");
  ASSERT_TRUE(succeeded(info));
  EXPECT_EQ(info->path, ws_dir_ + "/a.txt");
  EXPECT_EQ(w->absolute("."), ws_dir_);
}

// A relative workspace directory is made absolute for display.
TEST_F(WorkspaceTest, RelativeDirectoryDisplaysAbsolute) {
  char old[4096];
  ASSERT_NE(::getcwd(old, sizeof old), nullptr);
  ASSERT_EQ(::chdir(base_.c_str()), 0);
  auto w = Workspace::open("ws");
  ASSERT_EQ(::chdir(old), 0);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->root(), ws_dir_);
}

// Invalid session ids are refused before anything is created.
TEST_F(WorkspaceTest, SessionRejectsInvalidIds) {
  for (std::string_view id : {"../x", "..", ".", "", "a/b", "x y"}) {
    EXPECT_TRUE(
        failed_with(ws().session(id, true), ErrorCode::kInvalidArgument, "Invalid X-SESSION-ID"))
        << id;
  }
  EXPECT_EQ(testing::names_in(ws_dir_).size(), 0u);
  EXPECT_EQ(testing::names_in(base_), (std::set<std::string>{"ws", "outside"}));
}

// A session root is created beneath the workspace (0755) and confines to itself.
TEST_F(WorkspaceTest, SessionIsCreatedAndConfined) {
  auto s = ws().session("s1", true);
  ASSERT_TRUE(succeeded(s));
  EXPECT_EQ(s->root(), "/workspace/s1");
  struct stat st;
  ASSERT_EQ(::stat(host("s1").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0700, 0700u);

  auto info = create_file(*s, "/workspace/s1/docs/a.txt", "doc");
  ASSERT_TRUE(succeeded(info));
  EXPECT_EQ(info->path, "/workspace/s1/docs/a.txt");
  EXPECT_EQ(get(host("s1/docs/a.txt")), "doc");

  const std::string esc = "Access denied: path must be within workspace /workspace/s1";
  put(host("top.txt"), "TOP");
  EXPECT_TRUE(
      failed_with(read_file(*s, "/workspace/other/a.txt", {}, {}), ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(failed_with(read_file(*s, "../top.txt", {}, {}), ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(
      failed_with(read_file(*s, "/workspace/top.txt", {}, {}), ErrorCode::kPathEscape, esc));
  // A symlink in the session pointing at the workspace root is an escape from the session.
  symlink_host("..", "s1/up");
  EXPECT_TRUE(failed_with(read_file(*s, "up/top.txt", {}, {}), ErrorCode::kPathEscape, esc));

  // Second call reuses the existing directory.
  auto again = ws().session("s1", true);
  ASSERT_TRUE(succeeded(again));
  EXPECT_TRUE(read_file(*again, "docs/a.txt", {}, {}).ok());
}

// Without `create` a missing session directory is a 404; a file there is a 400.
TEST_F(WorkspaceTest, SessionLookupErrors) {
  EXPECT_TRUE(failed_with(ws().session("nope", false), ErrorCode::kFileNotFound,
                          "Path not found: /workspace/nope"));
  EXPECT_FALSE(testing::lexists(host("nope")));
  put(host("afile"), "x");
  EXPECT_TRUE(failed_with(ws().session("afile", true), ErrorCode::kInvalidArgument,
                          "Path is not a directory: /workspace/afile"));
}

// A session directory replaced by a symlink leaving the workspace is refused (403).
TEST_F(WorkspaceTest, SessionSymlinkEscapeRefused) {
  symlink_host(outside_, "evil");
  EXPECT_TRUE(failed_with(ws().session("evil", true), ErrorCode::kPathEscape, kEscape));
  symlink_host("../outside", "evil2");
  EXPECT_TRUE(failed_with(ws().session("evil2", false), ErrorCode::kPathEscape, kEscape));
}

// Copies share the root fd and stay usable after the original is gone.
TEST_F(WorkspaceTest, CopiesShareTheRoot) {
  std::optional<Workspace> copy;
  {
    auto w = Workspace::open(ws_dir_, "/workspace");
    ASSERT_TRUE(w.ok());
    copy.emplace(*w);
  }
  EXPECT_TRUE(create_file(*copy, "c.txt", "c").ok());
  EXPECT_EQ(get(host("c.txt")), "c");
}

}  // namespace
}  // namespace shipyard::ship::fs
