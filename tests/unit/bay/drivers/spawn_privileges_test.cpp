// The child set-up steps the process driver added to common/process/spawn: joining
// cgroups, switching credentials and no_new_privs (they live here because the driver
// is their user; the generic spawn tests are in tests/unit/common).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "bay/drivers/host_io.hpp"
#include "bay/drivers/host_probe.hpp"
#include "common/process/spawn.hpp"

namespace shipyard::process {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

// Runs `script` with `spec` tweaks and returns its stdout (or the spawn error).
template <typename F>
std::string run_script(const std::string& script, F tweak) {
  asio::io_context io;
  auto out = make_pipe(ParentEnd::kRead);
  SpawnSpec spec;
  spec.executable = "/bin/sh";
  spec.argv = {"sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.fds = {{1, out->write.get()}};
  tweak(spec);
  auto child = spawn(io.get_executor(), spec);
  out->write.reset();
  if (!child) return "spawn failed: " + child.error().message;
  auto status = asio::co_spawn(io, child->wait(), asio::use_future);
  io.run();
  status.get();
  int flags = ::fcntl(out->read.get(), F_GETFL);
  ::fcntl(out->read.get(), F_SETFL, flags & ~O_NONBLOCK);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out->read.get(), buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

// no_new_privs is set in the child before execve.
TEST(SpawnPrivileges, NoNewPrivs) {
  auto out =
      run_script("grep NoNewPrivs /proc/self/status", [](SpawnSpec& s) { s.no_new_privs = true; });
  EXPECT_THAT(out, HasSubstr("NoNewPrivs:\t1"));
}

// The child switches to the given uid and gid and keeps no supplementary groups.
TEST(SpawnPrivileges, SwitchesCredentials) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching user needs root";
  auto out = run_script("echo $(id -u) $(id -g) $(id -G)", [](SpawnSpec& s) {
    s.credentials = Credentials{4242001, 4242002};
  });
  EXPECT_EQ(out, "4242001 4242002 4242002\n");
}

// Unprivileged, the switch fails and is reported as a spawn error naming the step.
TEST(SpawnPrivileges, CredentialFailureIsReported) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may switch to any user";
  auto out = run_script("true", [](SpawnSpec& s) { s.credentials = Credentials{1, 1}; });
  EXPECT_THAT(out, HasSubstr("switching user"));
}

// A cgroup that cannot be joined fails the spawn with a message naming the step.
TEST(SpawnPrivileges, CgroupJoinFailureIsReported) {
  auto out = run_script(
      "true", [](SpawnSpec& s) { s.join_cgroups = {"/nonexistent/cgroup/cgroup.procs"}; });
  EXPECT_THAT(out, HasSubstr("joining the cgroups"));
}

// The child is a member of the joined cgroup from its first instruction on.
TEST(SpawnPrivileges, JoinsCgroupBeforeExec) {
  if (::geteuid() != 0) GTEST_SKIP() << "creating cgroups needs root";
  auto info = bay::read_file("/proc/self/mountinfo", 4 << 20);
  ASSERT_TRUE(info.ok());
  auto mounts = bay::find_cgroup_mounts(bay::parse_mountinfo(*info));
  std::string base;
  if (mounts.v1.contains("pids")) {
    base = mounts.v1.at("pids");
  } else if (mounts.unified) {
    base = *mounts.unified;
  } else {
    GTEST_SKIP() << "no cgroup hierarchy";
  }
  std::string name = "spawn-test-" + std::to_string(::getpid());
  std::string dir = base + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create a cgroup in " << base;
  auto out = run_script("cat /proc/self/cgroup",
                        [&](SpawnSpec& s) { s.join_cgroups = {dir + "/cgroup.procs"}; });
  ::rmdir(dir.c_str());
  EXPECT_THAT(out, HasSubstr("/" + name + "\n"));
}

}  // namespace
}  // namespace shipyard::process
