// The Kernel state machine against a fake driver (fake_kernel.py) that speaks the framed
// protocol and misbehaves on request.
#include "ship/kernel/kernel.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "test_support.hpp"

namespace shipyard::ship::kernel {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace testing;  // NOLINT: the kernel test helpers
using Clock = std::chrono::steady_clock;

constexpr std::string_view kLost = "; the interpreter was restarted and its state was lost";

class KernelTest : public ::testing::Test {
 protected:
  KernelTest() { ignore_sigpipe(); }

  void TearDown() override {
    // Everything a test started must go away: kernels killed, processes reaped, Kernel
    // objects released by their read loops.
    std::vector<std::weak_ptr<Kernel>> weak(kernels_.begin(), kernels_.end());
    for (auto& k : kernels_) k->kill("the test is over");
    kernels_.clear();
    EXPECT_TRUE(run_until(ioc_, [&] {
      return child_processes().empty() &&
             std::all_of(weak.begin(), weak.end(), [](const auto& w) { return w.expired(); });
    })) << "kernel processes or Kernel objects left behind";
    ioc_.restart();
    ioc_.poll();
  }

  std::shared_ptr<Kernel> start(std::vector<std::string> extra_env = {},
                                KernelOptions opts = options()) {
    std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + dir_.path(), "LANG=C.UTF-8"};
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    auto k = std::make_shared<Kernel>(ioc_.get_executor(), std::move(opts), "test", dir_.path(),
                                      std::move(env));
    auto s = k->start();
    EXPECT_TRUE(s) << s.error().message;
    kernels_.push_back(k);
    return k;
  }

  static KernelOptions options() {
    KernelOptions o;
    o.python = kPython;
    o.driver = kFakeKernel;
    o.interrupt_grace = 300ms;
    o.start_timeout = 10s;
    return o;
  }

  Result<ExecOutcome> exec(const std::shared_ptr<Kernel>& k, std::string code,
                           std::chrono::seconds timeout = 10s, bool silent = false) {
    return run_sync(ioc_, k->execute(std::move(code), silent, timeout));
  }

  // A successful cell's text.
  std::string text_of(const std::shared_ptr<Kernel>& k, std::string code) {
    auto r = exec(k, std::move(code));
    if (!r) return "error: " + r.error().message;
    if (!r->success) return "failed: " + r->error.value_or("");
    return r->text;
  }

  std::vector<std::string> log() const { return fake_log_codes(dir_.path()); }

  asio::io_context ioc_;
  TempDir dir_;
  std::vector<std::shared_ptr<Kernel>> kernels_;
};

// A started kernel becomes ready, answers cells with their own output and counts them.
TEST_F(KernelTest, ReadyAndExecute) {
  auto k = start();
  EXPECT_EQ(k->state(), KernelState::kStarting);
  EXPECT_TRUE(run_sync(ioc_, k->wait_ready(Clock::now() + 10s)));
  EXPECT_EQ(k->state(), KernelState::kReady);
  auto r = exec(k, "hello world");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->text, "hello world");
  EXPECT_EQ(r->execution_count, 1);
  EXPECT_FALSE(r->error.has_value());
  auto silent = exec(k, "quiet", 10s, /*silent=*/true);
  ASSERT_TRUE(silent);
  EXPECT_FALSE(silent->execution_count.has_value());
  EXPECT_EQ(exec(k, "again")->execution_count, 2);
  EXPECT_FALSE(k->busy());
  EXPECT_TRUE(k->death_reason().empty());
}

// 32 concurrent callers are executed in arrival order, each getting its own result.
TEST_F(KernelTest, ConcurrentCallsRunInArrivalOrder) {
  auto k = start();
  constexpr int kCalls = 32;
  std::vector<std::shared_ptr<Call<Result<ExecOutcome>>>> calls;
  std::vector<std::string> codes;
  for (int i = 0; i < kCalls; ++i) {
    // Some cells take a little while so that later callers really queue up behind them.
    codes.push_back(i % 5 == 0 ? "sleep 0.02 #" + std::to_string(i) : "cell " + std::to_string(i));
    calls.push_back(spawn_call(ioc_, k->execute(codes.back(), false, 30s)));
  }
  ASSERT_TRUE(run_until(
      ioc_,
      [&] {
        return std::all_of(calls.begin(), calls.end(), [](const auto& c) { return c->done; });
      },
      20s));
  EXPECT_EQ(log(), codes);
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_FALSE(calls[i]->error);
    const auto& r = *calls[i]->value;
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->success) << i;
    EXPECT_EQ(r->text, codes[i]) << "result of call " << i << " misrouted";
    EXPECT_EQ(r->execution_count, i + 1);
  }
  EXPECT_FALSE(k->busy());
  EXPECT_EQ(k->state(), KernelState::kReady);
}

// A call timing out while queued is never sent and answers the time-out error at its deadline.
TEST_F(KernelTest, TimeoutWhileQueuedIsNotExecuted) {
  auto k = start();
  ASSERT_TRUE(run_sync(ioc_, k->wait_ready(Clock::now() + 10s)));
  auto a = spawn_call(ioc_, k->execute("sleep 1.6", false, 10s));
  auto b = spawn_call(ioc_, k->execute("queued b", false, 1s));
  auto c = spawn_call(ioc_, k->execute("after c", false, 10s));
  ASSERT_TRUE(run_until(ioc_, [&] { return b->done; }));
  EXPECT_FALSE(a->done) << "b must answer at its own deadline, not after a";
  ASSERT_TRUE(b->value && *b->value);
  EXPECT_FALSE((*b->value)->success);
  EXPECT_EQ((*b->value)->error, "Code execution timed out after 1 seconds");
  EXPECT_FALSE((*b->value)->execution_count.has_value());
  ASSERT_TRUE(run_until(ioc_, [&] { return a->done && c->done; }));
  EXPECT_TRUE((*a->value)->success);
  EXPECT_TRUE((*c->value)->success);
  EXPECT_EQ((*c->value)->text, "after c");
  EXPECT_EQ(log(), (std::vector<std::string>{"sleep 1.6", "after c"}));
  EXPECT_EQ((*c->value)->execution_count, 2);
}

// A running cell that times out is interrupted (SIGINT) and the kernel keeps its state.
TEST_F(KernelTest, TimeoutWhileRunningInterruptsAndKeepsState) {
  auto k = start();
  EXPECT_EQ(text_of(k, "incr"), "1");
  auto t0 = Clock::now();
  auto r = exec(k, "sleep 30", 1s);
  auto elapsed = Clock::now() - t0;
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->interrupted);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Code execution timed out after 1 seconds\n"));
  EXPECT_THAT(r->error.value_or(""), HasSubstr("KeyboardInterrupt"));
  EXPECT_THAT(r->error.value_or(""), Not(HasSubstr("restarted")));
  EXPECT_GE(elapsed, 1s);
  EXPECT_LT(elapsed, 1s + 300ms + 500ms);  // answered well within the grace period
  EXPECT_EQ(k->state(), KernelState::kReady);
  EXPECT_EQ(text_of(k, "incr"), "2");
}

// A cell ignoring SIGINT is killed after the grace: restart reported, kernel dead for good.
TEST_F(KernelTest, IgnoredInterruptKillsAfterGrace) {
  auto k = start();
  pid_t pid = std::stoi(text_of(k, "pid"));
  auto t0 = Clock::now();
  auto r = exec(k, "sleep_noint 30", 1s);
  auto elapsed = Clock::now() - t0;
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->error, "Code execution timed out after 1 seconds" + std::string(kLost));
  EXPECT_GE(elapsed, 1s + 300ms);
  EXPECT_LT(elapsed, 1s + 300ms + 1s);
  EXPECT_EQ(k->state(), KernelState::kDead);
  EXPECT_THAT(k->death_reason(), HasSubstr("did not respond to an interrupt"));
  EXPECT_TRUE(run_until(ioc_, [&] { return !process_alive(pid); }));
  // A dead kernel stays dead: later calls fail (success:false, not a 500) without running.
  auto again = exec(k, "after death");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->success);
  EXPECT_THAT(again->error.value_or(""), StartsWith("Kernel died: "));
  EXPECT_EQ(log(), (std::vector<std::string>{"pid", "sleep_noint 30"}));
}

// A SIGINT lost while the cell was starting is repeated in the grace: state kept, no restart.
TEST_F(KernelTest, InterruptIsRepeatedDuringGrace) {
  auto opts = options();
  opts.interrupt_grace = 1500ms;
  auto k = start({}, opts);
  EXPECT_EQ(text_of(k, "incr"), "1");
  // Deaf to SIGINT for 1.3 s (the first SIGINT comes at 1 s), interruptible afterwards.
  auto r = exec(k, "late_gate 1.3 30", 1s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->interrupted);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Code execution timed out after 1 seconds\n"));
  EXPECT_THAT(r->error.value_or(""), Not(HasSubstr("restarted")));
  EXPECT_EQ(k->state(), KernelState::kReady);
  EXPECT_EQ(text_of(k, "incr"), "2");
}

// A kernel exiting mid-cell fails the call with "Kernel died: ... exited with status N".
TEST_F(KernelTest, ExitMidCellFailsInflightCall) {
  auto k = start();
  auto r = exec(k, "exit 3");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Kernel died: "));
  EXPECT_THAT(r->error.value_or(""), HasSubstr("exited with status 3"));
  EXPECT_THAT(r->error.value_or(""), HasSubstr("state was lost"));
  EXPECT_EQ(k->state(), KernelState::kDead);
}

// A kernel crashing with SIGSEGV mid-cell fails the call with the signal in the message.
TEST_F(KernelTest, CrashMidCellFailsInflightCall) {
  auto k = start();
  auto r = exec(k, "segv");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Kernel died: "));
  EXPECT_THAT(r->error.value_or(""), HasSubstr("signal 11"));
  EXPECT_EQ(k->state(), KernelState::kDead);
}

// Calls queued behind a cell that kills the kernel fail cleanly instead of hanging.
TEST_F(KernelTest, CallsQueuedBehindACrashFailCleanly) {
  auto k = start();
  auto crash = spawn_call(ioc_, k->execute("exit 4", false, 10s));
  auto queued = spawn_call(ioc_, k->execute("never runs", false, 10s));
  ASSERT_TRUE(run_until(
      ioc_, [&] { return crash->done && queued->done; }, 5s));
  EXPECT_THAT((*crash->value)->error.value_or(""), HasSubstr("exited with status 4"));
  // A kernel that had been ready reports its death as a failed call, not a 500.
  const auto& q = *queued->value;
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_FALSE(q->success);
  EXPECT_THAT(q->error.value_or(""), HasSubstr("exited with status 4"));
  EXPECT_EQ(log(), std::vector<std::string>{"exit 4"});
}

struct Violation {
  std::string code;
  std::string expected;  // in the call's error
};

class KernelViolationTest : public KernelTest, public ::testing::WithParamInterface<Violation> {};

// Protocol violations mark the kernel dead and kill it; the call gets a clear error.
TEST_P(KernelViolationTest, ProtocolViolationKillsKernel) {
  auto k = start();
  pid_t pid = std::stoi(text_of(k, "pid"));
  auto r = exec(k, GetParam().code);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->error.value_or(""), StartsWith("Kernel died: Kernel protocol error: "));
  EXPECT_THAT(r->error.value_or(""), HasSubstr(GetParam().expected));
  EXPECT_EQ(k->state(), KernelState::kDead);
  EXPECT_THAT(k->death_reason(), HasSubstr(GetParam().expected));
  EXPECT_TRUE(run_until(ioc_, [&] { return !process_alive(pid); }));
}

INSTANTIATE_TEST_SUITE_P(Violations, KernelViolationTest,
                         ::testing::Values(Violation{"wrong_id", "unexpected result"},
                                           Violation{"garbage", "frame of"},
                                           Violation{"huge", "frame of 67108865 bytes"},
                                           Violation{"malformed", "malformed message"},
                                           Violation{"no_type", "message without type"}),
                         [](const auto& p) { return p.param.code; });

// Frames other than the awaited result (pong, error, a repeated ready) are ignored.
TEST_F(KernelTest, OtherFramesAreIgnored) {
  auto k = start();
  EXPECT_EQ(text_of(k, "chatty"), "chatty");
  EXPECT_EQ(k->state(), KernelState::kReady);
  EXPECT_EQ(text_of(k, "next"), "next");
}

// A result with a wrongly typed field is returned as a protocol Error and kills the kernel.
TEST_F(KernelTest, BadResultIsProtocolError) {
  auto k = start();
  auto r = exec(k, "bad_result");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, HasSubstr("Kernel protocol error"));
  EXPECT_EQ(k->state(), KernelState::kDead);
}

// A kernel that never sends "ready" makes calls time out cleanly without executing anything.
TEST_F(KernelTest, NeverReadyTimesOut) {
  auto k = start({"FAKE_NO_READY=1"});
  auto first = spawn_call(ioc_, k->execute("one", false, 1s));
  auto second = spawn_call(ioc_, k->execute("two", false, 1s));
  ASSERT_TRUE(run_until(
      ioc_, [&] { return first->done && second->done; }, 5s));
  for (const auto& c : {first, second}) {
    ASSERT_TRUE(*c->value);
    EXPECT_FALSE((**c->value).success);
    EXPECT_THAT((**c->value).error.value_or(""),
                StartsWith("Code execution timed out after 1 seconds"));
  }
  EXPECT_EQ(k->state(), KernelState::kStarting);
  EXPECT_FALSE(k->busy());
  EXPECT_TRUE(log().empty());
  EXPECT_FALSE(run_sync(ioc_, k->wait_ready(Clock::now() + 50ms)));
}

// A kernel that never becomes ready within start_timeout is killed, so it cannot hold every
// later call hostage; the call reports an interpreter start failure (500).
TEST_F(KernelTest, NeverReadyKilledAfterStartTimeout) {
  auto opts = options();
  opts.start_timeout = 500ms;
  auto k = start({"FAKE_NO_READY=1"}, opts);
  auto r = exec(k, "one", 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, HasSubstr("did not start within"));
  EXPECT_EQ(k->state(), KernelState::kDead);
  EXPECT_TRUE(log().empty());
}

// A driver that stopped reading cannot hold a call past its time-out, even with a huge cell.
TEST_F(KernelTest, HungDriverCannotBlockACall) {
  for (std::size_t size : {std::size_t{10}, std::size_t{4} << 20}) {
    auto k = start({"FAKE_NO_READ=1"});
    ASSERT_TRUE(run_sync(ioc_, k->wait_ready(Clock::now() + 10s)));
    auto t0 = Clock::now();
    auto r = run_sync(ioc_, k->execute(std::string(size, 'x'), false, 1s), 5s);
    EXPECT_LT(Clock::now() - t0, 1s + 300ms + 1s) << size;
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->success);
    EXPECT_EQ(r->error, "Code execution timed out after 1 seconds" + std::string(kLost)) << size;
    EXPECT_EQ(k->state(), KernelState::kDead);
  }
}

// A slow start is waited for within the call's time-out.
TEST_F(KernelTest, DelayedReadyIsWaitedFor) {
  auto k = start({"FAKE_READY_DELAY=0.5"});
  auto r = exec(k, "late but fine", 5s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->text, "late but fine");
}

// A driver that exits before "ready" makes calls fail with "Failed to execute code".
TEST_F(KernelTest, ExitBeforeReadyIsStartFailure) {
  auto k = start({"FAKE_EXIT_BEFORE_READY=5"});
  auto r = exec(k, "x", 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, StartsWith("Failed to execute code: "));
  EXPECT_THAT(r.error().message, HasSubstr("exited with status 5"));
  EXPECT_EQ(k->state(), KernelState::kDead);
  EXPECT_FALSE(run_sync(ioc_, k->wait_ready(Clock::now() + 10s)));
}

// An interpreter that cannot be spawned is reported by start() and leaves a dead kernel.
TEST_F(KernelTest, SpawnFailure) {
  auto opts = options();
  opts.python = dir_ / "no-such-python";
  auto k = std::make_shared<Kernel>(ioc_.get_executor(), opts, "test", dir_.path(),
                                    std::vector<std::string>{});
  auto s = k->start();
  ASSERT_FALSE(s);
  EXPECT_EQ(k->state(), KernelState::kDead);
  EXPECT_FALSE(k->death_reason().empty());
}

// kill() fails the call in flight at once with the given reason.
TEST_F(KernelTest, KillFailsInflightCall) {
  auto k = start();
  auto call = spawn_call(ioc_, k->execute("sleep 30", false, 30s));
  ASSERT_TRUE(run_until(ioc_, [&] { return !log().empty(); }));
  auto t0 = Clock::now();
  k->kill("the kernel was shut down");
  ASSERT_TRUE(run_until(
      ioc_, [&] { return call->done; }, 5s));
  EXPECT_LT(Clock::now() - t0, 1s);
  ASSERT_TRUE(*call->value);
  EXPECT_FALSE((**call->value).success);
  EXPECT_THAT((**call->value).error.value_or(""),
              StartsWith("Kernel died: the kernel was shut down"));
  EXPECT_EQ(k->death_reason(), "the kernel was shut down");
}

// The read loop keeps a live kernel (object and process) until it is killed; then both go.
TEST_F(KernelTest, ReadLoopKeepsKernelUntilKilled) {
  std::weak_ptr<Kernel> weak;
  pid_t pid = 0;
  {
    auto k = start();
    pid = std::stoi(text_of(k, "pid"));
    weak = k;
    kernels_.clear();
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_TRUE(process_alive(pid));
  weak.lock()->kill("done");
  EXPECT_TRUE(run_until(ioc_, [&] { return weak.expired() && !process_alive(pid); }));
}

}  // namespace
}  // namespace shipyard::ship::kernel
