#include "ship/shell/environment.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "test_support.hpp"

namespace shipyard::ship::shell {
namespace {

using ::testing::ElementsAre;
using testing::TempDir;

// The base variables come first in the spec's order, then Bay vars, profile vars and
// request vars.
TEST(BuildEnvironment, OrderOfSources) {
  EnvironmentBase base{
      "/usr/local/bin:/usr/bin:/bin", {{"BAY_SANDBOX_ID", "sbx-1"}}, {{"PROFILE_A", "pa"}}};
  auto env = build_environment(base, "/workspace", {{"REQ", "r"}});
  EXPECT_THAT(env, ElementsAre("HOME=/workspace", "USER=shipyard", "LOGNAME=shipyard",
                               "SHELL=/bin/bash", "PATH=/usr/local/bin:/usr/bin:/bin",
                               "LANG=C.UTF-8", "BAY_SANDBOX_ID=sbx-1", "PROFILE_A=pa", "REQ=r"));
}

// A later source replaces an earlier value in place: profile over base, request over all.
TEST(BuildEnvironment, RequestWins) {
  EnvironmentBase base{"/bin", {{"BAY_SESSION_ID", "sess-1"}}, {{"X", "profile"}, {"LANG", "de"}}};
  auto env = build_environment(base, "/h", {{"X", "request"}, {"HOME", "/other"}, {"PATH", "/p"}});
  EXPECT_EQ(env_value(env, "X"), "request");
  EXPECT_EQ(env_value(env, "HOME"), "/other");
  EXPECT_EQ(env_value(env, "PATH"), "/p");
  EXPECT_EQ(env_value(env, "LANG"), "de");
  EXPECT_EQ(env_value(env, "BAY_SESSION_ID"), "sess-1");
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.rfind("X=", 0) == 0; }),
            1);
}

// Entries that an environment cannot represent are dropped, others kept (values may be
// empty or contain '=').
TEST(BuildEnvironment, DropsUnrepresentableEntries) {
  std::vector<EnvVar> req = {
      {"", "x"},     {"A=B", "x"}, {std::string("N\0L", 3), "x"}, {"V", std::string("a\0b", 3)},
      {"EMPTY", ""}, {"EQ", "a=b"}};
  auto env = build_environment(EnvironmentBase{}, "/h", req);
  EXPECT_EQ(env.size(), 8u);
  EXPECT_EQ(env[6], "EMPTY=");
  EXPECT_EQ(env[7], "EQ=a=b");
  EXPECT_EQ(env_value(env, "PATH"), kBasePath);  // empty base path falls back
}

void make_executable(const std::string& path) {
  testing::write_file(path, "#!/bin/sh\n");
  ::chmod(path.c_str(), 0755);
}

// Node tools outside the base directories add their directory once; relative PATH
// entries and non-executables are ignored.
TEST(SearchPath, AddsNodeToolDirectories) {
  TempDir dir;
  std::filesystem::create_directories(dir / "node/bin");
  std::filesystem::create_directories(dir / "pnpm");
  std::filesystem::create_directories(dir / "other");
  make_executable(dir / "node/bin/node");
  make_executable(dir / "node/bin/npm");
  make_executable(dir / "pnpm/pnpm");
  testing::write_file(dir / "other/yarn", "not executable");

  std::string inherited = "relative/bin:" + (dir / "other") + ":" + (dir / "node/bin");
  auto path = compute_search_path(inherited, {dir / "pnpm"});
  EXPECT_EQ(path, std::string(kBasePath) + ":" + (dir / "node/bin") + ":" + (dir / "pnpm"));
}

// Without tools elsewhere the PATH is exactly the base.
TEST(SearchPath, BaseOnly) {
  TempDir dir;
  EXPECT_EQ(compute_search_path(dir.path(), {}), kBasePath);
  EXPECT_EQ(compute_search_path("", {}), kBasePath);
}

// Ship's own BAY_* variables are picked up; unset ones are absent.
TEST(EnvironmentBaseFromProcess, ReadsBayVariables) {
  ::setenv("BAY_SANDBOX_ID", "sbx-test", 1);
  ::unsetenv("BAY_SESSION_ID");
  ::setenv("BAY_WORKSPACE_PATH", "/workspace", 1);
  auto base = make_environment_base({{"P", "1"}});
  ::unsetenv("BAY_SANDBOX_ID");
  ::unsetenv("BAY_WORKSPACE_PATH");
  ASSERT_EQ(base.bay_vars.size(), 2u);
  EXPECT_EQ(base.bay_vars[0].name, "BAY_SANDBOX_ID");
  EXPECT_EQ(base.bay_vars[0].value, "sbx-test");
  EXPECT_EQ(base.bay_vars[1].name, "BAY_WORKSPACE_PATH");
  ASSERT_EQ(base.profile_vars.size(), 1u);
  EXPECT_EQ(base.path.rfind(std::string(kBasePath), 0), 0u);
}

}  // namespace
}  // namespace shipyard::ship::shell
