// Waiting for a freshly launched runtime (bay-api-v1.md §10.1): /health answers 200, then
// /meta names a valid runtime version. Shared by cold session starts (SessionManager) and
// the warm pool, which both launch runtimes through the Driver.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "bay/drivers/driver.hpp"
#include "bay/runtime/ship_client.hpp"
#include "common/error.hpp"

namespace shipyard::bay {

struct ReadinessBudget {
  std::chrono::milliseconds ready_timeout{120'000};  // overall wait for /health
  std::chrono::milliseconds probe_budget{2'000};     // one health probe
  std::chrono::milliseconds meta_budget{5'000};
};

struct RuntimeMeta {
  std::string version;                    // semver from /meta runtime.version
  std::vector<std::string> capabilities;  // keys of /meta capabilities
};

// Polls /health (fast at first, backing off to 100 ms) until it answers 200, the runtime
// dies (kUpstream), the budget runs out (kUnavailable, session_not_ready with
// retry_after_ms) or `cancelled()` turns true (then an empty RuntimeMeta: the caller
// checks its own flag). Then reads and validates /meta.
boost::asio::awaitable<Result<RuntimeMeta>> wait_runtime_ready(ShipClient& client, Driver& driver,
                                                               RuntimeHandle handle,
                                                               ReadinessBudget budget,
                                                               std::string sandbox_id,
                                                               std::function<bool()> cancelled);

// The 503 of a session that is not ready (yet): kUnavailable with sandbox_id and
// retry_after_ms in the details.
Error session_not_ready(const std::string& sandbox_id, std::string message);

}  // namespace shipyard::bay
