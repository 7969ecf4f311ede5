// async_sleep, and a level-triggered event for coroutines on one executor: set() wakes every
// waiter, wait_until() returns whether it was set before the deadline. Not thread-safe: use it from
// the executor it was created with.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace shipyard {

class AsyncEvent {
 public:
  explicit AsyncEvent(boost::asio::any_io_executor ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  void set() {
    set_ = true;
    timer_.cancel();
  }
  void reset() {
    set_ = false;
    timer_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  bool is_set() const { return set_; }

  // True if the event is (or becomes) set before `deadline`.
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
    using namespace boost::asio::experimental::awaitable_operators;
    constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    while (!set_) {
      if (std::chrono::steady_clock::now() >= deadline) co_return false;
      boost::asio::steady_timer limit(timer_.get_executor(), deadline);
      co_await (timer_.async_wait(kTuple) || limit.async_wait(kTuple));
    }
    co_return true;
  }

 private:
  boost::asio::steady_timer timer_;
  bool set_ = false;
};

// Suspends the calling coroutine for `d` on its own executor.
inline boost::asio::awaitable<void> async_sleep(std::chrono::milliseconds d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

}  // namespace shipyard
