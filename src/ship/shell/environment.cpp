#include "ship/shell/environment.hpp"

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "common/process/spawn.hpp"
#include "common/strings.hpp"

namespace shipyard::ship::shell {
namespace {

bool representable(const EnvVar& v) {
  return !v.name.empty() && v.name.find('=') == std::string::npos &&
         v.name.find('\0') == std::string::npos && v.value.find('\0') == std::string::npos;
}

}  // namespace

std::vector<std::string> build_environment(const EnvironmentBase& base, std::string_view home,
                                           const std::vector<EnvVar>& request_env) {
  std::vector<EnvVar> vars;
  std::unordered_map<std::string, std::size_t> index;
  auto put = [&](const EnvVar& v) {
    if (!representable(v)) return;
    auto [it, inserted] = index.emplace(v.name, vars.size());
    if (inserted) {
      vars.push_back(v);
    } else {
      vars[it->second].value = v.value;
    }
  };
  put({"HOME", std::string(home)});
  put({"USER", "shipyard"});
  put({"LOGNAME", "shipyard"});
  put({"SHELL", "/bin/bash"});
  put({"PATH", base.path.empty() ? std::string(kBasePath) : base.path});
  put({"LANG", "C.UTF-8"});
  for (const auto& v : base.bay_vars) put(v);
  for (const auto& v : base.profile_vars) put(v);
  for (const auto& v : request_env) put(v);

  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& v : vars) out.push_back(v.name + "=" + v.value);
  return out;
}

std::string_view env_value(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& entry : env) {
    std::string_view e = entry;
    if (e.size() > name.size() && e[name.size()] == '=' && e.substr(0, name.size()) == name) {
      return e.substr(name.size() + 1);
    }
  }
  return {};
}

const std::vector<std::string>& default_node_dirs() {
  static const std::vector<std::string> dirs = {"/opt/node/bin", "/usr/local/lib/nodejs/bin",
                                                "/usr/local/share/npm-global/bin"};
  return dirs;
}

std::string compute_search_path(std::string_view inherited_path,
                                const std::vector<std::string>& extra_dirs) {
  std::vector<std::string> dirs;
  for (auto d : split(kBasePath, ':')) dirs.emplace_back(d);

  std::string candidates;
  for (auto d : split(inherited_path, ':')) {
    // Relative entries would resolve against each command's cwd: never promote them.
    if (d.empty() || d.front() != '/') continue;
    if (!candidates.empty()) candidates += ':';
    candidates += d;
  }
  for (const auto& d : extra_dirs) {
    if (d.empty() || d.front() != '/') continue;
    if (!candidates.empty()) candidates += ':';
    candidates += d;
  }
  if (candidates.empty()) return std::string(kBasePath);

  static constexpr const char* kTools[] = {"node", "npm", "npx", "pnpm", "yarn", "corepack"};
  for (const char* tool : kTools) {
    std::string found = process::find_executable(tool, candidates);
    if (found.empty()) continue;
    std::string dir = found.substr(0, found.rfind('/'));
    if (dir.empty()) dir = "/";
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  std::string out;
  for (const auto& d : dirs) {
    if (!out.empty()) out += ':';
    out += d;
  }
  return out;
}

EnvironmentBase make_environment_base(std::vector<EnvVar> profile_vars) {
  EnvironmentBase base;
  const char* inherited = std::getenv("PATH");
  base.path = compute_search_path(inherited ? inherited : "", default_node_dirs());
  for (const char* name : {"BAY_SANDBOX_ID", "BAY_SESSION_ID", "BAY_WORKSPACE_PATH"}) {
    if (const char* v = std::getenv(name)) base.bay_vars.push_back({name, v});
  }
  base.profile_vars = std::move(profile_vars);
  return base;
}

void set_bay_var(EnvironmentBase& base, std::string_view name, std::string_view value) {
  for (auto& v : base.bay_vars) {
    if (v.name == name) {
      v.value = std::string(value);
      return;
    }
  }
  base.bay_vars.push_back({std::string(name), std::string(value)});
}

}  // namespace shipyard::ship::shell
