// Sandbox lifecycle (bay-api-v1.md §6) and the capability gate of §2.11: pure domain
// logic over the Store, the Driver and the SessionManager; no HTTP.
//
// Threading: Bay's I/O executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/keyed_lock.hpp"
#include "bay/domain/session_manager.hpp"
#include "bay/domain/warm_pool.hpp"
#include "bay/drivers/driver.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

struct CreateSandboxRequest {
  std::string profile = "python-default";
  std::optional<std::int64_t> ttl;  // seconds; null or 0: no expiry
  std::optional<std::string> cargo_id;
};

// A sandbox as the API renders it, with its status computed now (§6.2).
struct SandboxState {
  Sandbox sandbox;
  const Profile* profile = nullptr;
  std::string status;  // expired | ready | starting | failed | idle
  SessionView session;
};

// What a capability call needs once the gate let it through.
struct CallTarget {
  Sandbox sandbox;
  const Profile* profile = nullptr;
};

struct SandboxPage {
  std::vector<SandboxState> items;
  std::optional<std::string> next_cursor;
};

class SandboxService {
 public:
  SandboxService(Store& store, SessionManager& sessions, Driver& driver, const BayConfig& config,
                 const Clock& clock);

  boost::asio::awaitable<Result<SandboxState>> create(std::string owner, CreateSandboxRequest req);
  boost::asio::awaitable<Result<SandboxState>> get(std::string owner, std::string id);
  boost::asio::awaitable<Result<SandboxPage>> list(std::string owner, std::int64_t limit,
                                                   std::optional<std::string> cursor,
                                                   std::optional<std::string> status);
  boost::asio::awaitable<Status> remove(std::string owner, std::string id);
  boost::asio::awaitable<Status> stop(std::string owner, std::string id);
  boost::asio::awaitable<Result<SandboxState>> extend_ttl(std::string owner, std::string id,
                                                          std::int64_t extend_by);
  boost::asio::awaitable<Status> keepalive(std::string owner, std::string id);

  // §2.11 step 2: the caller's live sandbox, or 404.
  boost::asio::awaitable<Result<CallTarget>> lookup(std::string owner, std::string id);
  // §2.11 step 4.
  Status check_capability(const CallTarget& t, std::string_view capability) const;
  // §2.11 step 6.
  Status check_not_expired(const CallTarget& t) const;
  // §2.11 step 7: a ready session (cold-starting one if needed).
  boost::asio::awaitable<Result<std::unique_ptr<SessionLease>>> ensure_session(const CallTarget& t);

  SandboxState state_of(const Sandbox& sandbox) const;
  // Sandboxes created without a cargo_id take a warm slot when one is ready.
  void set_warm_pool(WarmPool* pool) { warm_ = pool; }
  const BayConfig& config() const { return config_; }

  // Deletes a sandbox known to be live (used by DELETE and the expiry GC).
  boost::asio::awaitable<Status> destroy(const Sandbox& sandbox);

 private:
  Store& store_;
  SessionManager& sessions_;
  Driver& driver_;
  const BayConfig& config_;
  const Clock& clock_;
  KeyedLock quota_lock_;  // by owner, while max_sandboxes_per_owner is set
  WarmPool* warm_ = nullptr;
};

// Opaque cursors for keyset pagination: bound to one list endpoint ("sbx", "cargo").
std::string encode_cursor(std::string_view kind, const ListCursor& c);
std::optional<ListCursor> decode_cursor(std::string_view kind, std::string_view s);

}  // namespace shipyard::bay
