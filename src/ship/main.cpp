#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/http/server.hpp"
#include "common/log.hpp"

using namespace shipyard;

int main() {
  init_logging("ship", "info", LogFormat::kText);
  boost::asio::io_context io(1);
  http::Router<http::Handler> router;
  router.add(http::bhttp::verb::get, "/health", [](http::Exchange& ex) -> boost::asio::awaitable<void> {
    boost::json::object o;
    o["status"] = "healthy";
    co_await ex.respond(http::Response::json(http::bhttp::status::ok, o));
  });
  http::Server server(io, std::move(router), [](const Error& e, const http::Exchange&) {
    return http::Response::json(http::bhttp::status::not_found, boost::json::object{{"detail", e.message}});
  });
  if (auto s = server.listen_tcp("127.0.0.1", 8123); !s) { spdlog::error("{}", s.error().message); return 1; }
  server.start();
  io.run();
}
