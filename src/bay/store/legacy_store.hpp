// Persistent state of the legacy /ship API (legacy-api.md §4-§6, §11): ships (one per
// legacy sandbox) and the sessions attached to them, so that a restarted Bay keeps its
// ships, their lifetimes and their session attachments.
//
// Like Store, every method is a coroutine that does its blocking work off the I/O threads
// (SqliteStore: on its database thread) and resumes the caller on the caller's executor.
// The lifetime rules live in the legacy domain (src/bay/legacy); the store only persists.
// Errors: kInternal for database failures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bay/domain/model.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

// A ship as persisted. Its id is the id of the v1 sandbox behind it.
struct LegacyShip {
  std::string id;
  int status = 0;  // 1 running, 0 stopped
  std::int64_t ttl = 0;
  std::int64_t max_session_num = 1;
  std::optional<TimePoint> expires_at;  // null while stopped
  // The resource request of POST /ship, re-applied when the ship is restored.
  std::optional<double> cpus;
  std::optional<std::string> memory;
  TimePoint created_at;
  TimePoint updated_at;
};

// A session (X-SESSION-ID) attached to a ship. A session is attached to at most one ship.
struct LegacySession {
  std::string id;
  std::string ship_id;
  TimePoint expires_at;
  std::int64_t initial_ttl = 0;  // seconds; what a successful operation slides the expiry by
  TimePoint last_activity;
  TimePoint attached_at;
};

class LegacyStore {
 public:
  virtual ~LegacyStore() = default;

  // Inserts or updates the ship and the given sessions of it in one transaction, and marks
  // the sandbox behind the ship as legacy (exempt from idle reclaim, bay-api-v1.md §6.3).
  virtual Async<void> save_legacy_ship(LegacyShip ship, std::vector<LegacySession> sessions) = 0;
  // Removes the ship and every session attached to it (one transaction).
  virtual Async<void> delete_legacy_ship(std::string id) = 0;
  // Every ship in creation order (ties by insertion order).
  virtual Async<std::vector<LegacyShip>> list_legacy_ships() = 0;
  // Every session, in attachment order.
  virtual Async<std::vector<LegacySession>> list_legacy_sessions() = 0;
};

}  // namespace shipyard::bay
