// GET /health (§4) and GET /v1/profiles (§5.4).
#include "bay/api/errors.hpp"
#include "bay/api/routes.hpp"
#include "bay/api/views.hpp"
#include "bay/version.hpp"

namespace shipyard::bay {
namespace {
using http::bhttp::verb;
using Awaitable = boost::asio::awaitable<Result<std::optional<Reply>>>;

Awaitable profiles(http::Exchange& ex, BayApp& app, const std::string&) {
  QueryReader q(ex);
  bool detail = q.boolean("detail", false);
  if (!q.ok()) co_return q.error();
  json::array items;
  for (const auto& p : app.config.profiles) items.push_back(profile_json(p, detail));
  co_return Reply::ok(json::object{{"items", std::move(items)}});
}

}  // namespace

void add_system_routes(BayRouter& r, BayApp& app) {
  // No authentication, no database, no runtime: answers even when everything else is busy.
  r.add(verb::get, "/health", [](http::Exchange& ex) -> boost::asio::awaitable<void> {
    assign_request_id(ex);
    json::object body{
        {"status", "ok"}, {"version", kBayVersion}, {"message", "Bay service is running"}};
    co_await ex.respond(http::Response::json(http::bhttp::status::ok, body));
  });
  r.add(verb::get, "/v1/profiles", v1_route(app, profiles));
}

}  // namespace shipyard::bay
