// Sources, their priority and the derived defaults. The schema itself (which keys exist,
// their types and rules) lives in config_decode.cpp; the merged tree in config_tree.cpp.
#include "bay/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "bay/config/config_decode.hpp"
#include "bay/config/config_reader.hpp"
#include "bay/config/config_tree.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

using config_detail::Context;
using config_detail::Node;
namespace fs = std::filesystem;

namespace {

// Legacy Shipyard's variable names (legacy-api.md §1). They outrank BAY_LEGACY__* so
// that deployments migrated from legacy Shipyard keep behaving as configured.
constexpr std::pair<const char*, const char*> kLegacyEnv[] = {
    {"ACCESS_TOKEN", "access_token"},
    {"MAX_SHIP_NUM", "max_ship_num"},
    {"BEHAVIOR_AFTER_MAX_SHIP", "behavior_after_max_ship"},
    {"LEGACY_API_ENABLED", "enabled"},
    {"LEGACY_PROFILE", "profile"},
    {"LEGACY_OWNER", "owner"},
    {"MAX_SHIP_WAIT_SECONDS", "max_wait_seconds"},
    {"MAX_UPLOAD_SIZE", "max_upload_size"},
    {"SHIP_HEALTH_CHECK_TIMEOUT", "ship_ready_timeout"},
    {"DEFAULT_SHIP_CPUS", "default_cpus"},
    {"DEFAULT_SHIP_MEMORY", "default_memory"},
};

constexpr std::string_view kEnvPrefix = "BAY_";
constexpr std::string_view kEnvConfigFile = "BAY_CONFIG_FILE";
constexpr std::string_view kEnvApiKey = "BAY_API_KEY";

// Later entries win, so a test (or a wrapper) can append to override.
std::optional<std::string> env_value(const LoadOptions& opts, std::string_view name) {
  std::optional<std::string> v;
  for (const auto& [k, val] : opts.environment) {
    if (k == name) v = val;
  }
  return v;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_path(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    auto next = s.find(sep, pos);
    out.emplace_back(s.substr(pos, next == std::string_view::npos ? next : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + sep.size();
  }
  return out;
}

void set_or_report(Context& ctx, Node& root, const std::vector<std::string>& path, Node leaf) {
  const std::string origin = leaf.origin;
  if (auto err = config_detail::set_path(root, path, std::move(leaf))) {
    ctx.problems.push_back(origin + ": " + *err);
  }
}

// BAY_SERVER__PORT → server.port. Variables whose first segment names no section are not
// settings (Bay itself exports BAY_SANDBOX_ID and friends into sandboxes) and are skipped.
void apply_bay_env(const LoadOptions& opts, Context& ctx, Node& root) {
  std::vector<std::pair<std::vector<std::string>, const std::pair<std::string, std::string>*>> vars;
  for (const auto& kv : opts.environment) {
    const auto& name = kv.first;
    if (name.size() <= kEnvPrefix.size() || name.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) {
      continue;
    }
    if (name == kEnvConfigFile || name == kEnvApiKey) continue;
    auto path = split_path(lower(std::string_view(name).substr(kEnvPrefix.size())), "__");
    if (!config_detail::is_top_level_key(path.front())) continue;
    vars.emplace_back(std::move(path), &kv);
  }
  // Shallow before deep (BAY_SERVER='{...}' then BAY_SERVER__PORT), then by name, so the
  // outcome does not depend on the order of the process environment; for a name given
  // twice the later entry is applied last and wins.
  std::stable_sort(vars.begin(), vars.end(), [](const auto& a, const auto& b) {
    if (a.first.size() != b.first.size()) return a.first.size() < b.first.size();
    return a.second->first < b.second->first;
  });
  for (auto& [path, kv] : vars) {
    const std::string origin = "env " + kv->first;
    if (std::any_of(path.begin(), path.end(), [](const auto& p) { return p.empty(); })) {
      ctx.problems.push_back(origin + ": empty path segment (use __ between section and key)");
      continue;
    }
    set_or_report(ctx, root, path, Node::text(kv->second, origin));
  }
}

void apply_legacy_env(const LoadOptions& opts, Context& ctx, Node& root) {
  for (const auto& [var, key] : kLegacyEnv) {
    auto v = env_value(opts, var);
    // Empty counts as unset: compose files write VAR=${VAR:-} for optional settings.
    if (!v || v->empty()) continue;
    set_or_report(ctx, root, {"legacy", key}, Node::text(*v, std::string("env ") + var));
  }
}

void apply_overrides(const LoadOptions& opts, Context& ctx, Node& root) {
  for (const auto& [key, value] : opts.overrides) {
    const std::string origin = "--set " + key;
    auto path = split_path(key, ".");
    if (std::any_of(path.begin(), path.end(), [](const auto& p) { return p.empty(); })) {
      ctx.problems.push_back(origin + ": not a key path (e.g. server.port)");
      continue;
    }
    // A flag is typed on purpose: an unknown section is a typo, not someone else's setting.
    if (!config_detail::is_top_level_key(path.front())) {
      ctx.problems.push_back(origin + ": " + config_detail::quote(path.front()) +
                             " is not a configuration section or key");
      continue;
    }
    set_or_report(ctx, root, path, Node::text(value, origin));
  }
}

// Absolute and without "." / ".." / trailing separators, so logs and the store see one
// spelling of each path.
std::string absolute_from(const fs::path& base, const std::string& p) {
  fs::path out = fs::path(p).is_absolute() ? fs::path(p) : base / p;
  out = out.lexically_normal();
  std::string s = out.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

struct FileChoice {
  std::string path;      // empty: run on defaults
  std::string named_by;  // non-empty when the file was named explicitly
};

FileChoice choose_file(const LoadOptions& opts, const fs::path& cwd) {
  if (opts.config_file) return {absolute_from(cwd, *opts.config_file), "--config"};
  if (auto v = env_value(opts, kEnvConfigFile); v && !v->empty()) {
    return {absolute_from(cwd, *v), std::string(kEnvConfigFile)};
  }
  std::error_code ec;
  for (const fs::path& candidate : {cwd / "config.yaml", fs::path(opts.system_config_file)}) {
    if (!candidate.empty() && fs::exists(candidate, ec)) {
      return {absolute_from(cwd, candidate.string()), ""};
    }
  }
  return {};
}

void derive(BayConfig& cfg, const LoadOptions& opts, const fs::path& cwd) {
  cfg.data_dir = absolute_from(cwd, cfg.data_dir);
  const fs::path data(cfg.data_dir);
  // spec §5.1: relative paths in other settings resolve against data_dir.
  cfg.cargo_root = absolute_from(data, cfg.cargo_root.empty() ? "cargos" : cfg.cargo_root);
  if (!cfg.driver.process.ship_app_dir.empty()) {
    cfg.driver.process.ship_app_dir = absolute_from(data, cfg.driver.process.ship_app_dir);
  }
  if (cfg.database_url.empty()) {
    cfg.database_url = "sqlite:///" + cfg.data_dir + "/bay.db";
  } else {
    auto t = config_detail::classify_database_url(cfg.database_url);
    if (t.kind == config_detail::DatabaseKind::kSqliteFile) {
      cfg.database_url = "sqlite:///" + absolute_from(data, t.path);
    } else if (t.kind == config_detail::DatabaseKind::kSqliteMemory) {
      cfg.database_url = "sqlite://:memory:";
    }
  }
  if (cfg.gc.instance_id.empty()) {
    // A hostname that would be rejected as a configured instance_id falls back to "bay".
    auto host = env_value(opts, "HOSTNAME");
    const auto token_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    };
    const bool usable = host && !host->empty() && host->size() <= 63 &&
                        std::isalnum(static_cast<unsigned char>(host->front())) &&
                        std::all_of(host->begin(), host->end(), token_char);
    cfg.gc.instance_id = usable ? *host : "bay";
  }
}

}  // namespace

bool Profile::has_capability(std::string_view c) const {
  return std::find(capabilities.begin(), capabilities.end(), c) != capabilities.end();
}

const Profile* BayConfig::find_profile(std::string_view id) const {
  for (const auto& p : profiles) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::string BayConfig::sqlite_path() const {
  if (database_url.empty()) return data_dir + "/bay.db";
  auto t = config_detail::classify_database_url(database_url);
  switch (t.kind) {
    case config_detail::DatabaseKind::kSqliteFile: return t.path;
    case config_detail::DatabaseKind::kSqliteMemory: return ":memory:";
    default: return "";
  }
}

std::optional<std::uint64_t> parse_memory(std::string_view s) {
  s = trim(s);
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(s[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string unit = lower(s.substr(i));
  // Accepted: "", "b", and k/m/g/t optionally followed by "b", "i" or "ib". All binary:
  // Docker reads "1gb" and Kubernetes "1Gi" as GiB too, so every spelling means the same.
  int shift = 0;
  if (!unit.empty() && unit != "b") {
    switch (unit.front()) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      case 't': shift = 40; break;
      default: return std::nullopt;
    }
    const std::string_view tail = std::string_view(unit).substr(1);
    if (!(tail.empty() || tail == "b" || tail == "i" || tail == "ib")) return std::nullopt;
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

std::vector<Profile> builtin_profiles() {
  Profile p;
  p.id = "python-default";
  p.image = "ship:latest";
  p.resources.cpus = 1.0;
  p.resources.memory = "1g";
  p.resources.memory_bytes = 1ull << 30;
  p.capabilities = {kCapabilityFilesystem, kCapabilityShell, kCapabilityPython};
  p.idle_timeout = 300;
  return {p};
}

Result<BayConfig> load_config(const LoadOptions& opts) {
  std::error_code ec;
  fs::path cwd = opts.working_dir.empty() ? fs::current_path(ec) : fs::path(opts.working_dir);
  if (ec) return system_error("reading the current directory", ec.value());
  cwd = absolute_from(fs::current_path(ec), cwd.string());

  Context ctx;
  Node root;
  root.kind = Node::Kind::kMap;
  const FileChoice file = choose_file(opts, cwd);
  if (!file.path.empty()) {
    if (!fs::exists(file.path, ec)) {
      return Error(ErrorCode::kInvalidArgument, "configuration file " + file.path + " (named by " +
                                                    file.named_by + ") does not exist");
    }
    if (fs::is_directory(file.path, ec)) {
      return Error(ErrorCode::kInvalidArgument,
                   "configuration file " + file.path + " is a directory");
    }
    auto loaded = config_detail::load_yaml_file(file.path, ctx.problems);
    if (!loaded) return std::move(loaded).error();
    if (loaded->is_null()) loaded->kind = Node::Kind::kMap;  // an empty file: all defaults
    if (!loaded->is_map()) {
      return Error(ErrorCode::kInvalidArgument,
                   file.path + ": the top level must be a mapping of sections (server:, ...)");
    }
    root = std::move(*loaded);
  }

  apply_bay_env(opts, ctx, root);
  // spec §3.2: BAY_API_KEY outranks security.api_key from any other source but flags.
  if (auto key = env_value(opts, kEnvApiKey); key && !key->empty()) {
    set_or_report(ctx, root, {"security", "api_key"},
                  Node::text(*key, std::string("env ") + std::string(kEnvApiKey)));
  }
  apply_legacy_env(opts, ctx, root);
  apply_overrides(opts, ctx, root);

  BayConfig cfg;
  config_detail::decode_config(root, ctx, cfg);
  if (!ctx.problems.empty()) {
    std::string message;
    json::array list;
    for (const auto& p : ctx.problems) {
      if (!message.empty()) message += '\n';
      message += p;
      list.emplace_back(p);
    }
    Error e(ErrorCode::kInvalidArgument, std::move(message));
    e.details["problems"] = std::move(list);
    if (!file.path.empty()) e.details["config_file"] = file.path;
    return e;
  }
  derive(cfg, opts, cwd);
  cfg.config_file = file.path;
  if (cfg.legacy.enabled && cfg.legacy.access_token == "secret-token") {
    ctx.warning(
        "legacy.access_token is the default \"secret-token\": set ACCESS_TOKEN or "
        "legacy.access_token, or disable the legacy API (legacy.enabled: false)");
  }
  cfg.warnings = std::move(ctx.warnings);
  return cfg;
}

}  // namespace shipyard::bay
