// KernelManager against the fake driver: status/restart/shutdown transitions, replacement
// of dead kernels, per-session kernels, and resource hygiene (fds, zombies).
#include "ship/kernel/kernel_manager.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "test_support.hpp"

namespace shipyard::ship {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace kernel::testing;  // NOLINT: the kernel test helpers
using kernel::ExecOutcome;

class KernelManagerTest : public ::testing::Test {
 protected:
  KernelManagerTest() {
    ignore_sigpipe();
    for (const char* sub : {"default", "s1", "s2"}) std::filesystem::create_directory(dir_ / sub);
  }

  void TearDown() override {
    mgr_.reset();  // shuts every kernel down
    EXPECT_TRUE(run_until(ioc_, [] { return child_processes().empty(); }))
        << "kernel processes left behind";
    ioc_.restart();
    ioc_.poll();
  }

  static kernel::KernelOptions options() {
    kernel::KernelOptions o;
    o.python = kPython;
    o.driver = kFakeKernel;
    o.interrupt_grace = 300ms;
    o.start_timeout = 10s;
    return o;
  }

  void make_manager(std::vector<shell::EnvVar> vars = {}, kernel::KernelOptions opts = options(),
                    std::size_t max_kernels = 64) {
    shell::EnvironmentBase env;
    env.path = std::string(shell::kBasePath);
    env.profile_vars = std::move(vars);
    mgr_ = std::make_unique<KernelManager>(ioc_.get_executor(), std::move(opts), std::move(env),
                                           max_kernels);
  }

  KernelRef ref(const std::string& id) const { return KernelRef{id, dir_ / id}; }

  Result<ExecOutcome> exec(const KernelRef& r, std::string code,
                           std::chrono::seconds timeout = 10s) {
    return run_sync(ioc_, mgr_->execute(r, std::move(code), false, timeout));
  }

  std::string text_of(const KernelRef& r, std::string code) {
    auto out = exec(r, std::move(code));
    if (!out) return "error: " + out.error().message;
    if (!out->success) return "failed: " + out->error.value_or("");
    return out->text;
  }

  pid_t pid_of(const KernelRef& r) { return std::stoi(text_of(r, "pid")); }

  asio::io_context ioc_;
  TempDir dir_;
  std::unique_ptr<KernelManager> mgr_;
};

// status: "not_started" → "alive" → "dead"; shutdown removes; a missing kernel is kNotFound.
TEST_F(KernelManagerTest, StatusAndShutdownTransitions) {
  make_manager();
  const auto d = ref("default");
  EXPECT_EQ(mgr_->status(d), "not_started");
  auto missing = mgr_->shutdown(d);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "Kernel not found");

  ASSERT_TRUE(mgr_->ensure_started(d));
  EXPECT_EQ(mgr_->status(d), "alive");
  EXPECT_EQ(text_of(d, "incr"), "1");
  ASSERT_TRUE(mgr_->ensure_started(d));  // idempotent: same kernel, state kept
  EXPECT_EQ(text_of(d, "incr"), "2");

  EXPECT_THAT(text_of(d, "exit 7"), HasSubstr("Kernel died"));
  EXPECT_EQ(mgr_->status(d), "dead");
  auto listing = mgr_->list();
  ASSERT_EQ(listing.size(), 1u);
  EXPECT_EQ(listing[0].id, "default");
  EXPECT_EQ(listing[0].status, "dead");

  EXPECT_EQ(text_of(d, "incr"), "1");  // a fresh kernel
  EXPECT_EQ(mgr_->status(d), "alive");
  ASSERT_TRUE(mgr_->shutdown(d));
  EXPECT_EQ(mgr_->status(d), "not_started");
  auto again = mgr_->shutdown(d);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(mgr_->list().empty());
}

// restart() yields a fresh ready kernel, kills the old one and fails its in-flight call.
TEST_F(KernelManagerTest, RestartGivesFreshKernel) {
  make_manager();
  const auto d = ref("default");
  auto st = run_sync(ioc_, mgr_->restart(d));
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(mgr_->status(d), "alive");
  EXPECT_EQ(text_of(d, "incr"), "1");
  EXPECT_EQ(text_of(d, "incr"), "2");
  pid_t old_pid = pid_of(d);

  auto inflight = spawn_call(ioc_, mgr_->execute(d, "sleep 30", false, 30s));
  ASSERT_TRUE(run_until(ioc_, [&] {
    auto log = fake_log_codes(d.root);
    return !log.empty() && log.back() == "sleep 30";
  }));
  st = run_sync(ioc_, mgr_->restart(d));
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_TRUE(run_until(
      ioc_, [&] { return inflight->done; }, 5s));
  ASSERT_TRUE(*inflight->value);
  EXPECT_THAT((**inflight->value).error.value_or(""),
              StartsWith("Kernel died: the kernel was restarted"));

  EXPECT_EQ(mgr_->status(d), "alive");
  EXPECT_EQ(text_of(d, "incr"), "1");
  EXPECT_NE(pid_of(d), old_pid);
  EXPECT_TRUE(run_until(ioc_, [&] { return !process_alive(old_pid); }));
}

// A kernel killed after an ignored interrupt is reported dead; the next call gets a fresh one.
TEST_F(KernelManagerTest, IgnoredInterruptThenFreshKernel) {
  make_manager();
  const auto d = ref("default");
  EXPECT_EQ(text_of(d, "incr"), "1");
  pid_t old_pid = pid_of(d);
  auto r = exec(d, "sleep_noint 30", 1s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->error,
            "Code execution timed out after 1 seconds; the interpreter was restarted "
            "and its state was lost");
  EXPECT_EQ(mgr_->status(d), "dead");
  EXPECT_EQ(text_of(d, "incr"), "1");
  EXPECT_NE(pid_of(d), old_pid);
  EXPECT_FALSE(process_alive(old_pid));
}

// A time-out that the cell honours keeps the same kernel and its state.
TEST_F(KernelManagerTest, InterruptedCellKeepsKernel) {
  make_manager();
  const auto d = ref("default");
  EXPECT_EQ(text_of(d, "incr"), "1");
  pid_t pid = pid_of(d);
  auto r = exec(d, "sleep 30", 1s);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Code execution timed out after 1 seconds"));
  EXPECT_EQ(mgr_->status(d), "alive");
  EXPECT_EQ(text_of(d, "incr"), "2");
  EXPECT_EQ(pid_of(d), pid);
}

// A crash mid-cell fails that call with "kernel died"; the next call gets a fresh kernel.
TEST_F(KernelManagerTest, CrashThenFreshKernel) {
  make_manager();
  const auto d = ref("default");
  EXPECT_EQ(text_of(d, "incr"), "1");
  auto r = exec(d, "segv");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Kernel died: "));
  EXPECT_EQ(mgr_->status(d), "dead");
  EXPECT_EQ(text_of(d, "incr"), "1");
  EXPECT_EQ(mgr_->status(d), "alive");
}

// After a protocol violation the kernel is dead and the next call gets a fresh kernel.
TEST_F(KernelManagerTest, GarbageThenFreshKernel) {
  make_manager();
  const auto d = ref("default");
  EXPECT_EQ(text_of(d, "incr"), "1");
  auto r = exec(d, "garbage");
  ASSERT_TRUE(r);
  EXPECT_THAT(r->error.value_or(""), HasSubstr("Kernel protocol error"));
  EXPECT_EQ(mgr_->status(d), "dead");
  EXPECT_EQ(text_of(d, "incr"), "1");
}

// Each session has its own process, root and state; shutting one down spares the others.
TEST_F(KernelManagerTest, PerSessionKernelsAreSeparate) {
  make_manager();
  const auto d = ref("default");
  const auto s1 = ref("s1");
  const auto s2 = ref("s2");
  std::set<pid_t> pids = {pid_of(d), pid_of(s1), pid_of(s2)};
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_EQ(text_of(s1, "incr"), "1");
  EXPECT_EQ(text_of(s1, "incr"), "2");
  EXPECT_EQ(text_of(d, "incr"), "1");
  EXPECT_EQ(text_of(s2, "incr"), "1");
  // Each kernel ran in its own root: its log holds only its own cells.
  EXPECT_EQ(fake_log_codes(s1.root), (std::vector<std::string>{"pid", "incr", "incr"}));
  EXPECT_EQ(fake_log_codes(d.root), (std::vector<std::string>{"pid", "incr"}));
  ASSERT_TRUE(mgr_->shutdown(s1));
  EXPECT_EQ(mgr_->status(s1), "not_started");
  EXPECT_EQ(mgr_->status(d), "alive");
  EXPECT_EQ(text_of(d, "incr"), "2");
  EXPECT_EQ(text_of(s2, "incr"), "2");
  EXPECT_EQ(mgr_->list().size(), 2u);
}

// Beyond max_kernels new kernels are refused (kUnavailable) until a dead one can be dropped.
TEST_F(KernelManagerTest, KernelLimit) {
  make_manager({}, options(), 2);
  ASSERT_TRUE(mgr_->ensure_started(ref("default")));
  ASSERT_TRUE(mgr_->ensure_started(ref("s1")));
  auto refused = mgr_->ensure_started(ref("s2"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(text_of(ref("s1"), "exit 1"), HasSubstr("Kernel died"));
  EXPECT_EQ(text_of(ref("s2"), "ok"), "ok");
  EXPECT_EQ(mgr_->status(ref("s1")), "not_started");  // the dead one made room
}

// A never-ready kernel: a call shorter than start_timeout times out cleanly, the next one
// finds the start abandoned (500), and restart() fails after start_timeout.
TEST_F(KernelManagerTest, NeverReadyKernel) {
  auto opts = options();
  opts.start_timeout = 1500ms;
  make_manager({{"FAKE_NO_READY", "1"}}, opts);
  const auto d = ref("default");
  auto r = exec(d, "x", 1s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Code execution timed out after 1 seconds"));
  auto abandoned = exec(d, "y", 5s);
  ASSERT_FALSE(abandoned);
  EXPECT_THAT(abandoned.error().message, HasSubstr("did not start within 1500 ms"));
  EXPECT_EQ(mgr_->status(d), "dead");
  auto st = run_sync(ioc_, mgr_->restart(d));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  EXPECT_THAT(st.error().message, StartsWith("Failed to restart kernel: "));
}

// A driver that cannot start is reported as "Failed to execute code: ..." (HTTP 500).
TEST_F(KernelManagerTest, StartFailure) {
  auto opts = options();
  opts.python = dir_ / "no-such-python";
  make_manager({}, opts);
  auto r = exec(ref("default"), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, StartsWith("Failed to execute code: "));
  EXPECT_EQ(mgr_->status(ref("default")), "not_started");
}

// 200 executions plus kernel deaths/restarts/shutdowns leave no open fd and no zombie child.
TEST_F(KernelManagerTest, NoFdLeakNoZombies) {
  make_manager();
  const auto d = ref("default");
  const auto s1 = ref("s1");
  // Warm up: the io_context's reactor and spdlog open their descriptors once.
  EXPECT_EQ(text_of(d, "warm"), "warm");
  ASSERT_TRUE(mgr_->shutdown(d));
  ASSERT_TRUE(run_until(ioc_, [] { return child_processes().empty(); }));
  ioc_.poll();
  const int fds_before = count_open_fds();

  const std::vector<std::string> deaths = {"exit 3", "segv", "garbage", "wrong_id", "bad_result"};
  int executed = 0;
  for (int round = 0; round < 10; ++round) {
    // 20 concurrent calls per round, spread over two kernels.
    std::vector<std::shared_ptr<Call<Result<ExecOutcome>>>> calls;
    for (int i = 0; i < 20; ++i) {
      const auto& r = (i % 2 == 0) ? d : s1;
      calls.push_back(spawn_call(ioc_, mgr_->execute(r, "cell " + std::to_string(i), false, 10s)));
    }
    ASSERT_TRUE(run_until(ioc_, [&] {
      return std::all_of(calls.begin(), calls.end(), [](const auto& c) { return c->done; });
    }));
    for (const auto& c : calls) {
      ASSERT_TRUE(c->value && *c->value);
      EXPECT_TRUE((**c->value).success);
      ++executed;
    }
    if (round % 2 == 0) {
      (void)exec(round % 4 == 0 ? d : s1, deaths[(round / 2) % deaths.size()]);
    } else if (round == 3) {
      ASSERT_TRUE(run_sync(ioc_, mgr_->restart(d)));
    } else if (round == 7) {
      ASSERT_TRUE(mgr_->shutdown(s1));
    }
    // Dead kernels are reaped promptly: no zombie lingers while Ship keeps running.
    EXPECT_TRUE(run_until(
        ioc_, [] { return zombie_children() == 0; }, 5s))
        << "round " << round;
  }
  EXPECT_EQ(executed, 200);

  mgr_->shutdown_all();
  EXPECT_TRUE(mgr_->list().empty());
  EXPECT_TRUE(
      run_until(ioc_, [&] { return child_processes().empty() && count_open_fds() == fds_before; }))
      << "children: " << child_processes().size() << ", fds " << count_open_fds() << " vs "
      << fds_before;
  EXPECT_EQ(count_open_fds(), fds_before);
  EXPECT_EQ(zombie_children(), 0);
}

}  // namespace
}  // namespace shipyard::ship
