// What Ship does to the workspace at start-up, before serving (ship-api.md §4.2).
#pragma once

#include <string>

#include "common/error.hpp"
#include "ship/fs/workspace.hpp"
#include "ship/startup/profile_env.hpp"

namespace shipyard::ship {

// Writes /workspace/.bay_env.sh for a non-empty profile env; otherwise removes a file
// that Ship generated earlier (recognised by its header line) and leaves others alone.
Status write_env_file(const fs::Workspace& ws, const ProfileEnv& env);

// Env file, then built-in skills from <app_dir>/skills.
Status prepare_workspace(const fs::Workspace& ws, const std::string& app_dir,
                         const ProfileEnv& env);

}  // namespace shipyard::ship
