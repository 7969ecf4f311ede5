// GET /, /health, /stat, /meta (ship-api.md §5).
#include <cstdlib>

#include "ship/api/routes.hpp"
#include "ship/version.hpp"

namespace shipyard::ship {
namespace {

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
}

}  // namespace shipyard::ship
