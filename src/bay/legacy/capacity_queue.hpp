// The MAX_SHIP_NUM gate of the legacy API (legacy-api.md §5 step 4): a counting semaphore
// of "running ship" slots with a strictly FIFO queue of waiters.
//
// A released slot is handed directly to the oldest waiter (it never returns to the pool
// while someone waits), so a newcomer can never overtake a waiter and no waiter starves.
// A waiter that times out or is abandoned (its client went away) leaves the queue; a slot
// granted to it at the same moment is passed on, never lost.
//
// Threading: not thread-safe; use it from the executor it was created with (Bay's I/O
// executor). Decisions happen between suspension points, so they are atomic.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>

#include "common/async_event.hpp"
#include "common/error.hpp"

namespace shipyard::bay::legacy {

class CapacityQueue {
 public:
  CapacityQueue(boost::asio::any_io_executor ex, std::int64_t limit)
      : ex_(std::move(ex)), limit_(limit) {}

  // Takes a slot if one is free and nobody waits for one.
  bool try_acquire();

  enum class Outcome { kAcquired, kTimedOut, kAbandoned };
  // Takes a slot, waiting in arrival order until `deadline` or until `abandon` (may be
  // null) is set.
  boost::asio::awaitable<Outcome> acquire(std::chrono::steady_clock::time_point deadline,
                                          std::shared_ptr<AsyncEvent> abandon);

  // Returns a slot: to the oldest waiter if there is one, else to the pool.
  void release();

  // Start-up: slots already taken by ships that survived a restart (may exceed the limit
  // after a configuration change; releases then bring it down).
  void set_in_use(std::int64_t n) { in_use_ = n; }

  std::int64_t in_use() const { return in_use_; }
  std::int64_t limit() const { return limit_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    explicit Waiter(boost::asio::any_io_executor ex) : wake(std::move(ex)) {}
    AsyncEvent wake;
    bool granted = false;
  };

  boost::asio::any_io_executor ex_;
  std::int64_t limit_;
  std::int64_t in_use_ = 0;
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace shipyard::bay::legacy
