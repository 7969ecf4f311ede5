// Bay's configuration (bay-api-v1.md §5, legacy-api.md §1): built-in defaults, then a
// YAML file, then BAY_* environment variables (and the legacy variables), then flags.
// An invalid configuration is reported with every problem at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace shipyard::bay {

inline constexpr const char* kCapabilityFilesystem = "filesystem";
inline constexpr const char* kCapabilityShell = "shell";
inline constexpr const char* kCapabilityPython = "python";
inline constexpr const char* kCapabilityBrowser = "browser";

struct Resources {
  double cpus = 1.0;
  std::string memory = "1g";                // as configured (echoed by the API)
  std::uint64_t memory_bytes = 1ull << 30;  // parsed: k, m, g suffixes are binary multiples
};

struct Profile {
  std::string id;
  std::optional<std::string> description;
  std::string image = "ship:latest";
  std::string runtime_type = "ship";
  int runtime_port = 8123;
  Resources resources;
  std::vector<std::string> capabilities{kCapabilityFilesystem, kCapabilityShell, kCapabilityPython};
  std::int64_t idle_timeout = 1800;                      // seconds
  std::vector<std::pair<std::string, std::string>> env;  // in configuration order
  std::string network = "none";                          // "none" | "outbound"
  int warm_pool_size = 0;
  int pids_limit = 512;                         // processes per sandbox (extension)
  std::uint64_t tmp_size_bytes = 256ull << 20;  // size of the sandbox's private /tmp (extension)

  bool has_capability(std::string_view c) const;
};

struct ProcessDriverConfig {
  // Directory mounted read-only at /app in every sandbox: bin/ship, kernel/, skills/.
  // Default: the `app` directory next to Bay's own bin/ directory (left empty by
  // load_config for main/the driver to fill); a relative value resolves against data_dir.
  std::string ship_app_dir;
  std::string bwrap = "/usr/bin/bwrap";
  // Host uids/gids handed to cargos: uid_base, uid_base + 1, ... (never 0..65535).
  std::uint32_t uid_base = 200000;
  std::uint32_t uid_count = 100000;
  // Where Bay creates its cgroups; empty: auto-detect (v2 unified, else v1 controllers).
  std::string cgroup_parent = "shipyard";
};

struct DriverConfig {
  std::string type = "process";
  ProcessDriverConfig process;
};

struct ApiKeyEntry {
  std::string key;
  std::string owner;
};

struct SecurityConfig {
  std::optional<std::string> api_key;  // BAY_API_KEY overrides
  std::vector<ApiKeyEntry> api_keys;   // optional multi-owner form
  bool allow_anonymous = false;
};

struct GcTaskConfig {
  bool enabled = true;
};

struct GcConfig {
  bool enabled = true;
  bool run_on_startup = true;
  std::int64_t interval_seconds = 300;
  std::string instance_id;  // default $HOSTNAME or "bay"
  GcTaskConfig idle_session;
  GcTaskConfig expired_sandbox;
  GcTaskConfig orphan_cargo;
  GcTaskConfig orphan_container{false};
};

struct LegacyConfig {
  bool enabled = true;
  std::string access_token = "secret-token";
  std::int64_t max_ship_num = 10;
  std::string behavior_after_max_ship = "reject";  // "reject" | "wait"
  std::string profile = "python-default";
  std::string owner = "legacy";
  std::int64_t max_wait_seconds = 300;
  std::int64_t max_upload_size = 104857600;
  std::int64_t ship_ready_timeout = 60;
  std::optional<double> default_cpus;
  std::optional<std::string> default_memory;
};

struct BayConfig {
  std::string host = "0.0.0.0";
  int port = 8000;
  // After load_config: data_dir, cargo_root and the SQLite path are absolute and normal.
  std::string data_dir = "./data";
  std::string database_url;  // default sqlite:///<data_dir>/bay.db
  DriverConfig driver;
  std::string cargo_root;  // default <data_dir>/cargos
  std::int64_t cargo_default_size_limit_mb = 1024;
  // cargo.size_limits: how size_limit_mb is enforced: "image" (an ext4 image per cargo,
  // loop-mounted; required), "auto" (the same when Bay is root and mkfs.ext4 exists, else
  // not enforced, logged), "off".
  std::string cargo_quota = "auto";
  std::string cargo_mount_path = "/workspace";
  SecurityConfig security;
  bool idempotency_enabled = true;
  std::int64_t idempotency_ttl_hours = 1;
  GcConfig gc;
  LegacyConfig legacy;
  std::vector<Profile> profiles;
  std::string log_level = "info";
  std::string log_format = "text";  // "text" | "json"
  // Limits on what clients may send (extensions; see docs/configuration.md).
  std::uint64_t max_json_body = 16ull << 20;
  std::uint64_t max_upload_bytes = 0;  // 0: no limit beyond the cargo size
  // Per-owner quotas (429 quota_exceeded beyond them); 0: unlimited.
  std::int64_t max_sandboxes_per_owner = 0;  // live sandboxes
  std::int64_t max_sessions_per_owner = 0;   // running (starting or ready) sessions
  std::int64_t max_cargos_per_owner = 0;     // live external cargos

  // Filled by load_config (additions; a BayConfig built by hand leaves them empty):
  std::string config_file;            // the YAML file that was read; empty: none
  std::vector<std::string> warnings;  // non-fatal findings for main to log once

  const Profile* find_profile(std::string_view id) const;
  // Path of the SQLite file when database_url is sqlite:///...; ":memory:" for in-memory.
  // load_config leaves database_url as "sqlite:///<absolute path>" or "sqlite://:memory:";
  // an empty database_url (a BayConfig built by hand) means <data_dir>/bay.db.
  std::string sqlite_path() const;
};

struct LoadOptions {
  // --config; else BAY_CONFIG_FILE, ./config.yaml, /etc/bay/config.yaml.
  std::optional<std::string> config_file;
  std::vector<std::pair<std::string, std::string>> environment;  // the process environment
  std::vector<std::pair<std::string, std::string>> overrides;    // --set key.path=value flags
  // Additions, so that tests need not depend on the process's directory or on /etc:
  // the directory that ./config.yaml and a relative data_dir resolve against (empty: the
  // current directory), and the last file tried when none is named (empty: none).
  std::string working_dir;
  std::string system_config_file = "/etc/bay/config.yaml";
};

// Loads and validates. On failure the error (kInvalidArgument) message lists every
// problem, one per line ("<key path>: <what is wrong> (<where the value came from>)"),
// and details["problems"] holds the same lines as an array. In `environment` a name given
// twice takes its later value. Sources, rules and defaults: docs/configuration.md.
Result<BayConfig> load_config(const LoadOptions& opts);

// Parses "128m", "1g", "512k", "1073741824" (binary multiples); nullopt if invalid.
// Case-insensitive; suffixes k, m, g, t, each optionally followed by b, i or ib ("512mb",
// "1Gi", "1GiB" all mean binary multiples too); a bare "b" means bytes. No fractions, no
// inner spaces; surrounding whitespace is ignored.
std::optional<std::uint64_t> parse_memory(std::string_view s);

// The profile list Bay uses when the configuration defines none (§5.3).
std::vector<Profile> builtin_profiles();

}  // namespace shipyard::bay
