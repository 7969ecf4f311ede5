// The warm pool (bay-api-v1.md §6.10.5, docs/warm-pool.md): per profile with
// `warm_pool_size > 0`, runtimes started ahead of time, each on the storage of a managed
// cargo that does not exist yet. POST /v1/sandboxes without `cargo_id` claims one: the
// slot's storage becomes the new sandbox's managed cargo, Ship learns its sandbox id
// (POST /internal/bind, once, before any user code can run) and the runtime is parked
// in the SessionManager, invisible (the sandbox reads `idle`, `containers: null`) until
// the first capability call adopts it without a cold start. A claim triggers a refill.
//
// Warm runtimes and their storage are not in the store: a restarted Bay removes what a
// previous run left (runtimes no session knows, storage no cargo record names) before it
// fills the pool again.
//
// Threading: Bay's I/O executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "bay/config/config.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/model.hpp"
#include "bay/domain/session_manager.hpp"
#include "bay/drivers/driver.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

struct WarmSlot {
  std::string profile_id;
  Cargo cargo;  // id, host_uid, storage_path, size_limit_mb; the rest is set at claim
  PreparedRuntime runtime;
};

class WarmPool {
 public:
  WarmPool(boost::asio::any_io_executor io, Store& store, Driver& driver, SessionManager& sessions,
           const BayConfig& config, SessionSettings settings);
  ~WarmPool();

  // After SessionManager::recover(): cleans up what a previous run left, then starts
  // filling every pool in the background.
  boost::asio::awaitable<void> start();
  // Stops refilling and destroys every ready slot (runtime and storage).
  boost::asio::awaitable<void> shutdown();

  // A ready slot of the profile (whose runtime is still alive), or nullopt. Never waits.
  std::optional<WarmSlot> claim(const std::string& profile_id);
  // Makes a claimed runtime answer for `sandbox_id` (BAY_SANDBOX_ID in its environment).
  boost::asio::awaitable<Status> bind(WarmSlot& slot, std::string sandbox_id);
  // A claimed slot that could not be used: destroys its runtime, and its storage when
  // `with_storage` (false once the storage belongs to a cargo record).
  boost::asio::awaitable<void> discard(WarmSlot slot, bool with_storage);

  std::size_t ready(const std::string& profile_id) const;
  std::size_t filling() const { return filling_total_; }

 private:
  void top_up();
  // top_up() after kRefillDelay: see claim().
  void top_up_soon();
  boost::asio::awaitable<void> fill(std::string profile_id);
  boost::asio::awaitable<Result<WarmSlot>> launch(const Profile& profile);

  boost::asio::any_io_executor io_;
  Store& store_;
  Driver& driver_;
  SessionManager& sessions_;
  const BayConfig& config_;
  SessionSettings settings_;
  std::map<std::string, std::deque<WarmSlot>> ready_;  // by profile id
  std::map<std::string, std::size_t> filling_;         // by profile id
  std::map<std::string, int> failures_;                // consecutive, by profile id
  std::size_t filling_total_ = 0;
  bool running_ = false;
  boost::asio::steady_timer refill_timer_;  // cancelled by the destructor
  bool refill_pending_ = false;
};

}  // namespace shipyard::bay
