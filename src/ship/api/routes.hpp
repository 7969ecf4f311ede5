// Ship's HTTP surface (ship-api.md §5-§8): one function per concern registers its
// routes; handlers parse and validate, call the module, and shape the JSON answer.
#pragma once

#include "common/http/router.hpp"
#include "common/http/server.hpp"
#include "common/json.hpp"
#include "ship/api/context.hpp"

namespace shipyard::ship {

using ShipRouter = http::Router<http::Handler>;

// Handlers answering 200 with a JSON object or an Error.
using JsonHandler =
    std::function<boost::asio::awaitable<Result<json::object>>(http::Exchange&, ShipContext&)>;
http::Handler json_route(ShipContext& ctx, JsonHandler h);

// Reads the request body as a JSON object (bounded by the configured limit).
boost::asio::awaitable<Result<json::object>> read_json_body(http::Exchange& ex, ShipContext& ctx);

void add_service_routes(ShipRouter& r, ShipContext& ctx);
void add_fs_routes(ShipRouter& r, ShipContext& ctx);
void add_shell_routes(ShipRouter& r, ShipContext& ctx);
void add_ipython_routes(ShipRouter& r, ShipContext& ctx);

ShipRouter make_router(ShipContext& ctx);

}  // namespace shipyard::ship
