#include "common/async_event.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "test_support.hpp"

namespace shipyard {
namespace {

using namespace std::chrono_literals;
using ship::kernel::testing::run_sync;
using ship::kernel::testing::run_until;
using ship::kernel::testing::spawn_call;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

asio::awaitable<bool> wait_for(AsyncEvent* ev, std::chrono::milliseconds d) {
  co_return co_await ev->wait_until(Clock::now() + d);
}

// An event that is already set answers true at once, even with a deadline in the past.
TEST(AsyncEventTest, AlreadySetReturnsTrue) {
  asio::io_context ioc;
  AsyncEvent ev(ioc.get_executor());
  ev.set();
  EXPECT_TRUE(ev.is_set());
  EXPECT_TRUE(run_sync(ioc, wait_for(&ev, -1s), 2s));
}

// A deadline that passes without set() answers false, not before the deadline.
TEST(AsyncEventTest, DeadlinePassesReturnsFalse) {
  asio::io_context ioc;
  AsyncEvent ev(ioc.get_executor());
  auto t0 = Clock::now();
  EXPECT_FALSE(run_sync(ioc, wait_for(&ev, 100ms), 5s));
  EXPECT_GE(Clock::now() - t0, 100ms);
  EXPECT_FALSE(ev.is_set());
}

// set() wakes every waiter promptly, long before their deadlines.
TEST(AsyncEventTest, SetWakesAllWaiters) {
  asio::io_context ioc;
  AsyncEvent ev(ioc.get_executor());
  auto a = spawn_call(ioc, wait_for(&ev, 60s));
  auto b = spawn_call(ioc, wait_for(&ev, 60s));
  ioc.poll();  // both are waiting now
  EXPECT_FALSE(a->done || b->done);
  auto t0 = Clock::now();
  ev.set();
  ASSERT_TRUE(run_until(
      ioc, [&] { return a->done && b->done; }, 5s));
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(*a->value);
  EXPECT_TRUE(*b->value);
}

// A waiter whose own deadline passes does not disturb another waiter on the same event.
TEST(AsyncEventTest, OneWaiterTimingOutLeavesOthersWaiting) {
  asio::io_context ioc;
  AsyncEvent ev(ioc.get_executor());
  auto short_wait = spawn_call(ioc, wait_for(&ev, 50ms));
  auto long_wait = spawn_call(ioc, wait_for(&ev, 60s));
  ASSERT_TRUE(run_until(
      ioc, [&] { return short_wait->done; }, 5s));
  EXPECT_FALSE(*short_wait->value);
  EXPECT_FALSE(long_wait->done);
  ev.set();
  ASSERT_TRUE(run_until(
      ioc, [&] { return long_wait->done; }, 5s));
  EXPECT_TRUE(*long_wait->value);
}

void set_after_hops(asio::io_context* ioc, AsyncEvent* ev, int hops) {
  if (hops == 0) {
    ev->set();
    return;
  }
  asio::post(*ioc, [ioc, ev, hops] { set_after_hops(ioc, ev, hops - 1); });
}

// set() landing at any moment while a waiter sets up its wait wakes it at once.
TEST(AsyncEventTest, SetRacingWithWaitStartIsSeen) {
  asio::io_context ioc;
  for (int hops = 0; hops < 24; ++hops) {
    AsyncEvent ev(ioc.get_executor());
    auto w = spawn_call(ioc, wait_for(&ev, 3s));
    set_after_hops(&ioc, &ev, hops);
    auto t0 = Clock::now();
    ASSERT_TRUE(run_until(
        ioc, [&] { return w->done; }, 5s));
    EXPECT_LT(Clock::now() - t0, 1s) << hops << " hops";
    EXPECT_TRUE(*w->value);
    ioc.poll();  // nothing of this round may outlive `ev`
  }
}

// reset() clears the event: later waits block until the next set().
TEST(AsyncEventTest, ResetClears) {
  asio::io_context ioc;
  AsyncEvent ev(ioc.get_executor());
  ev.set();
  ev.reset();
  EXPECT_FALSE(ev.is_set());
  EXPECT_FALSE(run_sync(ioc, wait_for(&ev, 30ms), 5s));
  ev.set();
  EXPECT_TRUE(run_sync(ioc, wait_for(&ev, 60s), 5s));
}

}  // namespace
}  // namespace shipyard
