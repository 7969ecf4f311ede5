// /shell/* (ship-api.md §7).
#include "ship/api/routes.hpp"
#include "ship/fs/ops.hpp"

namespace shipyard::ship {
namespace {

namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<json::object>>;

json::value opt(const std::optional<int>& v) {
  if (v) return *v;
  return nullptr;
}
json::value opt(const std::optional<std::string>& v) {
  if (v) return json::string(*v);
  return nullptr;
}

Awaitable exec(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  shell::ExecRequest req;
  req.command = r.required_string("command");
  auto cwd = r.optional_string("cwd");
  if (auto env = r.optional_string_map("env")) {
    for (auto& [k, v] : *env) req.env.push_back(shell::EnvVar{std::move(k), std::move(v)});
  }
  // Absent → 30 s; explicit null → no limit (foreground only).
  bool explicit_null = body->contains("timeout") && body->at("timeout").is_null();
  auto timeout = r.optional_int("timeout", 1, 7 * 24 * 3600);
  req.use_shell = r.bool_or("shell", true);
  bool background = r.bool_or("background", false);
  if (!r.ok()) co_return r.error();
  if (!explicit_null) req.timeout = std::chrono::seconds(timeout.value_or(30));

  auto job = [ws = scope->ws, c = cwd.value_or(".")] { return fs::resolve_cwd(*ws, c); };
  auto resolved = co_await offload(ctx, std::move(job));
  if (!resolved) co_return std::move(resolved).error();
  req.cwd = std::move(*resolved);
  req.home = scope->ws->root();
  req.env_file = ctx.env_file_path();

  if (background) {
    req.timeout.reset();
    auto started = ctx.processes().start(std::move(req), scope->session.value_or(""));
    if (!started) {
      co_return json::object{{"success", false},
                             {"return_code", -1},
                             {"stdout", ""},
                             {"stderr", ""},
                             {"pid", nullptr},
                             {"process_id", nullptr},
                             {"error", started.error().message}};
    }
    co_return json::object{{"success", true},     {"return_code", nullptr},
                           {"stdout", ""},        {"stderr", ""},
                           {"pid", started->pid}, {"process_id", started->process_id},
                           {"error", nullptr}};
  }
  auto res = co_await ctx.runner().run(std::move(req));
  co_return json::object{{"success", res.success},
                         {"return_code", opt(res.return_code)},
                         {"stdout", std::move(res.stdout_text)},
                         {"stderr", std::move(res.stderr_text)},
                         {"pid", opt(res.pid)},
                         {"process_id", nullptr},
                         {"error", opt(res.error)}};
}

Awaitable processes(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  json::array out;
  for (const auto& p : ctx.processes().list(scope->session)) {
    out.push_back(json::object{{"process_id", p.process_id},
                               {"pid", p.pid},
                               {"command", p.command},
                               {"status", p.status},
                               {"exit_code", opt(p.exit_code)}});
  }
  co_return json::object{{"processes", std::move(out)}};
}

Awaitable cwd(http::Exchange& ex, ShipContext& ctx) {
  auto scope = ctx.scope(ex);
  if (!scope) co_return std::move(scope).error();
  co_return json::object{{"cwd", scope->ws->root()}};
}

}  // namespace

void add_shell_routes(ShipRouter& r, ShipContext& ctx) {
  r.add(verb::post, "/shell/exec", json_route(ctx, exec));
  r.add(verb::get, "/shell/processes", json_route(ctx, processes));
  r.add(verb::get, "/shell/cwd", json_route(ctx, cwd));
}

}  // namespace shipyard::ship
