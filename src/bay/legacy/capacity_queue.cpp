#include "bay/legacy/capacity_queue.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace shipyard::bay::legacy {
namespace asio = boost::asio;

bool CapacityQueue::try_acquire() {
  if (!waiters_.empty() || in_use_ >= limit_) return false;
  ++in_use_;
  return true;
}

asio::awaitable<CapacityQueue::Outcome> CapacityQueue::acquire(
    std::chrono::steady_clock::time_point deadline, std::shared_ptr<AsyncEvent> abandon) {
  using namespace boost::asio::experimental::awaitable_operators;
  if (try_acquire()) co_return Outcome::kAcquired;
  auto w = std::make_shared<Waiter>(ex_);
  waiters_.push_back(w);
  if (abandon) {
    // Whichever event fires first ends the wait; the other wait is cancelled.
    co_await (w->wake.wait_until(deadline) || abandon->wait_until(deadline));
  } else {
    co_await w->wake.wait_until(deadline);
  }
  // A grant that raced with the timeout or the abandonment still counts: the slot is ours
  // (and handed on below if we no longer want it).
  if (w->granted) {
    if (abandon && abandon->is_set()) {
      release();
      co_return Outcome::kAbandoned;
    }
    co_return Outcome::kAcquired;
  }
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), w), waiters_.end());
  co_return abandon && abandon->is_set() ? Outcome::kAbandoned : Outcome::kTimedOut;
}

void CapacityQueue::release() {
  if (in_use_ > limit_) {
    --in_use_;  // over the limit (lowered across a restart): this release frees nothing yet
    return;
  }
  if (!waiters_.empty()) {
    // Handed over: the slot stays in use, now by the oldest waiter.
    auto w = waiters_.front();
    waiters_.pop_front();
    w->granted = true;
    w->wake.set();
    return;
  }
  if (in_use_ > 0) --in_use_;
}

}  // namespace shipyard::bay::legacy
