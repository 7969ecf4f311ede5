// Built-in skills (ship-api.md §4.2 step 3, bay-api-v1.md §14.5): directories under the
// runtime's skills source that are copied into /workspace/skills/ at every start.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "ship/fs/workspace.hpp"

namespace shipyard::ship {

struct SkillMeta {
  std::string name;
  std::string description;
  std::string path;  // the SKILL.md in the skills source (diagnostics)
};

struct FrontMatter {
  std::string name;
  std::string description;
};

// Parses the YAML front matter (`---` ... `---`) of a SKILL.md for name/description.
std::optional<FrontMatter> parse_front_matter(std::string_view text);

// Reads every <source>/<name>/SKILL.md (sorted by name). Unreadable skills are skipped.
std::vector<SkillMeta> read_builtin_skills(const std::string& source_dir);

// Replaces each built-in skill directory under <workspace>/skills/ wholesale with a copy
// of the source; other entries of skills/ are left alone. The copy goes through the
// confined filesystem layer, because the workspace is user-controlled (a planted
// symlink must not redirect the copy out of it).
Status install_builtin_skills(const fs::Workspace& ws, const std::string& source_dir);

}  // namespace shipyard::ship
