// Shared fixtures for the ship_fs tests: a temporary tree with a workspace and an "outside"
// directory next to it, plus host-side helpers that bypass the module under test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "ship/fs/ops.hpp"
#include "ship/fs/workspace.hpp"

namespace shipyard::ship::fs::testing {

inline constexpr std::string_view kRoot = "/workspace";
inline const std::string kEscape = "Access denied: path must be within workspace /workspace";

template <typename T>
::testing::AssertionResult failed_with(const Result<T>& r, ErrorCode code,
                                       std::string_view message) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded, expected: " << message;
  if (r.error().code != code || r.error().message != message) {
    return ::testing::AssertionFailure()
           << "got " << to_string(r.error().code) << " \"" << r.error().message << "\", expected "
           << to_string(code) << " \"" << message << "\"";
  }
  return ::testing::AssertionSuccess();
}

template <typename T>
::testing::AssertionResult succeeded(const Result<T>& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << to_string(r.error().code) << " \"" << r.error().message
                                       << "\" (" << r.error().context << ")";
}

// Writes a host file, creating its parent directories.
inline void put(const std::string& path, std::string_view content) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << path;
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

inline std::string get(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool lexists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

inline bool is_symlink(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

inline unsigned perm_bits(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0xFFFFFFFF;
  return st.st_mode & 07777;
}

inline std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.insert(e.path().filename().string());
  }
  return out;
}

// Every path below `dir` (relative, recursive, symlinks not followed) with file contents.
inline std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto rel = std::filesystem::relative(it->path(), dir).string();
    if (it->is_symlink()) {
      out[rel] = "-> " + std::filesystem::read_symlink(it->path()).string();
    } else if (it->is_regular_file()) {
      out[rel] = get(it->path().string());
    } else {
      out[rel] = "<dir>";
    }
  }
  return out;
}

// base/ws is the workspace (display root /workspace), base/outside a directory next to it
// holding files that no operation may ever read, write, create or delete.
class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ship-fs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    ws_dir_ = base_ + "/ws";
    outside_ = base_ + "/outside";
    ASSERT_EQ(::mkdir(ws_dir_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    put(outside_ + "/secret.txt", "SECRET");
    ASSERT_EQ(::mkdir((outside_ + "/sub").c_str(), 0755), 0);
    put(outside_ + "/sub/deep.txt", "DEEP");
    auto ws = Workspace::open(ws_dir_, std::string(kRoot));
    ASSERT_TRUE(ws.ok());
    ws_.emplace(std::move(ws).value());
    outside_before_ = snapshot(outside_);
  }

  void TearDown() override {
    EXPECT_EQ(snapshot(outside_), outside_before_) << "the outside directory was modified";
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }

  std::string host(std::string_view rel) const { return ws_dir_ + "/" + std::string(rel); }
  void mkdir_host(std::string_view rel) const { std::filesystem::create_directories(host(rel)); }
  void symlink_host(const std::string& target, std::string_view rel) const {
    ASSERT_EQ(::symlink(target.c_str(), host(rel).c_str()), 0) << rel;
  }
  const Workspace& ws() const { return *ws_; }

  std::string base_;
  std::string ws_dir_;
  std::string outside_;
  std::optional<Workspace> ws_;
  std::map<std::string, std::string> outside_before_;
};

}  // namespace shipyard::ship::fs::testing
