// Bay's HTTP surface: thin handlers that authenticate, parse and validate in the order
// of bay-api-v1.md §2.11, call the domain services and shape the JSON answer.
#pragma once

#include <functional>
#include <optional>

#include "bay/api/app.hpp"
#include "common/http/router.hpp"
#include "common/http/server.hpp"
#include "common/json.hpp"

namespace shipyard::bay {

using BayRouter = http::Router<http::Handler>;

struct Reply {
  http::bhttp::status status = http::bhttp::status::ok;
  json::value body;
  bool no_content = false;
  std::optional<std::string> raw;  // an exact body to send instead of `body` (replays)

  static Reply ok(json::value b) { return Reply{http::bhttp::status::ok, std::move(b), false, {}}; }
  static Reply created(json::value b) {
    return Reply{http::bhttp::status::created, std::move(b), false, {}};
  }
  static Reply none() { return Reply{http::bhttp::status::no_content, nullptr, true, {}}; }
  static Reply stored(unsigned status, std::string body) {
    return Reply{static_cast<http::bhttp::status>(status), nullptr, false, std::move(body)};
  }
};

// A v1 handler: runs after authentication with the caller's owner. Returning nullopt
// means the handler already responded itself (streaming downloads).
using V1Handler = std::function<boost::asio::awaitable<Result<std::optional<Reply>>>(
    http::Exchange&, BayApp&, const std::string& owner)>;
http::Handler v1_route(BayApp& app, V1Handler h);

// Reads an optional JSON object body (absent or empty → {}), bounded by the config.
boost::asio::awaitable<Result<json::object>> read_json(http::Exchange& ex, BayApp& app,
                                                       bool optional_body);

// The Idempotency-Key header: nullopt when absent (an empty value is present and invalid).
std::optional<std::string> idempotency_key(const http::Exchange& ex);

// Query-string parsing with 422 for schema violations (§2.6, §2.9).
class QueryReader {
 public:
  explicit QueryReader(const http::Exchange& ex) : ex_(ex) {}
  std::optional<std::string> string(std::string_view name);
  std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  bool boolean(std::string_view name, bool fallback);
  std::optional<bool> optional_boolean(std::string_view name);
  // An enum-valued parameter: a value outside `allowed` is a 422.
  std::optional<std::string> choice(std::string_view name, const std::vector<std::string>& allowed);
  bool ok() const { return errors_.empty(); }
  Error error() const;

 private:
  void violation(std::string_view name, std::string msg, std::string type);
  const http::Exchange& ex_;
  json::array errors_;
};

void add_system_routes(BayRouter& r, BayApp& app);
void add_sandbox_routes(BayRouter& r, BayApp& app);
void add_capability_routes(BayRouter& r, BayApp& app);
void add_transfer_routes(BayRouter& r, BayApp& app);
void add_history_routes(BayRouter& r, BayApp& app);
void add_cargo_routes(BayRouter& r, BayApp& app);
void add_admin_routes(BayRouter& r, BayApp& app);
void add_skill_routes(BayRouter& r, BayApp& app);
// The legacy /ship API (legacy-api.md); adds nothing when legacy.enabled is false.
void add_legacy_routes(BayRouter& r, BayApp& app);

BayRouter make_router(BayApp& app);

}  // namespace shipyard::bay
