// A per-key asynchronous mutex for coroutines on one executor. Quota checks use it to
// make "count, then insert" atomic per owner: the count comes from the store on another
// thread, so without it concurrent creates of one owner would all see the same count
// and all pass (bay-api-v1.md §2.5, quota_exceeded).
//
// Threading: not thread-safe; use it from Bay's single I/O executor. Waiters are served
// in arrival order. A waiter whose coroutine was destroyed while queued is skipped.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "common/async_event.hpp"

namespace shipyard::bay {

class KeyedLock {
 public:
  // Holds the lock of one key until destroyed (or moved from).
  class Guard {
   public:
    Guard() = default;
    Guard(KeyedLock* lock, std::string key) : lock_(lock), key_(std::move(key)) {}
    Guard(Guard&& o) noexcept : lock_(o.lock_), key_(std::move(o.key_)) { o.lock_ = nullptr; }
    Guard& operator=(Guard&& o) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { reset(); }
    void reset();

   private:
    KeyedLock* lock_ = nullptr;
    std::string key_;
  };

  KeyedLock() = default;
  KeyedLock(const KeyedLock&) = delete;
  KeyedLock& operator=(const KeyedLock&) = delete;

  // Waits until no other guard holds `key`, then returns the guard that does.
  boost::asio::awaitable<Guard> lock(std::string key);

  bool held(const std::string& key) const { return entries_.contains(key); }

 private:
  struct Entry {
    std::deque<std::shared_ptr<AsyncEvent>> waiters;
  };
  void unlock(const std::string& key);

  // A key is present while some guard holds it.
  std::map<std::string, Entry> entries_;
};

// Serialises, per cargo id, binding a cargo to a new sandbox against deleting it (the API's
// DELETE and the orphan_cargo GC task). Without it a create could look the cargo up, a
// delete could then find no user and remove it, and the create would insert a live
// sandbox on deleted storage. Process-wide because SandboxService, CargoService and
// GcService must share it; like every KeyedLock it belongs to Bay's I/O executor.
KeyedLock& cargo_binding_lock();

}  // namespace shipyard::bay
