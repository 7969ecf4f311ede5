#include "ship/shell/process_registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <set>

#include "test_support.hpp"

namespace shipyard::ship::shell {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::process_dead;
using testing::run_until;
using testing::TempDir;
namespace asio = boost::asio;

class ProcessRegistryTest : public ::testing::Test {
 protected:
  ProcessRegistryTest() { make_registry(Limits{}); }

  ~ProcessRegistryTest() override {
    // Nothing a test started may outlive it.
    testing::run_sync(ioc_, registry_->async_terminate_all());
  }

  void make_registry(Limits limits) {
    registry_.emplace(ioc_.get_executor(), EnvironmentBase{std::string(kBasePath), {}, {}},
                      dir_ / "logs", limits);
  }

  ExecRequest request(std::string command) {
    ExecRequest req;
    req.command = std::move(command);
    req.cwd = dir_.path();
    req.home = dir_.path();
    req.env_file = dir_ / ".bay_env.sh";
    return req;
  }

  ProcessInfo start(std::string command, std::string session = "") {
    auto r = registry_->start(request(std::move(command)), std::move(session));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : ProcessInfo{};
  }

  static const ProcessInfo* find(const std::vector<ProcessInfo>& list, const std::string& id) {
    for (const auto& p : list) {
      if (p.process_id == id) return &p;
    }
    return nullptr;
  }

  // Lists `session` until `id` shows up finished; that listing is returned.
  std::optional<ProcessInfo> wait_finished(const std::string& id,
                                           const std::optional<std::string>& session) {
    std::optional<ProcessInfo> seen;
    run_until(ioc_, [&] {
      auto list = registry_->list(session);
      const ProcessInfo* p = find(list, id);
      if (p != nullptr && p->status != kStatusRunning) seen = *p;
      return seen.has_value();
    });
    return seen;
  }

  // True once the exit watcher has reaped the process (its /proc entry is gone).
  bool reaped(int pid) {
    return run_until(ioc_, [&] { return !read_proc_stat(pid).has_value(); });
  }

  asio::io_context ioc_;
  TempDir dir_;
  std::optional<ProcessRegistry> registry_;
};

// start() returns an 8-hex id and the pid at once; the process is listed as running,
// then (once) as completed with exit code 0; stdout and stderr land in its log file.
TEST_F(ProcessRegistryTest, StartListComplete) {
  auto p = start("echo out; sleep 0.2; echo err >&2");
  EXPECT_TRUE(std::regex_match(p.process_id, std::regex("[0-9a-f]{8}")));
  EXPECT_GT(p.pid, 0);
  EXPECT_EQ(p.status, kStatusRunning);
  EXPECT_FALSE(p.exit_code.has_value());

  auto list = registry_->list(std::nullopt);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].process_id, p.process_id);
  EXPECT_EQ(list[0].command, "echo out; sleep 0.2; echo err >&2");
  EXPECT_EQ(list[0].status, kStatusRunning);

  auto done = wait_finished(p.process_id, std::nullopt);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, kStatusCompleted);
  EXPECT_EQ(done->exit_code, 0);
  EXPECT_EQ(find(registry_->list(std::nullopt), p.process_id), nullptr);

  std::string log = registry_->log_path(p.process_id);
  EXPECT_EQ(log, dir_ / ("logs/" + p.process_id + ".log"));
  EXPECT_TRUE(run_until(ioc_, [&] { return testing::read_file(log) == "out\nerr\n"; }))
      << testing::read_file(log);
}

// A non-zero exit or a signal makes the final status "failed" with that code.
TEST_F(ProcessRegistryTest, FailedStatus) {
  auto a = start("exit 3", "a");
  auto b = start("kill -TERM $$", "b");
  auto da = wait_finished(a.process_id, "a");
  ASSERT_TRUE(da.has_value());
  EXPECT_EQ(da->status, kStatusFailed);
  EXPECT_EQ(da->exit_code, 3);
  auto db = wait_finished(b.process_id, "b");
  ASSERT_TRUE(db.has_value());
  EXPECT_EQ(db->status, kStatusFailed);
  EXPECT_EQ(db->exit_code, -SIGTERM);
}

// Listing by session shows only that session's processes; no session lists all.
TEST_F(ProcessRegistryTest, SessionFilter) {
  auto a = start("sleep 100", "s1");
  auto b = start("sleep 100", "s2");
  auto c = start("sleep 100");
  auto ids = [](const std::vector<ProcessInfo>& l) {
    std::set<std::string> out;
    for (const auto& p : l) out.insert(p.process_id);
    return out;
  };
  EXPECT_EQ(ids(registry_->list(std::string("s1"))), std::set<std::string>{a.process_id});
  EXPECT_EQ(ids(registry_->list(std::string(""))), std::set<std::string>{c.process_id});
  EXPECT_EQ(ids(registry_->list(std::nullopt)),
            (std::set<std::string>{a.process_id, b.process_id, c.process_id}));
}

// A finished process stays listed until it appeared in one listing that includes it;
// listings of other sessions do not count.
TEST_F(ProcessRegistryTest, RetainedUntilListedOnce) {
  auto p = start("true", "s1");
  ASSERT_TRUE(reaped(p.pid));
  EXPECT_TRUE(registry_->list(std::string("s2")).empty());
  auto first = registry_->list(std::string("s1"));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].status, kStatusCompleted);
  EXPECT_TRUE(registry_->list(std::string("s1")).empty());
  EXPECT_TRUE(registry_->list(std::nullopt).empty());
}

// A finished process nobody listed is pruned once the retention period has passed, and
// kept before that.
TEST_F(ProcessRegistryTest, RetentionPeriod) {
  Limits limits;
  limits.retention = 300ms;
  make_registry(limits);
  auto early = start("true");
  auto late = start("true");
  ASSERT_TRUE(reaped(early.pid));
  ASSERT_TRUE(reaped(late.pid));
  auto list = registry_->list(std::string("other"));  // prunes, shows nothing
  EXPECT_TRUE(list.empty());
  // Still within retention: listed (and thereby consumed).
  EXPECT_NE(find(registry_->list(std::nullopt), early.process_id), nullptr);
  auto more = start("true");
  ASSERT_TRUE(reaped(more.pid));
  testing::run_for(ioc_, 400ms);
  EXPECT_TRUE(registry_->list(std::nullopt).empty());
}

// The log file is capped with a note and the process is not blocked by its output.
TEST_F(ProcessRegistryTest, LogIsCapped) {
  Limits limits;
  limits.log_cap = 1000;
  make_registry(limits);
  auto p = start("head -c 3000000 /dev/zero | tr '\\0' x; echo done");
  auto done = wait_finished(p.process_id, std::nullopt);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, kStatusCompleted);
  std::string expected =
      std::string(1000, 'x') + "\n[log truncated: further output discarded after 1000 bytes]\n";
  EXPECT_TRUE(run_until(
      ioc_, [&] { return testing::read_file(registry_->log_path(p.process_id)) == expected; }));
}

// A start that fails (unknown executable with shell:false) is an error value, leaves no
// entry and no log file.
TEST_F(ProcessRegistryTest, StartFailureReported) {
  auto req = request("no-such-program-xyz");
  req.use_shell = false;
  auto r = registry_->start(req, "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no-such-program-xyz"));
  EXPECT_TRUE(registry_->list(std::nullopt).empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "logs"));
}

// The registry is bounded: finished entries make room first; when every entry is
// running, start() refuses.
TEST_F(ProcessRegistryTest, Bounded) {
  Limits limits;
  limits.max_processes = 2;
  make_registry(limits);
  auto a = start("true");
  auto b = start("sleep 100");
  ASSERT_TRUE(reaped(a.pid));
  auto c = start("sleep 100");  // pushes out the finished `a`
  EXPECT_FALSE(c.process_id.empty());
  auto d = registry_->start(request("sleep 100"), "");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kUnavailable);
  auto list = registry_->list(std::nullopt);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].process_id, b.process_id);
  EXPECT_EQ(list[1].process_id, c.process_id);
}

// Process ids are unique.
TEST_F(ProcessRegistryTest, UniqueIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.insert(start("true").process_id);
  EXPECT_EQ(ids.size(), 20u);
}

class TerminateAllTest : public ProcessRegistryTest, public ::testing::WithParamInterface<bool> {};

// terminate_all() (blocking) and async_terminate_all() end every running command's tree,
// TERM-ignoring ones included, within the grace period plus a little; their status
// becomes failed.
TEST_P(TerminateAllTest, KillsEveryTree) {
  auto a = start("sleep 1000", "a");
  auto b = start("trap '' TERM; sleep 1000 & echo $! > child; sleep 1000", "b");
  ASSERT_TRUE(run_until(ioc_, [&] { return !testing::read_file(dir_ / "child").empty(); }));
  pid_t child = std::stoi(testing::read_file(dir_ / "child"));
  auto t0 = std::chrono::steady_clock::now();
  if (GetParam()) {
    registry_->terminate_all();
  } else {
    testing::run_sync(ioc_, registry_->async_terminate_all());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms + 500ms);
  EXPECT_TRUE(process_dead(a.pid));
  EXPECT_TRUE(process_dead(b.pid));
  EXPECT_TRUE(process_dead(child));
  auto da = wait_finished(a.process_id, "a");
  auto db = wait_finished(b.process_id, "b");
  ASSERT_TRUE(da && db);
  EXPECT_EQ(da->status, kStatusFailed);
  EXPECT_EQ(da->exit_code, -SIGTERM);
  EXPECT_EQ(db->status, kStatusFailed);
  EXPECT_EQ(db->exit_code, -SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(BlockingAndAsync, TerminateAllTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Blocking" : "Async";
                         });

}  // namespace
}  // namespace shipyard::ship::shell
