// Internal to bay_config: the merged configuration tree. Every source (YAML file,
// environment, --set flags) is written into one tree, later sources replacing leaves of
// earlier ones, and the tree is decoded once. Decoding once means a bad value that a
// higher-priority source replaces is never reported, and every problem can name where
// the value that was actually used came from.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace shipyard::bay::config_detail {

struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  std::string scalar;
  std::vector<Node> items;                            // kSequence
  std::vector<std::pair<std::string, Node>> entries;  // kMap, in source order
  // Where the value came from: "/etc/bay/config.yaml:12", "env BAY_SERVER__PORT",
  // "--set server.port". Problems quote it so operators find the culprit.
  std::string origin;
  // Raw text from the environment or a flag. A key that expects a list or a mapping
  // parses such text as YAML (so JSON works too), the way pydantic-settings reads
  // complex values from the environment.
  bool from_text = false;

  bool is_null() const { return kind == Kind::kNull; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_map() const { return kind == Kind::kMap; }
  bool is_sequence() const { return kind == Kind::kSequence; }

  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);

  static Node text(std::string value, std::string origin);
};

// Reads a YAML file. Syntax errors and unreadable files are errors (nothing else can be
// checked); duplicate mapping keys are appended to `problems` and the last one wins.
// YAML merge keys (`<<: *anchor`) are expanded here because yaml-cpp 0.7 does not.
Result<Node> load_yaml_file(const std::string& path, std::vector<std::string>& problems);

// Parses YAML (or JSON) text from the environment or a flag; `origin` labels every node.
Result<Node> parse_yaml_text(std::string_view text, const std::string& origin);

// Writes a text leaf at `path` (creating mappings on the way); a text value met on the
// way is parsed as a mapping first, so BAY_SERVER='{...}' and BAY_SERVER__PORT combine.
// Returns a problem description when the path runs through a list or a scalar.
std::optional<std::string> set_path(Node& root, const std::vector<std::string>& path, Node leaf);

// "server.port", "gc.idle_session.enabled".
std::string join_path(const std::vector<std::string>& path);

}  // namespace shipyard::bay::config_detail
