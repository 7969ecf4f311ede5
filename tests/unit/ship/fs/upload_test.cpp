// UploadSink: streaming uploads through a temporary file and an atomic rename.
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
using testing::is_symlink;
using testing::kEscape;
using testing::lexists;
using testing::names_in;
using testing::perm_bits;
using testing::put;
using testing::succeeded;

using UploadTest = FsTest;

// Chunks are written exactly; nothing is visible at the target until commit.
TEST_F(UploadTest, StreamsAndCommits) {
  auto sink = UploadSink::create(ws(), "up/load/data.bin");
  ASSERT_TRUE(succeeded(sink));
  EXPECT_EQ(sink->path(), "/workspace/up/load/data.bin");
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    std::string chunk(1000 + static_cast<std::size_t>(i), static_cast<char>(i));
    ASSERT_TRUE(sink->write(chunk.data(), chunk.size()).ok());
    expected += chunk;
  }
  EXPECT_FALSE(lexists(host("up/load/data.bin")));
  auto info = sink->commit();
  ASSERT_TRUE(succeeded(info));
  EXPECT_EQ(info->path, "/workspace/up/load/data.bin");
  EXPECT_EQ(info->size, expected.size());
  EXPECT_EQ(get(host("up/load/data.bin")), expected);
  EXPECT_EQ(names_in(host("up/load")), (std::set<std::string>{"data.bin"}));
  EXPECT_TRUE(
      failed_with(sink->write("x", 1), ErrorCode::kInvalidArgument, "Upload already finished"));
  EXPECT_TRUE(failed_with(sink->commit(), ErrorCode::kInvalidArgument, "Upload already finished"));
}

// abort() and the destructor leave no file and no temporary behind.
TEST_F(UploadTest, AbortAndDestructorClean) {
  {
    auto sink = UploadSink::create(ws(), "a.bin");
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE(sink->write("abc", 3).ok());
    EXPECT_EQ(names_in(ws_dir_).size(), 1u);  // the hidden temporary
  }
  EXPECT_EQ(names_in(ws_dir_).size(), 0u);
  auto sink = UploadSink::create(ws(), "b.bin");
  ASSERT_TRUE(sink.ok());
  sink->abort();
  EXPECT_EQ(names_in(ws_dir_).size(), 0u);
  EXPECT_TRUE(failed_with(sink->commit(), ErrorCode::kInvalidArgument, "Upload already finished"));
}

// A moved-from sink owns nothing; the moved-to one commits.
TEST_F(UploadTest, MoveOnly) {
  auto sink = UploadSink::create(ws(), "m.bin");
  ASSERT_TRUE(sink.ok());
  UploadSink moved = std::move(sink).value();
  ASSERT_TRUE(moved.write("xy", 2).ok());
  auto other = UploadSink::create(ws(), "other.bin");
  ASSERT_TRUE(other.ok());
  *other = std::move(moved);  // aborts other.bin's temporary
  auto info = other->commit();
  ASSERT_TRUE(succeeded(info));
  EXPECT_EQ(get(host("m.bin")), "xy");
  EXPECT_EQ(names_in(ws_dir_), (std::set<std::string>{"m.bin"}));
}

// Replacing an existing file keeps its permission bits; an empty upload is fine.
TEST_F(UploadTest, ReplacesExistingKeepingMode) {
  put(host("x.sh"), "old");
  ::chmod(host("x.sh").c_str(), 0750);
  auto sink = UploadSink::create(ws(), "/workspace/x.sh");
  ASSERT_TRUE(sink.ok());
  auto info = sink->commit();
  ASSERT_TRUE(succeeded(info));
  EXPECT_EQ(info->size, 0u);
  EXPECT_EQ(get(host("x.sh")), "");
  EXPECT_EQ(perm_bits(host("x.sh")), 0750u);
}

// A directory at the target is refused at create, and at commit if it appears meanwhile.
TEST_F(UploadTest, DirectoryTarget) {
  mkdir_host("d");
  EXPECT_TRUE(failed_with(UploadSink::create(ws(), "d"), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/d"));
  EXPECT_TRUE(failed_with(UploadSink::create(ws(), "."), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace"));
  auto sink = UploadSink::create(ws(), "later");
  ASSERT_TRUE(sink.ok());
  mkdir_host("later/child");
  EXPECT_TRUE(failed_with(sink->commit(), ErrorCode::kInvalidArgument,
                          "Path is not a file: /workspace/later"));
  EXPECT_EQ(names_in(ws_dir_), (std::set<std::string>{"d", "later"}));
}

// Escaping targets are refused, also through a symlinked parent.
TEST_F(UploadTest, Escapes) {
  symlink_host(outside_, "out");
  EXPECT_TRUE(
      failed_with(UploadSink::create(ws(), "out/new.bin"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(
      failed_with(UploadSink::create(ws(), "../outside/new.bin"), ErrorCode::kPathEscape, kEscape));
  EXPECT_TRUE(
      failed_with(UploadSink::create(ws(), "/workspace2/x"), ErrorCode::kPathEscape, kEscape));
}

// A symlink at the target is replaced by the upload, never written through.
TEST_F(UploadTest, ReplacesSymlinkAtTarget) {
  symlink_host(outside_ + "/secret.txt", "link");
  auto sink = UploadSink::create(ws(), "link");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->write("mine", 4).ok());
  ASSERT_TRUE(succeeded(sink->commit()));
  EXPECT_FALSE(is_symlink(host("link")));
  EXPECT_EQ(get(host("link")), "mine");
  EXPECT_EQ(get(outside_ + "/secret.txt"), "SECRET");
}

}  // namespace
}  // namespace shipyard::ship::fs
