#include "bay/domain/keyed_lock.hpp"

#include <boost/asio/this_coro.hpp>
#include <chrono>

namespace shipyard::bay {

KeyedLock::Guard& KeyedLock::Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    reset();
    lock_ = o.lock_;
    key_ = std::move(o.key_);
    o.lock_ = nullptr;
  }
  return *this;
}

void KeyedLock::Guard::reset() {
  if (lock_ != nullptr) {
    lock_->unlock(key_);
    lock_ = nullptr;
  }
}

boost::asio::awaitable<KeyedLock::Guard> KeyedLock::lock(std::string key) {
  auto [it, fresh] = entries_.try_emplace(key);
  if (fresh) co_return Guard(this, std::move(key));
  auto ex = co_await boost::asio::this_coro::executor;
  auto turn = std::make_shared<AsyncEvent>(ex);
  it->second.waiters.push_back(turn);
  // unlock() hands the lock over by setting our event; the entry stays in place.
  co_await turn->wait_until(std::chrono::steady_clock::time_point::max());
  co_return Guard(this, std::move(key));
}

void KeyedLock::unlock(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto& waiters = it->second.waiters;
  while (!waiters.empty()) {
    auto next = std::move(waiters.front());
    waiters.pop_front();
    // Only the queue still referencing the event: its coroutine is gone.
    if (next.use_count() == 1) continue;
    next->set();
    return;
  }
  entries_.erase(it);
}

KeyedLock& cargo_binding_lock() {
  static KeyedLock lock;
  return lock;
}

}  // namespace shipyard::bay
