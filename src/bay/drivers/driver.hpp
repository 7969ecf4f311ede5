// A driver turns a validated session spec into a running Ship and back (DESIGN.md §3).
// Drivers plan first (data that unit tests check without privileges) and execute
// second. Health waiting and all HTTP to Ship happen outside the driver.
//
// Threading: methods are called on Bay's I/O executor; blocking work (process spawn,
// cgroup and directory set-up) is done off it by the implementation.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bay/config/config.hpp"
#include "common/error.hpp"

namespace shipyard::bay {

struct SessionSpec {
  std::string session_id;
  std::string sandbox_id;
  Profile profile;
  std::string cargo_id;
  std::string cargo_path;       // host directory of the cargo (process driver)
  std::uint32_t cargo_uid = 0;  // host uid owning the cargo; the sandbox runs as it
  // BAY_SANDBOX_ID, BAY_SESSION_ID, BAY_WORKSPACE_PATH, BAY_PROFILE_ENV and the profile's
  // env, in that order.
  std::vector<std::pair<std::string, std::string>> env;
  std::string instance_id;  // tags the runtime for orphan detection
};

// What Bay persists to find a runtime again (also across a Bay restart).
struct RuntimeHandle {
  std::string runtime_id;  // opaque to callers
  std::string endpoint;    // "unix:<path>" or "tcp:<host>:<port>"
};

struct RuntimeInfo {
  RuntimeHandle handle;
  std::string session_id;
  std::string instance_id;
  std::string sandbox_id;  // empty for a warm runtime not claimed by any sandbox
};

class Driver {
 public:
  virtual ~Driver() = default;

  // Prepares the storage of a new cargo (e.g. creates its directory owned by `host_uid`)
  // and returns its storage path.
  virtual boost::asio::awaitable<Result<std::string>> create_cargo_storage(
      std::string cargo_id, std::uint32_t host_uid, std::int64_t size_limit_mb) = 0;
  // Removes a cargo's storage and everything in it. Missing storage is not an error.
  virtual boost::asio::awaitable<Status> delete_cargo_storage(std::string storage_path) = 0;
  // Every cargo storage the driver holds, as (cargo id, storage path) — to find storage
  // no cargo record names after a crash. Drivers without enumerable storage return none.
  virtual boost::asio::awaitable<Result<std::vector<std::pair<std::string, std::string>>>>
  list_cargo_storage() {
    co_return std::vector<std::pair<std::string, std::string>>{};
  }

  // Starts the runtime of a session and returns as soon as it is launched (not yet
  // healthy). On failure nothing of the session is left behind.
  virtual boost::asio::awaitable<Result<RuntimeHandle>> start(SessionSpec spec) = 0;
  // Destroys a runtime and every process in it, forcefully after at most ~1 s, and
  // cleans up its resources. Destroying a runtime that is already gone succeeds.
  virtual boost::asio::awaitable<Status> destroy(RuntimeHandle handle) = 0;
  // Waits, at most until `deadline`, for a runtime this driver has just started to say
  // that Ship serves, when the driver has a way to know (the process driver: Ship's
  // --ready-fd); returns at once otherwise, and early if the runtime ends. Callers
  // probe /health after it either way.
  virtual boost::asio::awaitable<void> wait_started(
      RuntimeHandle /*handle*/, std::chrono::steady_clock::time_point /*deadline*/) {
    co_return;
  }
  // Cheap liveness check without talking to Ship (e.g. the process still exists).
  virtual bool alive(const RuntimeHandle& handle) = 0;
  // Every runtime this driver can find on the host that belongs to `instance_id`,
  // whether or not Bay knows it (orphan detection, re-attach after a restart).
  virtual boost::asio::awaitable<Result<std::vector<RuntimeInfo>>> list_runtimes(
      std::string instance_id) = 0;
  // A one-line description of what the driver enforces (logged at start-up).
  virtual std::string describe() const = 0;
};

}  // namespace shipyard::bay
