// /ipython/* (ship-api.md §8).
#include "ship/api/routes.hpp"
#include "ship/kernel/kernel_manager.hpp"

namespace shipyard::ship {
namespace {

namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<json::object>>;

KernelRef kernel_ref(const RequestScope& s) {
  return KernelRef{s.session.value_or("default"), s.ws->root()};
}

Awaitable exec(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string code = r.required_string("code");
  auto timeout = r.int_or("timeout", 30, 1, 7 * 24 * 3600);
  bool silent = r.bool_or("silent", false);
  (void)r.optional_string("kernel_id");  // accepted and ignored (§8.2)
  if (!r.ok()) co_return r.error();
  auto ref = kernel_ref(*scope);
  auto out =
      co_await ctx.kernels()->execute(ref, std::move(code), silent, std::chrono::seconds(timeout));
  if (!out) co_return std::move(out).error();
  json::object output{{"text", std::move(out->text)}, {"images", std::move(out->images)}};
  if (!out->display.empty()) output["display"] = std::move(out->display);
  json::object res{{"success", out->success},
                   {"execution_count", nullptr},
                   {"output", std::move(output)},
                   {"error", nullptr},
                   {"kernel_id", ref.id}};
  if (out->execution_count) res["execution_count"] = *out->execution_count;
  if (out->error) res["error"] = *out->error;
  co_return res;
}

Awaitable status(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto ref = kernel_ref(*scope);
  std::string st = ctx.kernels()->status(ref);
  co_return json::object{{"status", st},
                         {"has_kernel", st != "not_started"},
                         {"workspace", ref.root},
                         {"kernel_id", ref.id}};
}

Awaitable restart(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto ref = kernel_ref(*scope);
  auto st = co_await ctx.kernels()->restart(ref);
  if (!st) co_return std::move(st).error();
  co_return json::object{
      {"success", true}, {"message", "Kernel restarted successfully"}, {"kernel_id", ref.id}};
}

Awaitable shutdown(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto st = ctx.kernels()->shutdown(kernel_ref(*scope));
  if (!st) co_return std::move(st).error();
  co_return json::object{{"success", true}, {"message", "Kernel shutdown successfully"}};
}

Awaitable create_kernel(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto ref = kernel_ref(*scope);
  if (auto st = ctx.kernels()->ensure_started(ref); !st) co_return std::move(st).error();
  co_return json::object{{"success", true},
                         {"kernel_id", ref.id},
                         {"workspace", ref.root},
                         {"message", "Kernel ready"}};
}

Awaitable kernels(http::Exchange&, ShipContext& ctx) {
  json::array out;
  for (const auto& k : ctx.kernels()->list()) {
    out.push_back(json::object{{"kernel_id", k.id}, {"status", k.status}, {"connections", 1}});
  }
  co_return json::object{{"kernels", std::move(out)}};
}

}  // namespace

void add_ipython_routes(ShipRouter& r, ShipContext& ctx) {
  r.add(verb::post, "/ipython/exec", json_route(ctx, exec));
  r.add(verb::get, "/ipython/kernel/status", json_route(ctx, status));
  r.add(verb::post, "/ipython/kernel/restart", json_route(ctx, restart));
  r.add(verb::delete_, "/ipython/kernel", json_route(ctx, shutdown));
  r.add(verb::post, "/ipython/create_kernel", json_route(ctx, create_kernel));
  r.add(verb::get, "/ipython/kernels", json_route(ctx, kernels));
}

}  // namespace shipyard::ship
