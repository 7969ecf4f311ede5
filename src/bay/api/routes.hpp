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

// Upper bound on the values (objects, arrays, scalars) of one JSON request body. Parsing
// amplifies memory ~16-50x for documents made of tiny values (`[0,0,0,...]`), so the
// body-size limit alone would let one request pin hundreds of MiB.
inline constexpr std::size_t kMaxJsonValues = 500'000;

// A rough count of the values in a JSON text (separators and openers outside strings),
// cheap enough to run before parsing. Never less than the real count minus one.
std::size_t approx_json_values(std::string_view text);

// Longest workspace path accepted (PATH_MAX): longer ones could never be opened.
inline constexpr std::size_t kMaxPathBytes = 4096;

// Schema check (422) of a path-like field: at most kMaxPathBytes (string_too_long) and
// valid UTF-8 (string_unicode), since Ship's JSON API cannot carry other bytes and error
// messages must stay valid JSON.
Status check_path_field(std::string_view location, std::string_view field, std::string_view value);

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
