// Cargo routes (bay-api-v1.md §10).
#include "bay/api/routes.hpp"
#include "bay/api/views.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;

Awaitable create(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto body = co_await read_json(ex, app, /*optional_body=*/true);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  auto size = r.optional_int("size_limit_mb", 1, 65536);
  if (!r.ok()) co_return r.error();
  const std::int64_t effective = size.value_or(app.config.cargo_default_size_limit_mb);
  json::object canonical{{"size_limit_mb", effective}};
  IdempotencyService::Work work = [&]() -> asio::awaitable<Result<StoredResponse>> {
    auto c = co_await app.cargos.create(owner, effective);
    if (!c) co_return std::move(c).error();
    co_return StoredResponse{201, json::serialize(cargo_json(*c))};
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
  // Omitted: external cargos only (§10.3).
  bool managed = q.boolean("managed", false);
  if (!q.ok()) co_return q.error();
  auto page = co_await app.cargos.list(owner, managed, limit, cursor);
  if (!page) co_return std::move(page).error();
  json::array items;
  for (const auto& c : page->items) items.push_back(cargo_json(c));
  json::value next = nullptr;
  if (page->next_cursor) next = json::string(*page->next_cursor);
  co_return Reply::ok(json::object{{"items", std::move(items)}, {"next_cursor", next}});
}

Awaitable get(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto c = co_await app.cargos.get(owner, std::string(ex.params().get("id")));
  if (!c) co_return std::move(c).error();
  co_return Reply::ok(cargo_json(*c));
}

Awaitable remove(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto s = co_await app.cargos.remove(owner, std::string(ex.params().get("id")));
  if (!s) co_return std::move(s).error();
  co_return Reply::none();
}

}  // namespace

void add_cargo_routes(BayRouter& r, BayApp& app) {
  r.add(verb::post, "/v1/cargos", v1_route(app, create));
  r.add(verb::get, "/v1/cargos", v1_route(app, list));
  r.add(verb::get, "/v1/cargos/{id}", v1_route(app, get));
  r.add(verb::delete_, "/v1/cargos/{id}", v1_route(app, remove));
}

}  // namespace shipyard::bay
