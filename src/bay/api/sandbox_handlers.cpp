// Sandbox lifecycle routes (bay-api-v1.md §6).
#include <boost/asio/steady_timer.hpp>

#include "bay/api/routes.hpp"
#include "bay/api/views.hpp"
#include "bay/domain/rules.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;

// The containers of §6.4, probed live within a total budget of 2 s.
asio::awaitable<std::optional<json::array>> containers(BayApp& app, const SandboxState& s) {
  using State = SessionView::State;
  if (s.session.state != State::kReady && s.session.state != State::kStarting)
    co_return std::nullopt;
  json::object c{{"name", "ship"},
                 {"runtime_type", s.profile ? s.profile->runtime_type : "ship"},
                 {"status", s.session.state == State::kReady ? "running" : "starting"},
                 {"version", nullptr},
                 {"capabilities", s.profile ? ship_capabilities(*s.profile) : json::array{}},
                 {"healthy", nullptr}};
  if (s.session.state == State::kReady) {
    if (s.session.version) c["version"] = *s.session.version;
    auto healthy = co_await app.sessions.probe_health(
        s.sandbox.id, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    if (healthy) c["healthy"] = *healthy;
  }
  co_return json::array{std::move(c)};
}

Awaitable create(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, /*optional_body=*/true);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  CreateSandboxRequest req;
  req.profile = r.string_or("profile", "python-default");
  req.ttl = r.optional_int("ttl", 0);
  req.cargo_id = r.optional_string("cargo_id");
  if (!r.ok()) co_return r.error();
  // The fingerprinted body after defaults, in a fixed field order (§7).
  json::object canonical{
      {"profile", req.profile},
      {"ttl", req.ttl ? json::value(*req.ttl) : json::value(nullptr)},
      {"cargo_id", req.cargo_id ? json::value(json::string(*req.cargo_id)) : json::value(nullptr)}};
  IdempotencyService::Work work = [&]() -> asio::awaitable<Result<StoredResponse>> {
    auto s = co_await app.sandboxes.create(owner, req);
    if (!s) co_return std::move(s).error();
    co_return StoredResponse{201, json::serialize(sandbox_json(*s, std::nullopt))};
  };
  auto res = co_await app.idempotency.run(owner, idempotency_key(ex), "POST",
                                          std::string(ex.path()), json::serialize(canonical), work);
  if (!res) co_return std::move(res).error();
  co_return Reply::stored(res->status, std::move(res->body));
}

Awaitable list(http::Exchange& ex, BayApp& app, const std::string& owner) {
  QueryReader q(ex);
  auto limit = q.integer("limit", 50, 1, 200);
  auto cursor = q.string("cursor");
  auto status = q.string("status");
  if (!q.ok()) co_return q.error();
  auto page = co_await app.sandboxes.list(owner, limit, cursor, status);
  if (!page) co_return std::move(page).error();
  json::array items;
  for (const auto& s : page->items) items.push_back(sandbox_json(s, std::nullopt));
  json::value next = nullptr;
  if (page->next_cursor) next = json::string(*page->next_cursor);
  co_return Reply::ok(json::object{{"items", std::move(items)}, {"next_cursor", next}});
}

Awaitable get(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto s = co_await app.sandboxes.get(owner, std::string(ex.params().get("id")));
  if (!s) co_return std::move(s).error();
  auto c = co_await containers(app, *s);
  co_return Reply::ok(sandbox_json(*s, std::move(c)));
}

Awaitable remove(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto s = co_await app.sandboxes.remove(owner, std::string(ex.params().get("id")));
  if (!s) co_return std::move(s).error();
  co_return Reply::none();
}

Awaitable extend_ttl(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, /*optional_body=*/false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  if (!body->contains("extend_by")) r.violation("extend_by", "Field required", "missing");
  auto by = r.optional_int("extend_by");
  if (!r.ok()) co_return r.error();
  std::string id(ex.params().get("id"));
  json::object canonical{{"extend_by", *by}};
  IdempotencyService::Work work = [&]() -> asio::awaitable<Result<StoredResponse>> {
    auto s = co_await app.sandboxes.extend_ttl(owner, id, *by);
    if (!s) co_return std::move(s).error();
    co_return StoredResponse{200, json::serialize(sandbox_json(*s, std::nullopt))};
  };
  auto res = co_await app.idempotency.run(owner, idempotency_key(ex), "POST",
                                          std::string(ex.path()), json::serialize(canonical), work);
  if (!res) co_return std::move(res).error();
  co_return Reply::stored(res->status, std::move(res->body));
}

Awaitable keepalive(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto s = co_await app.sandboxes.keepalive(owner, std::string(ex.params().get("id")));
  if (!s) co_return std::move(s).error();
  co_return Reply::ok(json::object{{"status", "ok"}});
}

Awaitable stop(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto s = co_await app.sandboxes.stop(owner, std::string(ex.params().get("id")));
  if (!s) co_return std::move(s).error();
  co_return Reply::ok(json::object{{"status", "stopped"}});
}

}  // namespace

void add_sandbox_routes(BayRouter& r, BayApp& app) {
  r.add(verb::post, "/v1/sandboxes", v1_route(app, create));
  r.add(verb::get, "/v1/sandboxes", v1_route(app, list));
  r.add(verb::get, "/v1/sandboxes/{id}", v1_route(app, get));
  r.add(verb::delete_, "/v1/sandboxes/{id}", v1_route(app, remove));
  r.add(verb::post, "/v1/sandboxes/{id}/extend_ttl", v1_route(app, extend_ttl));
  r.add(verb::post, "/v1/sandboxes/{id}/keepalive", v1_route(app, keepalive));
  r.add(verb::post, "/v1/sandboxes/{id}/stop", v1_route(app, stop));
}

}  // namespace shipyard::bay
