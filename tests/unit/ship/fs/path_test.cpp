#include "ship/fs/path.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fs_test_util.hpp"

namespace shipyard::ship::fs {
namespace {

using testing::failed_with;
using testing::kEscape;

struct Case {
  std::string path;
  std::string expected;  // relative path, or "" for a 403
};

// Lexical normalisation of spec §3.2 step 2 against the plain workspace root.
TEST(NormalizeTest, WorkspaceRootTable) {
  const Case cases[] = {
      {"a.txt", "a.txt"},
      {"./a.txt", "a.txt"},
      {"a//b///c", "a/b/c"},
      {"a/./b/.", "a/b"},
      {"a/b/../c", "a/c"},
      {"a/..", "."},
      {".", "."},
      {"./", "."},
      {"dir/", "dir"},
      {"...", "..."},
      {"..a", "..a"},
      {"a..", "a.."},
      {" ", " "},
      {"notes/todo.txt", "notes/todo.txt"},
      {"..", ""},
      {"../x", ""},
      {"a/../../b", ""},
      {"a/b/../../..", ""},
      {"../workspace/a", ""},  // climbs above ROOT even though it comes back
      {"../../../etc/passwd", ""},
      {"/etc/passwd", ""},
      {"/etc/shadow", ""},
      {"/", ""},
      {"/workspace", "."},
      {"/workspace/", "."},
      {"/workspace/.", "."},
      {"/workspace/ok.txt", "ok.txt"},
      {"/workspace//a/./b", "a/b"},
      {"//workspace/a", "a"},
      {"/./workspace/a", "a"},
      {"/workspace/a/../b", "b"},
      {"/workspace/..", ""},
      {"/workspace/../etc", ""},
      {"/workspace/a/../../workspace/b", "b"},  // normalised as an absolute path first
      {"/workspacex/y", ""},
      {"/workspace2", ""},
      {"/WORKSPACE/a", ""},
      {"/tmp/workspace/a", ""},
  };
  for (const auto& c : cases) {
    auto r = normalize(c.path, "/workspace");
    if (c.expected.empty()) {
      EXPECT_TRUE(failed_with(r, ErrorCode::kPathEscape, kEscape)) << "path: " << c.path;
    } else {
      ASSERT_TRUE(r.ok()) << "path: " << c.path << ": " << r.error().message;
      EXPECT_EQ(*r, c.expected) << "path: " << c.path;
    }
  }
}

// Session roots: absolute paths must start with ROOT/, other sessions are outside.
TEST(NormalizeTest, SessionRoot) {
  const std::string esc = "Access denied: path must be within workspace /workspace/s1";
  EXPECT_EQ(*normalize("/workspace/s1/docs/a.txt", "/workspace/s1"), "docs/a.txt");
  EXPECT_EQ(*normalize("docs/a.txt", "/workspace/s1"), "docs/a.txt");
  EXPECT_EQ(*normalize("/workspace/s1", "/workspace/s1"), ".");
  EXPECT_TRUE(failed_with(normalize("/workspace/other/a.txt", "/workspace/s1"),
                          ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(
      failed_with(normalize("/workspace/s1x/a", "/workspace/s1"), ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(failed_with(normalize("/workspace", "/workspace/s1"), ErrorCode::kPathEscape, esc));
  EXPECT_TRUE(
      failed_with(normalize("../other/a.txt", "/workspace/s1"), ErrorCode::kPathEscape, esc));
}

// The root itself is normalised, so "/workspace/" and "/workspace//" behave like "/workspace".
TEST(NormalizeTest, RootIsNormalised) {
  EXPECT_EQ(*normalize("/workspace/a", "/workspace/"), "a");
  EXPECT_EQ(*normalize("/workspace/a", "//workspace/./"), "a");
  EXPECT_TRUE(failed_with(normalize("../a", "/workspace/"), ErrorCode::kPathEscape, kEscape));
}

// With "/" as root every absolute path is inside, but climbing above it is still refused.
TEST(NormalizeTest, SlashRoot) {
  EXPECT_EQ(*normalize("/etc/passwd", "/"), "etc/passwd");
  EXPECT_EQ(*normalize("/", "/"), ".");
  EXPECT_TRUE(failed_with(normalize("../x", "/"), ErrorCode::kPathEscape,
                          "Access denied: path must be within workspace /"));
}

// NUL bytes, empty and oversized paths are refused without touching anything.
TEST(NormalizeTest, WeirdInput) {
  EXPECT_TRUE(failed_with(normalize(std::string_view("a\0b", 3), "/workspace"),
                          ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(normalize(std::string_view("\0", 1), "/workspace"),
                          ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(failed_with(normalize("", "/workspace"), ErrorCode::kInvalidArgument,
                          "Path must not be empty"));
  EXPECT_TRUE(failed_with(normalize(std::string(kMaxPathBytes + 1, 'a'), "/workspace"),
                          ErrorCode::kInvalidArgument, "Path is too long"));
  EXPECT_TRUE(normalize(std::string(kMaxPathBytes, 'a'), "/workspace").ok());
  EXPECT_EQ(*normalize("caf\xc3\xa9/\xff", "/workspace"), "caf\xc3\xa9/\xff");
}

// normalize_absolute collapses like a kernel walk from "/" would, lexically.
TEST(NormalizeTest, NormalizeAbsolute) {
  EXPECT_EQ(normalize_absolute("/a/./b//c/../d/"), "/a/b/d");
  EXPECT_EQ(normalize_absolute("/../.."), "/");
  EXPECT_EQ(normalize_absolute("rel/x"), "/rel/x");
  EXPECT_EQ(normalize_absolute(""), "/");
}

// Display joining and parent splitting of normalised relative paths.
TEST(NormalizeTest, JoinAndSplit) {
  EXPECT_EQ(join_display("/workspace", "."), "/workspace");
  EXPECT_EQ(join_display("/workspace", "a/b"), "/workspace/a/b");
  EXPECT_EQ(join_display("/", "a"), "/a");
  EXPECT_EQ(split_parent("a").parent, ".");
  EXPECT_EQ(split_parent("a").leaf, "a");
  EXPECT_EQ(split_parent("a/b/c").parent, "a/b");
  EXPECT_EQ(split_parent("a/b/c").leaf, "c");
}

}  // namespace
}  // namespace shipyard::ship::fs
