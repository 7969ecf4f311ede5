// Internal to bay_config: typed reading of the merged tree (config_tree.hpp) that records
// every problem instead of stopping at the first.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bay/config/config_tree.hpp"

namespace shipyard::bay::config_detail {

// Text → value conversions shared by every source. nullopt: not of that type.
// Booleans: true/false, yes/no, 1/0 (case-insensitive). Integers: optional '-', decimal
// digits. Numbers: decimal, finite. Surrounding whitespace is ignored.
std::optional<bool> to_bool(std::string_view text);
std::optional<std::int64_t> to_int(std::string_view text);
std::optional<double> to_double(std::string_view text);

// How a value appears in a problem: numbers bare, text quoted and escaped (truncated),
// "a mapping", "a list" or "null" otherwise.
std::string describe(const Node& n);
std::string quote(std::string_view text);

class Context {
 public:
  // "path: message (origin)"; `at` may be null when no single value is to blame.
  void problem(std::string_view path, const Node* at, std::string_view message);
  void warning(std::string message) { warnings.push_back(std::move(message)); }

  // `n` itself, or, for text from the environment or a flag where a list or a mapping is
  // wanted, the tree parsed from it. Parse errors are reported and yield nullptr.
  const Node* structured(const Node* n, std::string_view path);

  std::vector<std::string> problems;
  std::vector<std::string> warnings;

 private:
  std::deque<Node> parsed_;  // deque: pointers into it stay valid
};

// One mapping being decoded. Every key the schema knows is take()n; finish() reports the
// rest, so typos inside known sections do not pass silently.
class Section {
 public:
  // `node` may be null (absent: every key keeps its default) or a YAML null (same).
  Section(Context& ctx, const Node* node, std::string path);

  bool present() const { return map_ != nullptr && !map_->entries.empty(); }
  const Node* node() const { return map_; }
  Context& ctx() const { return ctx_; }
  std::string path(std::string_view key) const;

  // The value under `key`, or nullptr when absent. Marks the key as known either way.
  const Node* take(std::string_view key);

  // Typed readers. Each returns true when it assigned `out`; an absent key leaves the
  // default, an invalid value is reported and also leaves the default.
  bool str(std::string_view key, std::string& out);
  bool opt_str(std::string_view key, std::optional<std::string>& out);  // null, "" → nullopt
  bool boolean(std::string_view key, bool& out);
  bool int64(std::string_view key, std::int64_t& out,
             std::int64_t min = std::numeric_limits<std::int64_t>::min(),
             std::int64_t max = std::numeric_limits<std::int64_t>::max());
  bool int32(std::string_view key, int& out, int min, int max);
  bool uint32(std::string_view key, std::uint32_t& out, std::uint32_t min, std::uint32_t max);
  bool number(std::string_view key, double& out);
  // Byte sizes in parse_memory() syntax; `min` is inclusive.
  bool size(std::string_view key, std::uint64_t& out, std::uint64_t min);
  // A string that must be one of `allowed`.
  bool choice(std::string_view key, std::string& out, const std::vector<std::string>& allowed);

  Section sub(std::string_view key);
  // A list (or nullptr when absent or invalid, which is reported).
  const Node* list(std::string_view key);

  // Reports keys that were never taken, naming the known ones.
  void finish();
  // The keys that were never taken (top level: ignored, but worth a warning).
  std::vector<std::string> untaken() const;

 private:
  const Node* scalar_or_report(std::string_view key, std::string_view what);

  Context& ctx_;
  const Node* map_ = nullptr;
  std::string path_;
  std::vector<std::string> taken_;
};

}  // namespace shipyard::bay::config_detail
