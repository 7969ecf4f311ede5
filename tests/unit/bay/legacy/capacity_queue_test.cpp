// The MAX_SHIP_NUM gate (legacy-api.md §5 step 4): slots, strict FIFO hand-over, time-outs
// and abandoned waiters.
#include "bay/legacy/capacity_queue.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <vector>

namespace shipyard::bay::legacy {
namespace {

namespace asio = boost::asio;
using Outcome = CapacityQueue::Outcome;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kLong = std::chrono::seconds(30);

struct Log {
  std::vector<std::pair<int, Outcome>> done;
};

asio::awaitable<void> waiter(CapacityQueue* q, int n, SteadyClock::time_point deadline,
                             std::shared_ptr<AsyncEvent> abandon, Log* log) {
  Outcome o = co_await q->acquire(deadline, std::move(abandon));
  log->done.emplace_back(n, o);
}

class CapacityQueueTest : public ::testing::Test {
 protected:
  void spawn(int n, SteadyClock::duration patience = kLong,
             std::shared_ptr<AsyncEvent> abandon = nullptr) {
    asio::co_spawn(io, waiter(&q, n, SteadyClock::now() + patience, std::move(abandon), &log),
                   asio::detached);
  }
  // Drives the io_context until `n` waiters finished (or 10 s pass).
  bool finished(std::size_t n) {
    auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (log.done.size() < n && SteadyClock::now() < deadline) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return log.done.size() >= n;
  }
  void settle() {
    io.restart();
    io.poll();
  }

  asio::io_context io;
  CapacityQueue q{io.get_executor(), 2};
  Log log;
};

// Slots are taken up to the limit; the next try fails until one is released.
TEST_F(CapacityQueueTest, CountsSlots) {
  EXPECT_TRUE(q.try_acquire());
  EXPECT_TRUE(q.try_acquire());
  EXPECT_FALSE(q.try_acquire());
  q.release();
  EXPECT_TRUE(q.try_acquire());
  EXPECT_EQ(q.in_use(), 2);
}

// Waiters are served strictly in arrival order, one per released slot.
TEST_F(CapacityQueueTest, ServesWaitersInFifoOrder) {
  ASSERT_TRUE(q.try_acquire());
  ASSERT_TRUE(q.try_acquire());
  for (int n = 1; n <= 4; ++n) spawn(n);
  settle();
  EXPECT_EQ(q.waiting(), 4u);
  for (std::size_t i = 1; i <= 4; ++i) {
    q.release();
    ASSERT_TRUE(finished(i));
  }
  ASSERT_EQ(log.done.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(log.done[i].first, i + 1);
    EXPECT_EQ(log.done[i].second, Outcome::kAcquired);
  }
  EXPECT_EQ(q.in_use(), 2);  // every release was handed over, never returned to the pool
}

// While someone waits, a released slot is handed over: a newcomer cannot take it first.
TEST_F(CapacityQueueTest, NewcomersCannotOvertake) {
  ASSERT_TRUE(q.try_acquire());
  ASSERT_TRUE(q.try_acquire());
  spawn(1);
  settle();
  q.release();
  EXPECT_FALSE(q.try_acquire());
  ASSERT_TRUE(finished(1));
  EXPECT_EQ(log.done[0].second, Outcome::kAcquired);
}

// A waiter whose patience runs out leaves the queue; the next release goes to the pool.
TEST_F(CapacityQueueTest, TimedOutWaiterLeavesTheQueue) {
  ASSERT_TRUE(q.try_acquire());
  ASSERT_TRUE(q.try_acquire());
  spawn(1, std::chrono::milliseconds(50));
  ASSERT_TRUE(finished(1));
  EXPECT_EQ(log.done[0].second, Outcome::kTimedOut);
  EXPECT_EQ(q.waiting(), 0u);
  q.release();
  EXPECT_EQ(q.in_use(), 1);
  EXPECT_TRUE(q.try_acquire());
}

// An abandoned waiter (client gone) leaves at once and the one behind it is served next.
TEST_F(CapacityQueueTest, AbandonedWaiterLeavesTheQueue) {
  ASSERT_TRUE(q.try_acquire());
  ASSERT_TRUE(q.try_acquire());
  auto gone = std::make_shared<AsyncEvent>(io.get_executor());
  spawn(1, kLong, gone);
  spawn(2);
  settle();
  gone->set();
  ASSERT_TRUE(finished(1));
  EXPECT_EQ(log.done[0], std::make_pair(1, Outcome::kAbandoned));
  EXPECT_EQ(q.waiting(), 1u);
  q.release();
  ASSERT_TRUE(finished(2));
  EXPECT_EQ(log.done[1], std::make_pair(2, Outcome::kAcquired));
}

// A slot granted to a waiter that is abandoned before it resumes is passed on, not lost.
TEST_F(CapacityQueueTest, GrantRacingWithAbandonmentIsPassedOn) {
  ASSERT_TRUE(q.try_acquire());
  ASSERT_TRUE(q.try_acquire());
  auto gone = std::make_shared<AsyncEvent>(io.get_executor());
  spawn(1, kLong, gone);
  spawn(2);
  settle();
  q.release();  // granted to 1 ...
  gone->set();  // ... which is abandoned before it runs again
  ASSERT_TRUE(finished(2));
  EXPECT_EQ(log.done[0], std::make_pair(1, Outcome::kAbandoned));
  EXPECT_EQ(log.done[1], std::make_pair(2, Outcome::kAcquired));
  EXPECT_EQ(q.in_use(), 2);
}

// More slots in use than the limit (lowered across a restart): releases first bring the
// count under the limit before anyone is served.
TEST_F(CapacityQueueTest, OverTheLimitDrainsFirst) {
  q.set_in_use(3);
  spawn(1);
  settle();
  q.release();
  settle();
  EXPECT_TRUE(log.done.empty());
  EXPECT_EQ(q.in_use(), 2);
  q.release();
  ASSERT_TRUE(finished(1));
  EXPECT_EQ(q.in_use(), 2);
}

}  // namespace
}  // namespace shipyard::bay::legacy
