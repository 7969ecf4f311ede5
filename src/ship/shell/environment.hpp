// The environment of commands Ship runs (ship-api.md §7): a fixed base, the Bay
// variables Ship received, the profile env, then the request's env (request wins).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shipyard::ship::shell {

struct EnvVar {
  std::string name;
  std::string value;
};

// What every command's environment starts from. Built once at Ship start-up
// (make_environment_base) and then shared read-only.
struct EnvironmentBase {
  std::string path;                  // the PATH value (see compute_search_path)
  std::vector<EnvVar> bay_vars;      // BAY_SANDBOX_ID / BAY_SESSION_ID / BAY_WORKSPACE_PATH
  std::vector<EnvVar> profile_vars;  // the profile's env (ship-api.md §4.1)
};

inline constexpr std::string_view kBasePath = "/usr/local/bin:/usr/bin:/bin";

// The complete "NAME=value" list for one command, in this order: HOME=<home>,
// USER=shipyard, LOGNAME=shipyard, SHELL=/bin/bash, PATH=<base.path>, LANG=C.UTF-8,
// base.bay_vars, base.profile_vars, request_env. A later definition of a name replaces
// the earlier value in place (so the request wins). Entries whose name is empty or
// contains '=' or NUL, or whose value contains NUL, cannot be represented in an
// environment and are dropped; the HTTP layer may reject them earlier.
std::vector<std::string> build_environment(const EnvironmentBase& base, std::string_view home,
                                           const std::vector<EnvVar>& request_env);

// The value a name has in an environment built by build_environment ("" if absent).
std::string_view env_value(const std::vector<std::string>& env, std::string_view name);

// kBasePath plus the directory of each Node.js tool (node, npm, npx, pnpm, yarn,
// corepack) as first found along `inherited_path` and then `extra_dirs`, when that
// directory is not listed yet. Relative directories are ignored. Looks at the
// filesystem: call it once at start-up.
std::string compute_search_path(std::string_view inherited_path,
                                const std::vector<std::string>& extra_dirs);

// Directories where images commonly install Node.js outside the standard PATH.
const std::vector<std::string>& default_node_dirs();

// The base for this Ship process: PATH from compute_search_path(getenv("PATH"),
// default_node_dirs()), BAY_SANDBOX_ID / BAY_SESSION_ID / BAY_WORKSPACE_PATH from
// Ship's own environment when set, and the given profile variables (parsed from
// BAY_PROFILE_ENV by the start-up code).
EnvironmentBase make_environment_base(std::vector<EnvVar> profile_vars);

// Sets (or replaces) one of the Bay variables of `base` (a pre-started Ship learns its
// sandbox at claim time, see docs/warm-pool.md).
void set_bay_var(EnvironmentBase& base, std::string_view name, std::string_view value);

}  // namespace shipyard::ship::shell
