#include "ship/api/routes.hpp"

namespace shipyard::ship {

http::Handler json_route(ShipContext& ctx, JsonHandler h) {
  return [&ctx, h = std::move(h)](http::Exchange& ex) -> boost::asio::awaitable<void> {
    auto r = co_await h(ex, ctx);
    if (!r) {
      co_await ex.respond_error(r.error());
    } else {
      co_await ex.respond(http::Response::json(http::bhttp::status::ok, *r));
    }
  };
}

boost::asio::awaitable<Result<json::object>> read_json_body(http::Exchange& ex, ShipContext& ctx) {
  auto body = co_await ex.read_body(ctx.config().max_json_body);
  if (!body) co_return std::move(body).error();
  co_return parse_object(*body);
}

ShipRouter make_router(ShipContext& ctx) {
  ShipRouter r;
  add_service_routes(r, ctx);
  add_fs_routes(r, ctx);
  add_shell_routes(r, ctx);
  add_ipython_routes(r, ctx);
  return r;
}

}  // namespace shipyard::ship
