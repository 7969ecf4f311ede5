// GET /, /health, /stat, /meta (ship-api.md §5).
#include <cstdlib>

#include "ship/api/routes.hpp"
#include "ship/kernel/kernel_manager.hpp"
#include "ship/version.hpp"

namespace shipyard::ship {
namespace {

namespace asio = boost::asio;
using http::bhttp::verb;

json::object meta(ShipContext& ctx, const std::vector<SkillMeta>& skills) {
  const char* image = std::getenv("SHIP_IMAGE");
  json::object build{{"image", image != nullptr && *image != '\0' ? image : "ship:latest"},
                     {"image_digest", nullptr},
                     {"git_sha", nullptr}};
  json::object fs_endpoints{{"create", "/fs/create_file"}, {"read", "/fs/read_file"},
                            {"write", "/fs/write_file"},   {"edit", "/fs/edit_file"},
                            {"delete", "/fs/delete_file"}, {"list", "/fs/list_dir"},
                            {"upload", "/fs/upload"},      {"download", "/fs/download"}};
  json::object filesystem{{"operations", json::array{"create", "read", "write", "edit", "delete",
                                                     "list", "upload", "download"}},
                          {"path_mode", "relative_to_mount"},
                          {"endpoints", std::move(fs_endpoints)}};
  json::object shell{{"operations", json::array{"exec", "processes", "cwd"}},
                     {"endpoints", json::object{{"exec", "/shell/exec"},
                                                {"processes", "/shell/processes"},
                                                {"cwd", "/shell/cwd"}}}};
  json::object python{{"operations", json::array{"exec"}},
                      {"engine", "ipython"},
                      {"endpoints", json::object{{"exec", "/ipython/exec"}}}};
  json::array built_in;
  for (const auto& s : skills) {
    built_in.push_back(
        json::object{{"name", s.name}, {"description", s.description}, {"path", s.path}});
  }
  (void)ctx;
  return json::object{{"runtime", json::object{{"name", "ship"},
                                               {"version", kVersion},
                                               {"api_version", "v1"},
                                               {"build", std::move(build)}}},
                      {"workspace", json::object{{"mount_path", "/workspace"}}},
                      {"capabilities", json::object{{"filesystem", std::move(filesystem)},
                                                    {"shell", std::move(shell)},
                                                    {"python", std::move(python)}}},
                      {"built_in_skills", std::move(built_in)}};
}

bool valid_bind_value(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// POST /internal/bind (not part of the public Ship API; docs/warm-pool.md): Bay binds a
// pre-started runtime to the sandbox that claimed it. Only a Ship started with
// SHIP_BINDABLE=1 accepts it, and only once; Bay calls it before any user code can run,
// so code inside the sandbox (which can reach this port) always finds it refused.
asio::awaitable<Result<json::object>> bind(http::Exchange& ex, ShipContext& ctx) {
  if (!ctx.bindable()) co_return Error(ErrorCode::kForbidden, "This runtime cannot be bound");
  auto body = co_await read_json_body(ex, ctx);
  if (!body) co_return std::move(body).error();
  const auto* env = body->if_contains("env");
  if (env == nullptr || !env->is_object()) {
    co_return Error(ErrorCode::kInvalidArgument, "env must be an object");
  }
  std::vector<std::pair<std::string, std::string>> vars;
  for (const auto& kv : env->as_object()) {
    if (kv.key() != "BAY_SANDBOX_ID" || !kv.value().is_string() ||
        !valid_bind_value(kv.value().as_string())) {
      co_return Error(ErrorCode::kInvalidArgument, "only BAY_SANDBOX_ID (an id) can be bound");
    }
    vars.emplace_back(kv.key(), kv.value().as_string());
  }
  if (!ctx.bindable()) co_return Error(ErrorCode::kForbidden, "This runtime cannot be bound");
  ctx.mark_bound();
  json::object update;
  for (const auto& [k, v] : vars) {
    ctx.bind_var(k, v);
    update[k] = v;
  }
  // The eagerly started default kernel already runs: update its os.environ with a
  // silent cell (no execution_count, no history), so user code and its children see it.
  KernelRef ref{"default", ctx.root().root()};
  if (!vars.empty() && ctx.kernels() != nullptr && ctx.kernels()->status(ref) == "alive") {
    std::string code = "__import__('os').environ.update(" + json::serialize(update) + ")";
    auto out =
        co_await ctx.kernels()->execute(ref, std::move(code), true, std::chrono::seconds(10));
    if (!out || !out->success) {
      co_return Error(ErrorCode::kInternal, "binding the kernel failed");
    }
  }
  co_return json::object{{"bound", true}};
}

}  // namespace

void add_service_routes(ShipRouter& r, ShipContext& ctx) {
  r.add(verb::get, "/",
        json_route(
            ctx, [](http::Exchange&, ShipContext&) -> boost::asio::awaitable<Result<json::object>> {
              co_return json::object{{"message", "Ship API is running"}};
            }));
  r.add(verb::get, "/health",
        json_route(
            ctx, [](http::Exchange&, ShipContext&) -> boost::asio::awaitable<Result<json::object>> {
              co_return json::object{{"status", "healthy"}, {"version", kVersion}};
            }));
  r.add(verb::get, "/stat",
        json_route(
            ctx, [](http::Exchange&, ShipContext&) -> boost::asio::awaitable<Result<json::object>> {
              co_return json::object{{"service", "ship"},
                                     {"version", kVersion},
                                     {"status", "running"},
                                     {"author", "Shipyard"}};
            }));
  r.add(
      verb::get, "/meta",
      json_route(
          ctx, [](http::Exchange&, ShipContext& c) -> boost::asio::awaitable<Result<json::object>> {
            std::string dir = c.config().app_dir + "/skills";
            auto job = [dir] { return read_builtin_skills(dir); };
            auto skills = co_await offload(c, std::move(job));
            co_return meta(c, skills);
          }));
  r.add(verb::post, "/internal/bind", json_route(ctx, bind));
}

}  // namespace shipyard::ship
