#include "bay/config/config_decode.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>

#include "common/strings.hpp"

namespace shipyard::bay::config_detail {
namespace {

constexpr std::array<std::string_view, 13> kTopLevelKeys = {
    "server", "database", "driver", "data_dir", "cargo",  "security", "idempotency",
    "gc",     "proxy",    "legacy", "logging",  "limits", "profiles"};

// Variables Bay itself sets in every session (bay-api-v1.md §14.4); a profile cannot
// redefine them without confusing the code that relies on them.
constexpr std::array<std::string_view, 3> kReservedEnv = {"BAY_SANDBOX_ID", "BAY_SESSION_ID",
                                                          "BAY_WORKSPACE_PATH"};

bool matches(const std::string& s, const char* pattern) {
  return std::regex_match(s, std::regex(pattern));
}

// Profile ids travel in URLs, logs and the store; keep them to a plain token.
bool valid_profile_id(const std::string& id) {
  return id.size() <= 64 && matches(id, "[A-Za-z0-9][A-Za-z0-9._-]*");
}

// instance_id tags runtimes (cgroup names, container labels): a plain token as well.
bool valid_instance_id(const std::string& id) {
  return id.size() <= 63 && matches(id, "[A-Za-z0-9][A-Za-z0-9._-]*");
}

// Paths: "~" is not expanded by anything between the file and the kernel.
void check_path(Context& ctx, Section& s, std::string_view key, const std::string& value) {
  if (value.empty()) {
    ctx.problem(s.path(key), s.node()->find(key), "must not be empty");
  } else if (value.front() == '~') {
    ctx.problem(s.path(key), s.node()->find(key),
                quote(value) + ": \"~\" is not expanded; use an absolute path");
  }
}

void decode_server(Section s, BayConfig& cfg) {
  if (s.str("host", cfg.host) && trim(cfg.host).empty()) {
    s.ctx().problem(s.path("host"), s.node()->find("host"), "must not be empty");
  }
  s.int32("port", cfg.port, 0, 65535);  // 0: any free port (tests, printed at start-up)
  s.finish();
}

void decode_database(Section s, BayConfig& cfg) {
  std::string url;
  if (s.str("url", url)) {
    const Node* n = s.node()->find("url");
    // The URL may carry a password: quote only the part before "://".
    auto t = classify_database_url(url);
    if (t.kind == DatabaseKind::kInvalid) {
      s.ctx().problem(s.path("url"), n, t.reason);
    } else if (t.kind == DatabaseKind::kPostgres) {
      s.ctx().problem(s.path("url"), n,
                      "PostgreSQL URLs are recognised but not available in this build "
                      "(use sqlite:///<path> or sqlite://:memory:)");
    } else {
      cfg.database_url = url;
    }
  }
  s.finish();
}

void decode_driver(Section s, BayConfig& cfg) {
  auto& ctx = s.ctx();
  std::string type;
  if (s.str("type", type)) {
    if (type == "process") {
      cfg.driver.type = type;
    } else if (type == "docker" || type == "kubernetes") {
      ctx.problem(s.path("type"), s.node()->find("type"),
                  quote(type) +
                      " is a recognised driver but not available in this build "
                      "(available: process)");
    } else {
      ctx.problem(s.path("type"), s.node()->find("type"),
                  quote(type) +
                      " is not a driver (process; docker and kubernetes are not "
                      "available in this build)");
    }
  }
  Section p = s.sub("process");
  auto& pc = cfg.driver.process;
  if (p.str("ship_app_dir", pc.ship_app_dir) && !pc.ship_app_dir.empty()) {
    check_path(ctx, p, "ship_app_dir", pc.ship_app_dir);
  }
  if (p.str("bwrap", pc.bwrap)) check_path(ctx, p, "bwrap", pc.bwrap);
  // Host uids below 65536 belong to real users and system services of the host.
  p.uint32("uid_base", pc.uid_base, 65536, 4294967294u);
  p.uint32("uid_count", pc.uid_count, 1, 4294967294u);
  if (static_cast<std::uint64_t>(pc.uid_base) + pc.uid_count - 1 >= 4294967295ull) {
    // (uid_t)-1 means "no change" to chown/setresuid: never hand it out.
    ctx.problem(p.path("uid_count"), p.node() ? p.node()->find("uid_count") : nullptr,
                std::to_string(pc.uid_count) + " uids from " + std::to_string(pc.uid_base) +
                    " reach past 4294967294");
  }
  if (p.str("cgroup_parent", pc.cgroup_parent)) {
    for (auto part : split(pc.cgroup_parent, '/')) {
      if (part == "..") {
        ctx.problem(p.path("cgroup_parent"), p.node()->find("cgroup_parent"),
                    quote(pc.cgroup_parent) + " must not contain \"..\"");
        break;
      }
    }
  }
  p.finish();
  s.finish();
}

void decode_cargo(Section s, BayConfig& cfg) {
  if (s.str("root_path", cfg.cargo_root)) check_path(s.ctx(), s, "root_path", cfg.cargo_root);
  s.int64("default_size_limit_mb", cfg.cargo_default_size_limit_mb, 1);
  s.choice("size_limits", cfg.cargo_quota, {"auto", "image", "off"});
  std::string mount;
  if (s.str("mount_path", mount) && mount != "/workspace") {
    // Clients, skills and the path rules of §8.2 all assume /workspace.
    s.ctx().problem(s.path("mount_path"), s.node()->find("mount_path"),
                    quote(mount) + " is not supported: the mount path must stay \"/workspace\"");
  }
  s.finish();
}

void decode_security(Section s, BayConfig& cfg) {
  auto& ctx = s.ctx();
  auto& sec = cfg.security;
  s.opt_str("api_key", sec.api_key);
  if (const Node* list = s.list("api_keys")) {
    sec.api_keys.clear();
    for (std::size_t i = 0; i < list->items.size(); ++i) {
      const std::string base = s.path("api_keys") + "[" + std::to_string(i) + "]";
      Section e(ctx, &list->items[i], base);
      ApiKeyEntry entry;
      const bool has_key = e.str("key", entry.key);
      const bool has_owner = e.str("owner", entry.owner);
      if (!e.node()) {
        if (list->items[i].is_null()) ctx.problem(base, &list->items[i], "is empty");
        continue;
      }
      // Key values are secrets: problems never quote them.
      if (!e.node()->find("key")) ctx.problem(base, e.node(), "missing required key \"key\"");
      if (has_key && entry.key.empty()) ctx.problem(base + ".key", e.node(), "must not be empty");
      if (!e.node()->find("owner")) ctx.problem(base, e.node(), "missing required key \"owner\"");
      if (has_owner && trim(entry.owner).empty()) {
        ctx.problem(base + ".owner", e.node()->find("owner"), "must not be empty");
      }
      e.finish();
      if (has_key && has_owner && !entry.key.empty()) sec.api_keys.push_back(std::move(entry));
    }
  }
  s.boolean("allow_anonymous", sec.allow_anonymous);
  s.finish();
}

void decode_gc(Section s, BayConfig& cfg) {
  auto& gc = cfg.gc;
  s.boolean("enabled", gc.enabled);
  s.boolean("run_on_startup", gc.run_on_startup);
  s.int64("interval_seconds", gc.interval_seconds, 1);
  if (s.str("instance_id", gc.instance_id) && !valid_instance_id(gc.instance_id)) {
    s.ctx().problem(s.path("instance_id"), s.node()->find("instance_id"),
                    quote(gc.instance_id) +
                        " is not a valid instance id (letters, digits, '.', '_', '-'; at most 63)");
  }
  for (auto [key, task] : {std::pair{"idle_session", &gc.idle_session},
                           std::pair{"expired_sandbox", &gc.expired_sandbox},
                           std::pair{"orphan_cargo", &gc.orphan_cargo},
                           std::pair{"orphan_container", &gc.orphan_container}}) {
    Section t = s.sub(key);
    t.boolean("enabled", task->enabled);
    t.finish();
  }
  s.finish();
}

void decode_legacy(Section s, BayConfig& cfg) {
  auto& ctx = s.ctx();
  auto& lg = cfg.legacy;
  s.boolean("enabled", lg.enabled);
  s.str("access_token", lg.access_token);
  s.int64("max_ship_num", lg.max_ship_num, 1);
  s.choice("behavior_after_max_ship", lg.behavior_after_max_ship, {"reject", "wait"});
  s.str("profile", lg.profile);
  if (s.str("owner", lg.owner) && trim(lg.owner).empty()) {
    ctx.problem(s.path("owner"), s.node()->find("owner"), "must not be empty");
  }
  s.int64("max_wait_seconds", lg.max_wait_seconds, 0);
  std::uint64_t upload = 0;
  if (s.size("max_upload_size", upload, 1)) {
    if (upload > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      ctx.problem(s.path("max_upload_size"), s.node()->find("max_upload_size"), "is too large");
    } else {
      lg.max_upload_size = static_cast<std::int64_t>(upload);
    }
  }
  s.int64("ship_ready_timeout", lg.ship_ready_timeout, 1);
  if (const Node* n = s.take("default_cpus"); n != nullptr) {
    if (n->is_null() || (n->is_scalar() && trim(n->scalar).empty())) {
      lg.default_cpus.reset();
    } else {
      double cpus = 0;
      if (s.number("default_cpus", cpus)) {
        if (cpus <= 0) {
          ctx.problem(s.path("default_cpus"), n, describe(*n) + " must be greater than 0");
        } else {
          lg.default_cpus = cpus;
        }
      }
    }
  }
  std::optional<std::string> memory;
  if (s.opt_str("default_memory", memory)) {
    lg.default_memory.reset();
    if (memory) {
      const Node* n = s.node()->find("default_memory");
      auto bytes = parse_memory(*memory);
      if (!bytes) {
        ctx.problem(s.path("default_memory"), n,
                    quote(*memory) + " is not a memory size (e.g. 512m, 1g)");
      } else if (*bytes < kMinProfileMemory) {
        ctx.problem(s.path("default_memory"), n, quote(*memory) + " is below the minimum of 16m");
      } else {
        lg.default_memory = memory;
      }
    }
  }
  s.finish();
}

void decode_logging(Section s, BayConfig& cfg) {
  std::string level;
  if (s.str("level", level)) {
    std::string l;
    for (char c : trim(level)) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "warning") l = "warn";
    if (l == "err") l = "error";
    static const std::vector<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};
    if (std::find(kLevels.begin(), kLevels.end(), l) == kLevels.end()) {
      s.ctx().problem(
          s.path("level"), s.node()->find("level"),
          quote(level) + " is not one of: trace, debug, info, warn, error, critical, off");
    } else {
      cfg.log_level = l;
    }
  }
  s.choice("format", cfg.log_format, {"text", "json"});
  s.finish();
}

void decode_limits(Section s, BayConfig& cfg) {
  s.size("max_json_body", cfg.max_json_body, 1024);
  s.size("max_upload_bytes", cfg.max_upload_bytes, 0);
  s.int64("max_sandboxes_per_owner", cfg.max_sandboxes_per_owner, 0);
  s.int64("max_sessions_per_owner", cfg.max_sessions_per_owner, 0);
  s.int64("max_cargos_per_owner", cfg.max_cargos_per_owner, 0);
  s.finish();
}

void decode_capabilities(Section& s, Profile& p) {
  auto& ctx = s.ctx();
  const Node* list = s.list("capabilities");
  if (list == nullptr) return;
  std::vector<std::string> caps;
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const Node& item = list->items[i];
    const std::string path = s.path("capabilities") + "[" + std::to_string(i) + "]";
    if (!item.is_scalar()) {
      ctx.problem(path, &item, describe(item) + " is not a capability name");
      continue;
    }
    const std::string& c = item.scalar;
    if (c == kCapabilityBrowser) {
      ctx.problem(path, &item,
                  "\"browser\" is refused: no browser runtime exists in this build, and "
                  "advertising it would make clients pick a profile that cannot run");
    } else if (c != kCapabilityFilesystem && c != kCapabilityShell && c != kCapabilityPython) {
      ctx.problem(path, &item, quote(c) + " is not a capability (filesystem, shell, python)");
    } else if (std::find(caps.begin(), caps.end(), c) != caps.end()) {
      ctx.problem(path, &item, quote(c) + " is listed twice");
    } else {
      caps.push_back(c);
    }
  }
  p.capabilities = std::move(caps);
}

void decode_env(Section& s, Profile& p) {
  auto& ctx = s.ctx();
  const Node* map = ctx.structured(s.take("env"), s.path("env"));
  if (map == nullptr || map->is_null()) return;
  if (!map->is_map()) {
    ctx.problem(s.path("env"), map, describe(*map) + " is not a mapping of names to values");
    return;
  }
  p.env.clear();
  for (const auto& [name, value] : map->entries) {
    const std::string path = s.path("env") + "." + name;
    if (name.empty() || !matches(name, "[A-Za-z_][A-Za-z0-9_]*")) {
      ctx.problem(s.path("env"), &value,
                  quote(name) + " is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
      continue;
    }
    if (std::find(kReservedEnv.begin(), kReservedEnv.end(), name) != kReservedEnv.end()) {
      ctx.problem(path, &value, "is set by Bay in every session and cannot be configured");
      continue;
    }
    if (!value.is_scalar()) {
      ctx.problem(path, &value,
                  describe(value) + " is not a string (quote \"\" for an empty value)");
      continue;
    }
    if (value.scalar.find('\0') != std::string::npos) {
      ctx.problem(path, &value, "contains a NUL character");
      continue;
    }
    p.env.emplace_back(name, value.scalar);
  }
}

std::optional<Profile> decode_profile(Context& ctx, const Node& item, const std::string& base) {
  Section s(ctx, &item, base);
  if (s.node() == nullptr) {
    if (item.is_null()) ctx.problem(base, &item, "is empty (a profile needs at least an id)");
    return std::nullopt;
  }
  Profile p;
  bool ok = true;
  if (!s.node()->find("id")) {
    ctx.problem(base, s.node(), "missing required key \"id\"");
    ok = false;
  } else if (s.str("id", p.id)) {
    if (!valid_profile_id(p.id)) {
      ctx.problem(s.path("id"), s.node()->find("id"),
                  quote(p.id) +
                      " is not a valid profile id (letters, digits, '.', '_', '-'; "
                      "at most 64)");
      ok = false;
    }
  } else {
    ok = false;
  }
  s.opt_str("description", p.description);
  if (s.str("image", p.image) && trim(p.image).empty()) {
    ctx.problem(s.path("image"), s.node()->find("image"), "must not be empty");
  }
  std::string runtime;
  if (s.str("runtime_type", runtime)) {
    if (runtime == "ship") {
      p.runtime_type = runtime;
    } else if (runtime == "gull") {
      ctx.problem(s.path("runtime_type"), s.node()->find("runtime_type"),
                  "\"gull\" (the browser runtime) is not available in this build");
    } else {
      ctx.problem(s.path("runtime_type"), s.node()->find("runtime_type"),
                  quote(runtime) + " is not a runtime type (ship)");
    }
  }
  s.int32("runtime_port", p.runtime_port, 1, 65535);
  {
    Section r = s.sub("resources");
    if (r.number("cpus", p.resources.cpus) && !(p.resources.cpus > 0)) {
      ctx.problem(r.path("cpus"), r.node()->find("cpus"),
                  describe(*r.node()->find("cpus")) + " must be greater than 0");
    }
    std::string memory;
    if (r.str("memory", memory)) {
      const Node* n = r.node()->find("memory");
      auto bytes = parse_memory(memory);
      if (!bytes) {
        ctx.problem(r.path("memory"), n,
                    describe(*n) +
                        " is not a memory size (a number with an optional k, m, g "
                        "suffix, binary multiples: 128m, 1g)");
      } else if (*bytes < kMinProfileMemory) {
        ctx.problem(r.path("memory"), n, describe(*n) + " is below the minimum of 16m");
      } else {
        p.resources.memory = memory;
        p.resources.memory_bytes = *bytes;
      }
    }
    r.finish();
  }
  decode_capabilities(s, p);
  s.int64("idle_timeout", p.idle_timeout, 0);
  decode_env(s, p);
  s.choice("network", p.network, {"none", "outbound"});
  s.int32("warm_pool_size", p.warm_pool_size, 0, 1000);
  // Ship, its kernel and a shell need a handful of processes before any user code runs.
  s.int32("pids_limit", p.pids_limit, 16, 4194304);
  s.size("tmp_size", p.tmp_size_bytes, 1ull << 20);
  if (s.take("containers") != nullptr) {
    ctx.problem(s.path("containers"), s.node()->find("containers"),
                "multi-container profiles are not available in this build");
  }
  s.finish();
  if (!ok) return std::nullopt;
  return p;
}

void decode_profiles(Context& ctx, const Node* raw, BayConfig& cfg) {
  const Node* list = ctx.structured(raw, "profiles");
  if (list == nullptr || list->is_null()) {
    cfg.profiles = builtin_profiles();
    return;
  }
  if (!list->is_sequence()) {
    ctx.problem("profiles", list, describe(*list) + " is not a list");
    cfg.profiles = builtin_profiles();
    return;
  }
  cfg.profiles.clear();
  std::vector<const Node*> origins;
  bool unnamed = false;  // an entry without a usable id might have been python-default
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const std::string base = "profiles[" + std::to_string(i) + "]";
    auto p = decode_profile(ctx, list->items[i], base);
    if (!p) {
      unnamed = true;
      continue;
    }
    if (const Profile* prev = cfg.find_profile(p->id)) {
      const auto prev_index = static_cast<std::size_t>(prev - cfg.profiles.data());
      ctx.problem(base + ".id", list->items[i].find("id"),
                  "duplicate profile id " + quote(p->id) + " (also at " +
                      origins[prev_index]->origin + ")");
      continue;
    }
    origins.push_back(list->items[i].find("id"));
    cfg.profiles.push_back(std::move(*p));
  }
  if (cfg.find_profile("python-default") == nullptr && !unnamed) {
    ctx.problem("profiles", list,
                "no profile with id \"python-default\" (the default profile must exist whenever "
                "profiles are configured)");
  }
}

void check_api_keys(Context& ctx, const BayConfig& cfg) {
  const auto& sec = cfg.security;
  for (std::size_t i = 0; i < sec.api_keys.size(); ++i) {
    const std::string path = "security.api_keys[" + std::to_string(i) + "].key";
    bool reported = false;
    for (std::size_t j = 0; j < i && !reported; ++j) {
      if (sec.api_keys[j].key == sec.api_keys[i].key) {
        ctx.problem(path, nullptr, "the same key as security.api_keys[" + std::to_string(j) + "]");
        reported = true;
      }
    }
    if (!reported && sec.api_key && *sec.api_key == sec.api_keys[i].key) {
      ctx.problem(path, nullptr,
                  "the same key as security.api_key (one key cannot map to two owners)");
    }
  }
}

void check_legacy_profile(Context& ctx, const Node& root, const BayConfig& cfg) {
  const auto& lg = cfg.legacy;
  if (!lg.enabled) return;  // an unused reference should not stop Bay
  const Node* legacy = root.find("legacy");
  const Node* at = legacy != nullptr && legacy->is_map() ? legacy->find("profile") : nullptr;
  if (lg.access_token.empty()) {
    ctx.problem("legacy.access_token",
                legacy != nullptr && legacy->is_map() ? legacy->find("access_token") : nullptr,
                "must not be empty while the legacy API is enabled");
  }
  const Profile* p = cfg.find_profile(lg.profile);
  if (p == nullptr) {
    std::string ids;
    for (const auto& q : cfg.profiles) ids += (ids.empty() ? "" : ", ") + q.id;
    ctx.problem("legacy.profile", at,
                quote(lg.profile) + " is not a configured profile (profiles: " + ids + ")");
    return;
  }
  std::string missing;
  for (auto c : {kCapabilityFilesystem, kCapabilityShell, kCapabilityPython}) {
    if (!p->has_capability(c)) missing += (missing.empty() ? "" : ", ") + std::string(c);
  }
  if (!missing.empty()) {
    ctx.problem("legacy.profile", at,
                quote(lg.profile) + " lacks capabilities the legacy API needs: " + missing);
  }
}

}  // namespace

bool is_top_level_key(std::string_view key) {
  return std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), key) != kTopLevelKeys.end();
}

DatabaseTarget classify_database_url(std::string_view url) {
  DatabaseTarget t;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    t.reason = "is not a database URL (sqlite:///<path> or sqlite://:memory:)";
    return t;
  }
  const std::string_view scheme = url.substr(0, sep);
  const std::string_view rest = url.substr(sep + 3);
  if (scheme == "sqlite" || scheme == "sqlite+aiosqlite") {
    if (rest.empty() || rest == ":memory:" || rest == "/:memory:") {
      t.kind = DatabaseKind::kSqliteMemory;
    } else if (rest.front() != '/') {
      t.reason = quote(url) + ": SQLite URLs take no host; use sqlite:///<path>";
    } else if (rest.size() == 1) {
      t.reason = quote(url) + ": the file path is missing (sqlite:///<path>)";
    } else if (rest.find('?') != std::string_view::npos) {
      t.reason = quote(url) + ": URL parameters are not supported";
    } else {
      t.kind = DatabaseKind::kSqliteFile;
      t.path = std::string(rest.substr(1));
    }
    return t;
  }
  if (scheme.substr(0, 8) == "postgres") {
    t.kind = DatabaseKind::kPostgres;
    return t;
  }
  t.reason =
      "the scheme " + quote(scheme) + " is not supported (sqlite:///<path> or sqlite://:memory:)";
  return t;
}

void decode_config(const Node& root, Context& ctx, BayConfig& cfg) {
  Section top(ctx, &root, "");
  decode_server(top.sub("server"), cfg);
  decode_database(top.sub("database"), cfg);
  decode_driver(top.sub("driver"), cfg);
  if (top.str("data_dir", cfg.data_dir)) check_path(ctx, top, "data_dir", cfg.data_dir);
  decode_cargo(top.sub("cargo"), cfg);
  decode_security(top.sub("security"), cfg);
  {
    Section s = top.sub("idempotency");
    s.boolean("enabled", cfg.idempotency_enabled);
    s.int64("ttl_hours", cfg.idempotency_ttl_hours, 1);
    s.finish();
  }
  decode_gc(top.sub("gc"), cfg);
  if (Section proxy = top.sub("proxy"); proxy.present()) {
    // Contents are deliberately not checked: the section is accepted for configurations
    // written for other Bay implementations (see docs/configuration.md).
    ctx.warning(
        "proxy: accepted but ignored; this build injects no proxy variables into "
        "sandboxes (set them in a profile's env instead)");
  }
  decode_legacy(top.sub("legacy"), cfg);
  decode_logging(top.sub("logging"), cfg);
  decode_limits(top.sub("limits"), cfg);
  decode_profiles(ctx, top.take("profiles"), cfg);
  for (const auto& key : top.untaken()) {
    ctx.warning("unknown top-level key " + quote(key) + " ignored (" + root.find(key)->origin +
                ")");
  }
  check_api_keys(ctx, cfg);
  check_legacy_profile(ctx, root, cfg);
}

}  // namespace shipyard::bay::config_detail
