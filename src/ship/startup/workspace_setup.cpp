#include "ship/startup/workspace_setup.hpp"

#include "ship/fs/ops.hpp"
#include "ship/startup/skills.hpp"

namespace shipyard::ship {

Status write_env_file(const fs::Workspace& ws, const ProfileEnv& env) {
  const std::string name(kEnvFileName);
  if (!env.vars.empty()) {
    auto r = fs::create_file(ws, name, render_env_file(env.vars), 0644);
    if (!r) return std::move(r).error().with_context("writing " + name);
    return {};
  }
  auto first = fs::read_file(ws, name, 1, 1);
  if (!first) return {};  // absent (or unreadable): nothing of ours to remove
  if (first->content.rfind(kEnvFileHeader, 0) == 0) {
    auto d = fs::delete_path(ws, name);
    if (!d) return std::move(d).error().with_context("removing stale " + name);
  }
  return {};
}

Status prepare_workspace(const fs::Workspace& ws, const std::string& app_dir,
                         const ProfileEnv& env) {
  if (auto s = write_env_file(ws, env); !s) return s;
  return install_builtin_skills(ws, app_dir + "/skills");
}

}  // namespace shipyard::ship
