// KernelManager with the real driver (src/ship/kernel/driver/shipyard_kernel.py).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ship/kernel/kernel_manager.hpp"
#include "test_support.hpp"

namespace shipyard::ship {
namespace {

using namespace std::chrono_literals;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace kernel::testing;  // NOLINT: the kernel test helpers

// Real driver: state persists, trailing values shown, tracebacks, interrupt keeps state.
TEST(RealDriverTest, StateDisplayErrorsAndInterrupt) {
  ignore_sigpipe();
  asio::io_context ioc;
  TempDir dir;
  {
    kernel::KernelOptions opts;
    opts.python = kPython;
    opts.driver = kRealDriver;
    shell::EnvironmentBase env;
    env.path = std::string(shell::kBasePath);
    KernelManager mgr(ioc.get_executor(), opts, env);
    const KernelRef ref{"default", dir.path()};
    auto exec = [&](std::string code, std::chrono::seconds timeout = 20s) {
      auto r = run_sync(ioc, mgr.execute(ref, std::move(code), false, timeout), 30s);
      EXPECT_TRUE(r) << r.error().message;
      return r ? *r : kernel::ExecOutcome{};
    };

    auto r = exec("x = 41\nprint('hello')");
    EXPECT_TRUE(r.success);
    EXPECT_EQ(r.text, "hello");
    EXPECT_EQ(r.execution_count, 1);

    r = exec("x + 1");
    EXPECT_TRUE(r.success);
    EXPECT_EQ(r.text, "42");
    EXPECT_EQ(r.execution_count, 2);

    r = exec("'a'");
    EXPECT_EQ(r.text, "'a'");

    r = exec("print('before')\n1 / 0");
    EXPECT_FALSE(r.success);
    EXPECT_EQ(r.text, "before");
    EXPECT_THAT(r.error.value_or(""), StartsWith("Traceback (most recent call last):"));
    EXPECT_THAT(r.error.value_or(""), EndsWith("ZeroDivisionError: division by zero"));
    EXPECT_EQ(r.execution_count, 4);

    auto t0 = std::chrono::steady_clock::now();
    r = exec("import time\nx = 99\ntime.sleep(100)", 1s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_FALSE(r.success);
    EXPECT_TRUE(r.interrupted);
    EXPECT_THAT(r.error.value_or(""), StartsWith("Code execution timed out after 1 seconds"));
    EXPECT_THAT(r.error.value_or(""), HasSubstr("KeyboardInterrupt"));
    EXPECT_THAT(r.error.value_or(""), testing::Not(HasSubstr("restarted")));

    r = exec("x");
    EXPECT_TRUE(r.success);
    EXPECT_EQ(r.text, "99");
    EXPECT_EQ(mgr.status(ref), "alive");
  }
  EXPECT_TRUE(run_until(ioc, [] { return child_processes().empty(); }));
  ioc.restart();
  ioc.poll();
}

}  // namespace
}  // namespace shipyard::ship
