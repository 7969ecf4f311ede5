#include "ship/shell/runner.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <map>
#include <regex>

#include "test_support.hpp"

namespace shipyard::ship::shell {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::process_dead;
using testing::run_sync;
using testing::TempDir;
namespace asio = boost::asio;

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() : runner_(ioc_.get_executor(), base(), Limits{}) {}

  static EnvironmentBase base() {
    EnvironmentBase b;
    b.path = std::string(kBasePath);
    b.bay_vars = {{"BAY_SANDBOX_ID", "sbx-test"}};
    b.profile_vars = {{"PROFILE_VAR", "from-profile"}, {"OVERRIDE", "profile"}};
    return b;
  }

  ExecRequest request(std::string command) {
    ExecRequest req;
    req.command = std::move(command);
    req.cwd = dir_.path();
    req.home = dir_.path();
    req.timeout = 10s;
    req.env_file = dir_ / ".bay_env.sh";
    return req;
  }

  ExecResult run(ExecRequest req) { return run_sync(ioc_, runner_.run(std::move(req))); }
  ExecResult run(std::string command) { return run(request(std::move(command))); }
  ExecResult run_with(Runner& r, ExecRequest req) { return run_sync(ioc_, r.run(std::move(req))); }

  // "name=pid" lines a test command printed.
  static std::map<std::string, pid_t> printed_pids(const std::string& out) {
    std::map<std::string, pid_t> pids;
    std::regex line(R"(([a-z]+)=([0-9]+))");
    for (std::sregex_iterator it(out.begin(), out.end(), line), end; it != end; ++it) {
      pids[(*it)[1]] = static_cast<pid_t>(std::stoi((*it)[2]));
    }
    return pids;
  }

  // Kills what a test deliberately left running and lets lingering drains finish.
  void reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    EXPECT_TRUE(testing::run_until(ioc_, [&] { return runner_.lingering_drains() == 0; }));
  }

  asio::io_context ioc_;
  TempDir dir_;
  Runner runner_;
};

// A command's stdout comes back trimmed with success, code 0 and the shell's pid.
TEST_F(RunnerTest, EchoRoundTrip) {
  auto r = run("echo hello world");
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.return_code, 0);
  EXPECT_EQ(r.stdout_text, "hello world");
  EXPECT_EQ(r.stderr_text, "");
  ASSERT_TRUE(r.pid.has_value());
  EXPECT_GT(*r.pid, 0);
  EXPECT_FALSE(r.error.has_value());
}

// The exit status is the return code; non-zero means success=false without an error.
TEST_F(RunnerTest, ExitCodes) {
  auto r = run("exit 42");
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.return_code, 42);
  EXPECT_FALSE(r.error.has_value());

  r = run("definitely-not-a-command-xyz");
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.return_code, 127);
  EXPECT_THAT(r.stderr_text, HasSubstr("not found"));
}

// A shell killed by a signal reports the negative signal number.
TEST_F(RunnerTest, SignalIsNegativeCode) {
  auto r = run("kill -9 $$");
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.return_code, -SIGKILL);
  EXPECT_FALSE(r.error.has_value());
}

// stdout and stderr are captured separately.
TEST_F(RunnerTest, StderrIsSeparate) {
  auto r = run("echo out; echo err >&2; echo out2");
  EXPECT_EQ(r.stdout_text, "out\nout2");
  EXPECT_EQ(r.stderr_text, "err");
}

// The environment is the spec's base, then Bay and profile variables, then the request's
// (which wins); nothing from Ship's own environment leaks in.
TEST_F(RunnerTest, EnvironmentIsBuiltAndRequestWins) {
  ::setenv("SHIP_ONLY_SECRET", "leak", 1);
  auto req = request(
      "echo \"$HOME|$USER|$LOGNAME|$SHELL|$LANG|$PATH|$BAY_SANDBOX_ID|$PROFILE_VAR|$OVERRIDE|"
      "$REQ|${SHIP_ONLY_SECRET-unset}\"");
  req.env = {{"OVERRIDE", "request"}, {"REQ", "r v"}};
  auto r = run(req);
  ::unsetenv("SHIP_ONLY_SECRET");
  EXPECT_EQ(r.stdout_text, dir_.path() + "|shipyard|shipyard|/bin/bash|C.UTF-8|" +
                               std::string(kBasePath) + "|sbx-test|from-profile|request|r v|unset");
}

// The command starts in the requested directory, whatever characters its name has.
TEST_F(RunnerTest, CwdIsHonoured) {
  std::string sub = dir_ / "it's a dir";
  std::filesystem::create_directories(sub);
  auto req = request("pwd");
  req.cwd = sub;
  auto r = run(req);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, sub);
}

// A missing cwd fails like bash's cd: success false, non-zero code, message in stderr,
// and no part of the command runs (its own operators do not bind to the cd).
TEST_F(RunnerTest, MissingCwdFailsNormally) {
  auto req = request("echo ran || echo fallback; echo also");
  req.cwd = dir_ / "missing";
  auto r = run(req);
  EXPECT_FALSE(r.success);
  ASSERT_TRUE(r.return_code.has_value());
  EXPECT_NE(*r.return_code, 0);
  EXPECT_GT(*r.return_code, 0);
  EXPECT_EQ(r.stdout_text, "");
  EXPECT_THAT(r.stderr_text, HasSubstr("No such file or directory"));
  EXPECT_FALSE(r.error.has_value());
}

// The env file is sourced when it exists and its variables are visible; a missing file
// is skipped silently.
TEST_F(RunnerTest, EnvFileSourcedWhenPresent) {
  auto r = run("echo \"[${FROM_FILE-none}]\"");
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "[none]");

  testing::write_file(dir_ / ".bay_env.sh", "export FROM_FILE='it'\\''s set'\n");
  r = run("echo \"[${FROM_FILE-none}]\"");
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "[it's set]");
}

// shell:false executes the split words directly: quotes group, no expansion, cwd applied.
TEST_F(RunnerTest, DirectExecution) {
  auto req = request("printf '%s|' \"a b\" c 'd  e' $HOME");
  req.use_shell = false;
  auto r = run(req);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "a b|c|d  e|$HOME|");

  req = request("pwd");
  req.use_shell = false;
  r = run(req);
  EXPECT_EQ(r.stdout_text, dir_.path());
}

// shell:false failures before the program runs are reported in `error` with code -1:
// unknown executable, missing cwd, unparsable command line.
TEST_F(RunnerTest, DirectExecutionFailuresAreValues) {
  auto req = request("no-such-program-xyz --flag");
  req.use_shell = false;
  auto r = run(req);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.return_code, -1);
  EXPECT_FALSE(r.pid.has_value());
  ASSERT_TRUE(r.error.has_value());
  EXPECT_THAT(*r.error, HasSubstr("no-such-program-xyz"));

  req = request("/bin/true");
  req.use_shell = false;
  req.cwd = dir_ / "missing";
  r = run(req);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.return_code, -1);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_THAT(*r.error, HasSubstr("working directory"));

  req = request("echo \"unbalanced");
  req.use_shell = false;
  r = run(req);
  EXPECT_EQ(r.return_code, -1);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_THAT(*r.error, HasSubstr("unbalanced"));
}

// Without a timeout a command simply runs to its end.
TEST_F(RunnerTest, NoTimeout) {
  auto req = request("sleep 0.1; echo done");
  req.timeout.reset();
  auto r = run(req);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, "done");
}

// A timeout kills the whole tree — background jobs, a setsid child, a child in its own
// process group, a nested subshell's setsid child — answers -1 "Command timed out" with
// the output so far, and does so within timeout + 0.5 s.
TEST_F(RunnerTest, TimeoutKillsWholeTree) {
  auto req = request(
      "sleep 1000 & echo bg=$!\n"
      "setsid sleep 1000 & echo sid=$!\n"
      "(set -m; sleep 1000 & echo pgrp=$!; wait) 2>/dev/null & echo sub=$!\n"
      "(setsid sleep 1000 & echo nested=$!; wait) & echo subtwo=$!\n"
      "echo shell=$$\n"
      "sleep 0.2; echo ready >&2\n"
      "sleep 1000\n");
  req.timeout = 700ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(req);
  auto elapsed = std::chrono::steady_clock::now() - t0;

  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.return_code, -1);
  EXPECT_EQ(r.error, std::string(kTimedOutMessage));
  EXPECT_EQ(r.stderr_text, "ready");
  EXPECT_LT(elapsed, 700ms + 500ms);
  auto pids = printed_pids(r.stdout_text);
  ASSERT_EQ(pids.size(), 7u) << r.stdout_text;
  for (const auto& [name, pid] : pids) EXPECT_TRUE(process_dead(pid)) << name << "=" << pid;
}

// A shell that ignores SIGTERM (and passes that on to its children) is killed with
// SIGKILL after the grace period, still within timeout + 0.5 s.
TEST_F(RunnerTest, TimeoutEscalatesToSigkill) {
  auto req = request("trap '' TERM; sleep 1000 & echo bg=$!; echo shell=$$; sleep 1000");
  req.timeout = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(req);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.error, std::string(kTimedOutMessage));
  EXPECT_LT(elapsed, 300ms + 500ms);
  EXPECT_GE(elapsed, 300ms + runner_.limits().term_grace);
  auto pids = printed_pids(r.stdout_text);
  ASSERT_EQ(pids.size(), 2u) << r.stdout_text;
  for (const auto& [name, pid] : pids) EXPECT_TRUE(process_dead(pid)) << name << "=" << pid;
}

// A background child still holding the pipes delays the answer only by the drain time
// and keeps running.
TEST_F(RunnerTest, BackgroundChildNeitherDelaysNorIsKilled) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run("sleep 100 & echo bg=$!");
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(r.success);
  EXPECT_LT(elapsed, runner_.limits().drain_after_exit + 400ms);
  auto pids = printed_pids(r.stdout_text);
  ASSERT_EQ(pids.count("bg"), 1u);
  EXPECT_FALSE(process_dead(pids["bg"]));
  EXPECT_EQ(runner_.lingering_drains(), 2u);
  reap(pids["bg"]);
}

// Output a background child writes after the answer is drained and discarded: the child
// is not hit by SIGPIPE and finishes its work.
TEST_F(RunnerTest, LateBackgroundOutputIsDiscardedNotFatal) {
  std::string marker = dir_ / "marker";
  auto r = run("(sleep 0.3; echo late; echo late >&2; touch marker) & echo early");
  EXPECT_EQ(r.stdout_text, "early");
  EXPECT_EQ(r.stderr_text, "");
  EXPECT_TRUE(testing::run_until(ioc_, [&] { return std::filesystem::exists(marker); }));
  EXPECT_TRUE(testing::run_until(ioc_, [&] { return runner_.lingering_drains() == 0; }));
}

// Beyond the lingering budget, abandoned pipes are closed instead of drained.
TEST_F(RunnerTest, LingeringDrainsAreBounded) {
  Limits limits;
  limits.max_lingering_drains = 1;
  Runner small(ioc_.get_executor(), base(), limits);
  auto r = run_with(small, request("sleep 100 & echo bg=$!"));
  auto pid = printed_pids(r.stdout_text)["bg"];
  EXPECT_EQ(small.lingering_drains(), 1u);
  ::kill(pid, SIGKILL);
  EXPECT_TRUE(testing::run_until(ioc_, [&] { return small.lingering_drains() == 0; }));
}

// Each stream is capped with a truncation note naming the omitted byte count.
TEST_F(RunnerTest, OutputCapWithNote) {
  Limits limits;
  limits.output_cap = 1000;
  Runner capped(ioc_.get_executor(), base(), limits);
  auto r = run_with(capped, request("head -c 5000 /dev/zero | tr '\\0' a; echo small >&2"));
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.stdout_text, std::string(1000, 'a') + "\n[output truncated: 4000 bytes omitted]");
  EXPECT_EQ(r.stderr_text, "small");
}

// A flood on both streams is drained without blocking the command and answered capped.
TEST_F(RunnerTest, FloodDoesNotBlock) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run("(yes e | head -c 20M >&2) & yes | head -c 50M; wait");
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(r.success);
  EXPECT_LT(elapsed, 8s);
  EXPECT_THAT(r.stdout_text, ::testing::EndsWith("[output truncated: 41943040 bytes omitted]"));
  EXPECT_THAT(r.stderr_text, ::testing::EndsWith("[output truncated: 10485760 bytes omitted]"));
  EXPECT_LT(r.stdout_text.size(), (10u << 20) + 100);
  EXPECT_GT(r.stdout_text.size(), (10u << 20) - 100);
}

// Invalid UTF-8 is replaced by U+FFFD and surrounding whitespace trimmed.
TEST_F(RunnerTest, InvalidUtf8Replaced) {
  auto r = run("printf '  a\\377\\376b \\n\\n'; printf '\\303' >&2");
  EXPECT_EQ(r.stdout_text,
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(r.stderr_text, "\xEF\xBF\xBD");
}

// The output collected before a timeout is returned.
TEST_F(RunnerTest, TimeoutKeepsPartialOutput) {
  auto req = request("echo before; echo warn >&2; sleep 1000");
  req.timeout = 300ms;
  auto r = run(req);
  EXPECT_EQ(r.error, std::string(kTimedOutMessage));
  EXPECT_EQ(r.stdout_text, "before");
  EXPECT_EQ(r.stderr_text, "warn");
}

// Cancelling run() (a caller racing it with ||) kills the command's tree before run()
// completes.
TEST_F(RunnerTest, CancellationKillsTree) {
  using namespace asio::experimental::awaitable_operators;
  std::string pidfile = dir_ / "pids";
  auto req = request("echo $$ > pids; sleep 1000 & echo $! >> pids; sleep 1000");
  req.timeout.reset();
  auto race = [&]() -> asio::awaitable<std::size_t> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(300ms);
    auto winner = co_await (runner_.run(req) || timer.async_wait(asio::use_awaitable));
    co_return winner.index();
  };
  EXPECT_EQ(run_sync(ioc_, race()), 1u);
  std::istringstream in(testing::read_file(pidfile));
  std::vector<pid_t> pids;
  for (pid_t p = 0; in >> p;) pids.push_back(p);
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t p : pids) EXPECT_TRUE(process_dead(p)) << p;
}

// Many concurrent commands on one Runner do not interfere.
TEST_F(RunnerTest, ConcurrentCommands) {
  auto all = [&]() -> asio::awaitable<std::vector<ExecResult>> {
    std::vector<ExecResult> out;
    using namespace asio::experimental::awaitable_operators;
    auto [a, b] = co_await (runner_.run(request("sleep 0.2; echo a")) &&
                            runner_.run(request("echo b; exit 3")));
    out.push_back(std::move(a));
    out.push_back(std::move(b));
    co_return out;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto results = run_sync(ioc_, all());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(results[0].stdout_text, "a");
  EXPECT_EQ(results[1].stdout_text, "b");
  EXPECT_EQ(results[1].return_code, 3);
}

}  // namespace
}  // namespace shipyard::ship::shell
