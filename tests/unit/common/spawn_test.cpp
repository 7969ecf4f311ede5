#include "common/process/spawn.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <string>

namespace shipyard::process {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

// Waits for the child on a private io_context.
ExitStatus wait_for(asio::io_context& ioc, ChildProcess& child) {
  auto fut = asio::co_spawn(ioc, child.wait(), asio::use_future);
  ioc.run();
  ioc.restart();
  return fut.get();
}

// Reads the parent end of a pipe until EOF (the child has exited by then).
std::string drain(const Pipe& p) {
  int flags = ::fcntl(p.read.get(), F_GETFL);
  ::fcntl(p.read.get(), F_SETFL, flags & ~O_NONBLOCK);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(p.read.get(), buf, sizeof buf)) > 0;) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

SpawnSpec shell(std::string script) {
  SpawnSpec spec;
  spec.executable = "/bin/sh";
  spec.argv = {"sh", "-c", std::move(script)};
  spec.env = {"PATH=/usr/bin:/bin"};
  return spec;
}

// A child runs with the given argv, env and cwd, writes to a mapped pipe, and its exit
// code is reported; it leads its own process group.
TEST(Spawn, RunsAndReportsExitCode) {
  asio::io_context ioc;
  auto out = make_pipe(ParentEnd::kRead);
  ASSERT_TRUE(out.ok());
  auto spec = shell("echo \"$X $(pwd) $(ps -o pgid= -p $$ | tr -d ' ') $$\"; exit 7");
  spec.env.push_back("X=hi");
  spec.cwd = "/tmp";
  spec.fds = {{1, out->write.get()}};
  auto child = spawn(ioc.get_executor(), spec);
  ASSERT_TRUE(child.ok()) << child.error().message;
  out->write.reset();
  auto st = wait_for(ioc, *child);
  EXPECT_EQ(st.code(), 7);
  pid_t pid = child->pid();
  EXPECT_EQ(drain(*out), "hi /tmp " + std::to_string(pid) + " " + std::to_string(pid) + "\n");
}

// Death by a signal is reported as the negative signal number.
TEST(Spawn, SignalExit) {
  asio::io_context ioc;
  auto child = spawn(ioc.get_executor(), shell("kill -KILL $$"));
  ASSERT_TRUE(child.ok());
  auto st = wait_for(ioc, *child);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.code(), -SIGKILL);
}

// Failures before execve come back as errors naming the step.
TEST(Spawn, FailuresBeforeExec) {
  asio::io_context ioc;
  SpawnSpec spec = shell("true");
  spec.cwd = "/nonexistent-dir-xyz";
  auto r = spawn(ioc.get_executor(), spec);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("changing to the working directory"));
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);

  spec = shell("true");
  spec.executable = "/nonexistent-binary-xyz";
  auto r2 = spawn(ioc.get_executor(), spec);
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.error().message, HasSubstr("executing"));

  spec = shell("true");
  spec.executable = "no-such-program-xyz";
  spec.search_path = "/usr/bin:/bin";
  auto r3 = spawn(ioc.get_executor(), spec);
  ASSERT_FALSE(r3.ok());
  EXPECT_THAT(r3.error().message, HasSubstr("executable not found"));
}

// Unmapped standard descriptors are /dev/null even when the parent itself runs with a
// closed stdin (then /dev/null is opened as fd 0 in the parent and must not be lost).
TEST(Spawn, StdinIsDevNullEvenIfParentClosedIt) {
  asio::io_context ioc;
  auto out = make_pipe(ParentEnd::kRead);
  ASSERT_TRUE(out.ok());
  int saved = ::dup(0);
  ASSERT_GE(saved, 0);
  ::close(0);
  auto spec = shell("readlink /proc/self/fd/0");
  spec.fds = {{1, out->write.get()}};
  auto child = spawn(ioc.get_executor(), spec);
  ::dup2(saved, 0);
  ::close(saved);
  ASSERT_TRUE(child.ok()) << child.error().message;
  out->write.reset();
  wait_for(ioc, *child);
  EXPECT_EQ(drain(*out), "/dev/null\n");
}

std::string own_oom_score_adj() {
  int fd = ::open("/proc/self/oom_score_adj", O_RDONLY);
  char buf[16] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

bool set_own_oom_score_adj(int v) {
  int fd = ::open("/proc/self/oom_score_adj", O_WRONLY);
  if (fd < 0) return false;
  std::string s = std::to_string(v);
  bool ok = ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  ::close(fd);
  return ok;
}

std::string child_oom_score_adj(asio::io_context& ioc, int requested) {
  auto out = make_pipe(ParentEnd::kRead);
  auto spec = shell("cat /proc/self/oom_score_adj");
  spec.oom_score_adj = requested;
  spec.fds = {{1, out->write.get()}};
  auto child = spawn(ioc.get_executor(), spec);
  out->write.reset();
  if (!child.ok()) return "spawn failed: " + child.error().message;
  wait_for(ioc, *child);
  return drain(*out);
}

// The child raises its own oom_score_adj, and never lowers it below the parent's.
TEST(Spawn, OomScoreOnlyRaised) {
  asio::io_context ioc;
  int original = std::atoi(own_oom_score_adj().c_str());
  if (original < 500) {
    EXPECT_EQ(child_oom_score_adj(ioc, 500), "500\n");
  }
  if (::geteuid() != 0) GTEST_SKIP() << "lowering our own score back needs privileges";
  ASSERT_TRUE(set_own_oom_score_adj(700));
  std::string got = child_oom_score_adj(ioc, 500);
  ASSERT_TRUE(set_own_oom_score_adj(original));
  EXPECT_EQ(got, "700\n");
}

}  // namespace
}  // namespace shipyard::process
