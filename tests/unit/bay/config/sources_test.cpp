// Where the configuration comes from and which source wins (bay-api-v1.md §5.1,
// legacy-api.md §1).
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

// With no file and no variables Bay runs on the built-in defaults (§5.1, §5.3).
TEST_F(ConfigTest, DefaultsWithoutFile) {
  auto c = load_ok();
  EXPECT_EQ(c.config_file, "");
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.data_dir, dir_ + "/data");
  EXPECT_EQ(c.database_url, "sqlite:///" + dir_ + "/data/bay.db");
  EXPECT_EQ(c.sqlite_path(), dir_ + "/data/bay.db");
  EXPECT_EQ(c.cargo_root, dir_ + "/data/cargos");
  EXPECT_EQ(c.cargo_default_size_limit_mb, 1024);
  EXPECT_EQ(c.cargo_mount_path, "/workspace");
  EXPECT_EQ(c.driver.type, "process");
  EXPECT_EQ(c.driver.process.ship_app_dir, "");  // filled by the process driver
  EXPECT_EQ(c.driver.process.uid_base, 200000u);
  EXPECT_FALSE(c.security.api_key.has_value());
  EXPECT_TRUE(c.security.api_keys.empty());
  EXPECT_FALSE(c.security.allow_anonymous);
  EXPECT_TRUE(c.idempotency_enabled);
  EXPECT_EQ(c.idempotency_ttl_hours, 1);
  EXPECT_TRUE(c.gc.enabled);
  EXPECT_TRUE(c.gc.run_on_startup);
  EXPECT_EQ(c.gc.interval_seconds, 300);
  EXPECT_EQ(c.gc.instance_id, "bay");
  EXPECT_TRUE(c.gc.idle_session.enabled);
  EXPECT_TRUE(c.gc.expired_sandbox.enabled);
  EXPECT_TRUE(c.gc.orphan_cargo.enabled);
  EXPECT_FALSE(c.gc.orphan_container.enabled);
  EXPECT_TRUE(c.legacy.enabled);
  EXPECT_EQ(c.legacy.access_token, "secret-token");
  EXPECT_EQ(c.legacy.behavior_after_max_ship, "reject");
  EXPECT_EQ(c.legacy.max_upload_size, 104857600);
  EXPECT_FALSE(c.legacy.default_cpus.has_value());
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "text");
  ASSERT_EQ(c.profiles.size(), 1u);
  const Profile& p = c.profiles[0];
  EXPECT_EQ(p.id, "python-default");
  EXPECT_EQ(p.image, "ship:latest");
  EXPECT_EQ(p.capabilities, (std::vector<std::string>{"filesystem", "shell", "python"}));
  EXPECT_EQ(p.resources.cpus, 1.0);
  EXPECT_EQ(p.resources.memory, "1g");
  EXPECT_EQ(p.resources.memory_bytes, 1ull << 30);
  EXPECT_EQ(p.idle_timeout, 300);
  EXPECT_EQ(p.network, "none");
  EXPECT_TRUE(p.env.empty());
  // The default legacy token is worth a start-up warning (legacy-api.md §1).
  EXPECT_TRUE(has_line(c.warnings, {"legacy.access_token", "secret-token"}));
}

// gc.instance_id defaults to $HOSTNAME, and to "bay" when the hostname is unusable.
TEST_F(ConfigTest, InstanceIdFromHostname) {
  env("HOSTNAME", "node-7.example");
  EXPECT_EQ(load_ok().gc.instance_id, "node-7.example");
  opts.environment = {{"HOSTNAME", "bad host/name"}};
  EXPECT_EQ(load_ok().gc.instance_id, "bay");
}

// ./config.yaml is used when nothing names a file, then the system file (§5.1).
TEST_F(ConfigTest, FileSearchOrder) {
  write("etc-bay-config.yaml", "server: {port: 7001}\n");
  EXPECT_EQ(load_ok().port, 7001);
  EXPECT_EQ(load_ok().config_file, dir_ + "/etc-bay-config.yaml");
  write("config.yaml", "server: {port: 7002}\n");
  EXPECT_EQ(load_ok().port, 7002);
  env("BAY_CONFIG_FILE", write("from-env.yaml", "server: {port: 7003}\n"));
  EXPECT_EQ(load_ok().port, 7003);
  opts.config_file = write("from-flag.yaml", "server: {port: 7004}\n");
  auto c = load_ok();
  EXPECT_EQ(c.port, 7004);
  EXPECT_EQ(c.config_file, dir_ + "/from-flag.yaml");
}

// A relative --config resolves against the working directory.
TEST_F(ConfigTest, RelativeConfigFile) {
  write("rel.yaml", "server: {port: 7005}\n");
  opts.config_file = "rel.yaml";
  EXPECT_EQ(load_ok().port, 7005);
}

// A file named explicitly (flag or BAY_CONFIG_FILE) must exist; the search does not guess.
TEST_F(ConfigTest, ExplicitMissingFileIsAnError) {
  opts.config_file = dir_ + "/nope.yaml";
  auto r = load_config(opts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find(dir_ + "/nope.yaml"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("does not exist"), std::string::npos);

  opts.config_file.reset();
  write("config.yaml", "server: {port: 7002}\n");  // must not be used as a fallback
  env("BAY_CONFIG_FILE", dir_ + "/missing.yaml");
  r = load_config(opts);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("BAY_CONFIG_FILE"), std::string::npos) << r.error().message;
}

// A YAML syntax error names the file and the line.
TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  use_file("server:\n  port: 8001\nprofiles: [\n");
  auto r = load_config(opts);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(dir_ + "/bay.yaml"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("line"), std::string::npos);
}

// An empty file means all defaults; a top level that is not a mapping is refused.
TEST_F(ConfigTest, EmptyFileAndNonMappingTopLevel) {
  use_file("# nothing here\n");
  EXPECT_EQ(load_ok().port, 8000);
  use_file("- a\n- b\n");
  EXPECT_FALSE(load_config(opts).ok());
}

// Priority: file < BAY_* environment < --set flags, leaf by leaf.
TEST_F(ConfigTest, FileThenEnvThenOverrides) {
  use_file("server: {host: 127.0.0.1, port: 8001}\ngc: {enabled: true, interval_seconds: 60}\n");
  auto c = load_ok();
  EXPECT_EQ(c.port, 8001);
  EXPECT_EQ(c.host, "127.0.0.1");

  env("BAY_SERVER__PORT", "8002");
  env("BAY_GC__ENABLED", "false");
  c = load_ok();
  EXPECT_EQ(c.port, 8002);
  EXPECT_EQ(c.host, "127.0.0.1");  // siblings from the file survive
  EXPECT_FALSE(c.gc.enabled);
  EXPECT_EQ(c.gc.interval_seconds, 60);

  set("server.port", "9000");
  set("gc.enabled", "yes");
  c = load_ok();
  EXPECT_EQ(c.port, 9000);
  EXPECT_TRUE(c.gc.enabled);
}

// Every nesting level and key spelled in the spec maps from BAY_* variables.
TEST_F(ConfigTest, EnvironmentKeyMapping) {
  env("BAY_SECURITY__ALLOW_ANONYMOUS", "TRUE");
  env("BAY_GC__IDLE_SESSION__ENABLED", "No");
  env("BAY_GC__ORPHAN_CONTAINER__ENABLED", "1");
  env("BAY_DRIVER__PROCESS__UID_BASE", "300000");
  env("BAY_DRIVER__PROCESS__CGROUP_PARENT", "");
  env("BAY_DATA_DIR", "/srv/bay");
  env("BAY_DATABASE__URL", "sqlite:///state/bay.sqlite");
  env("BAY_CARGO__ROOT_PATH", "/mnt/cargos");
  env("BAY_IDEMPOTENCY__TTL_HOURS", "24");
  env("BAY_LOGGING__LEVEL", "WARNING");
  env("BAY_LIMITS__MAX_JSON_BODY", "1m");
  env("BAY_SANDBOX_ID", "sandbox-abc");  // exported by Bay into sandboxes: not a setting
  env("BAY_CONFIG_FILE", "");            // empty: not set
  auto c = load_ok();
  EXPECT_TRUE(c.security.allow_anonymous);
  EXPECT_FALSE(c.gc.idle_session.enabled);
  EXPECT_TRUE(c.gc.orphan_container.enabled);
  EXPECT_EQ(c.driver.process.uid_base, 300000u);
  EXPECT_EQ(c.driver.process.cgroup_parent, "");
  EXPECT_EQ(c.data_dir, "/srv/bay");
  EXPECT_EQ(c.database_url, "sqlite:////srv/bay/state/bay.sqlite");
  EXPECT_EQ(c.sqlite_path(), "/srv/bay/state/bay.sqlite");
  EXPECT_EQ(c.cargo_root, "/mnt/cargos");
  EXPECT_EQ(c.idempotency_ttl_hours, 24);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.max_json_body, 1u << 20);
}

// A bad value in the file that a higher source replaces is never reported.
TEST_F(ConfigTest, OverriddenBadValueIsNotReported) {
  use_file("server: {port: not-a-port}\n");
  env("BAY_SERVER__PORT", "8005");
  EXPECT_EQ(load_ok().port, 8005);
}

// Environment values are converted to the key's type; a bad one names the variable.
TEST_F(ConfigTest, EnvironmentConversionErrorsNameTheVariable) {
  env("BAY_SERVER__PORT", "eighty");
  env("BAY_GC__ENABLED", "maybe");
  auto lines = problems();
  EXPECT_TRUE(
      has_line(lines, {"server.port", "\"eighty\"", "not an integer", "env BAY_SERVER__PORT"}))
      << join(lines);
  EXPECT_TRUE(has_line(lines, {"gc.enabled", "\"maybe\"", "not a boolean", "env BAY_GC__ENABLED"}))
      << join(lines);
}

// Booleans accept true/false/1/0/yes/no in any case, from every source.
TEST_F(ConfigTest, BooleanSpellings) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, bool>>{{"true", true},
                                                                            {"TRUE", true},
                                                                            {"1", true},
                                                                            {"yes", true},
                                                                            {"Yes", true},
                                                                            {"false", false},
                                                                            {"False", false},
                                                                            {"0", false},
                                                                            {"no", false},
                                                                            {"NO", false}}) {
    opts.environment = {{"BAY_SECURITY__ALLOW_ANONYMOUS", text}};
    EXPECT_EQ(load_ok().security.allow_anonymous, want) << text;
    use_file("security: {allow_anonymous: " + text + "}\n");
    opts.environment.clear();
    EXPECT_EQ(load_ok().security.allow_anonymous, want) << text;
    opts.config_file.reset();
  }
  opts.environment = {{"BAY_SECURITY__ALLOW_ANONYMOUS", "on"}};
  EXPECT_FALSE(load_config(opts).ok());
}

// The later of two entries for one variable wins, as with a wrapper that appends.
TEST_F(ConfigTest, LaterEnvironmentEntryWins) {
  env("BAY_SERVER__PORT", "8001");
  env("BAY_SERVER__PORT", "8002");
  EXPECT_EQ(load_ok().port, 8002);
}

// Legacy variables beat the legacy section and BAY_LEGACY__*; flags beat them (§1).
TEST_F(ConfigTest, LegacyEnvironmentPriority) {
  use_file(
      "legacy:\n  access_token: from-file\n  max_ship_num: 3\n  behavior_after_max_ship: reject\n"
      "  max_wait_seconds: 10\n");
  auto c = load_ok();
  EXPECT_EQ(c.legacy.access_token, "from-file");
  EXPECT_EQ(c.legacy.max_ship_num, 3);

  env("BAY_LEGACY__ACCESS_TOKEN", "from-bay-env");
  env("BAY_LEGACY__MAX_SHIP_NUM", "4");
  EXPECT_EQ(load_ok().legacy.access_token, "from-bay-env");

  env("ACCESS_TOKEN", "from-legacy-env");
  env("MAX_SHIP_NUM", "5");
  env("BEHAVIOR_AFTER_MAX_SHIP", "wait");
  env("LEGACY_API_ENABLED", "true");
  env("LEGACY_OWNER", "bots");
  env("MAX_SHIP_WAIT_SECONDS", "30");
  env("MAX_UPLOAD_SIZE", "1048576");
  env("SHIP_HEALTH_CHECK_TIMEOUT", "90");
  env("DEFAULT_SHIP_CPUS", "0.5");
  env("DEFAULT_SHIP_MEMORY", "256m");
  env("LEGACY_PROFILE", "");  // empty: unset
  c = load_ok();
  EXPECT_EQ(c.legacy.access_token, "from-legacy-env");
  EXPECT_EQ(c.legacy.max_ship_num, 5);
  EXPECT_EQ(c.legacy.behavior_after_max_ship, "wait");
  EXPECT_EQ(c.legacy.owner, "bots");
  EXPECT_EQ(c.legacy.max_wait_seconds, 30);
  EXPECT_EQ(c.legacy.max_upload_size, 1048576);
  EXPECT_EQ(c.legacy.ship_ready_timeout, 90);
  EXPECT_EQ(c.legacy.default_cpus, 0.5);
  EXPECT_EQ(c.legacy.default_memory, "256m");
  EXPECT_EQ(c.legacy.profile, "python-default");
  EXPECT_FALSE(has_line(c.warnings, {"secret-token"}));

  set("legacy.access_token", "from-flag");
  EXPECT_EQ(load_ok().legacy.access_token, "from-flag");
}

// LEGACY_API_ENABLED=false turns the legacy API off, whatever the file says.
TEST_F(ConfigTest, LegacyDisabledByEnvironment) {
  use_file("legacy: {enabled: true}\n");
  env("LEGACY_API_ENABLED", "false");
  EXPECT_FALSE(load_ok().legacy.enabled);
}

// An invalid legacy variable stops Bay with a clear message (legacy-api.md §1).
TEST_F(ConfigTest, InvalidLegacyVariable) {
  env("BEHAVIOR_AFTER_MAX_SHIP", "sometimes");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"legacy.behavior_after_max_ship", "\"sometimes\"", "reject, wait",
                               "env BEHAVIOR_AFTER_MAX_SHIP"}))
      << join(lines);
}

// §3.2: BAY_API_KEY beats security.api_key from the file and from BAY_SECURITY__API_KEY;
// only a flag beats it, and an empty BAY_API_KEY counts as unset.
TEST_F(ConfigTest, ApiKeyPrecedence) {
  use_file("security:\n  api_key: from-file\n  api_keys:\n    - {key: k-alice, owner: alice}\n");
  EXPECT_EQ(load_ok().security.api_key, "from-file");
  env("BAY_SECURITY__API_KEY", "from-nested-env");
  EXPECT_EQ(load_ok().security.api_key, "from-nested-env");
  env("BAY_API_KEY", "from-bay-api-key");
  auto c = load_ok();
  EXPECT_EQ(c.security.api_key, "from-bay-api-key");
  ASSERT_EQ(c.security.api_keys.size(), 1u);  // the multi-owner list stays as configured
  EXPECT_EQ(c.security.api_keys[0].owner, "alice");
  set("security.api_key", "from-flag");
  EXPECT_EQ(load_ok().security.api_key, "from-flag");

  opts.overrides.clear();
  opts.environment = {{"BAY_API_KEY", ""}};
  EXPECT_EQ(load_ok().security.api_key, "from-file");
}

// A null or empty api_key means "no single key" (and then §3.2 step 4 applies).
TEST_F(ConfigTest, NullApiKeyIsUnset) {
  use_file("security:\n  api_key:\n");
  EXPECT_FALSE(load_ok().security.api_key.has_value());
  use_file("security:\n  api_key: \"\"\n");
  EXPECT_FALSE(load_ok().security.api_key.has_value());
}

// Lists and mappings can come from the environment as YAML or JSON text, and a section
// given whole combines with deeper variables.
TEST_F(ConfigTest, StructuredValuesFromEnvironment) {
  env("BAY_PROFILES",
      R"([{"id": "python-default"}, {"id": "tiny", "resources": {"memory": "64m"},
          "env": {"B": "2", "A": "1"}}])");
  env("BAY_SECURITY__API_KEYS", "[{key: k1, owner: o1}, {key: k2, owner: o2}]");
  env("BAY_SERVER", "{host: 10.0.0.1, port: 8100}");
  env("BAY_SERVER__PORT", "8200");
  auto c = load_ok();
  ASSERT_EQ(c.profiles.size(), 2u);
  EXPECT_EQ(c.profiles[1].id, "tiny");
  EXPECT_EQ(c.profiles[1].resources.memory_bytes, 64u << 20);
  ASSERT_EQ(c.profiles[1].env.size(), 2u);
  EXPECT_EQ(c.profiles[1].env[0].first, "B");
  ASSERT_EQ(c.security.api_keys.size(), 2u);
  EXPECT_EQ(c.security.api_keys[1].owner, "o2");
  EXPECT_EQ(c.host, "10.0.0.1");
  EXPECT_EQ(c.port, 8200);
}

// A list element cannot be addressed from the environment or a flag: say so.
TEST_F(ConfigTest, CannotAddressIntoLists) {
  use_file("profiles:\n  - id: python-default\n");
  set("profiles.0.image", "other");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"--set profiles.0.image", "profiles is not a mapping"}))
      << join(lines);
}

// A flag naming an unknown section is a typo; an unknown BAY_* variable is not a setting.
TEST_F(ConfigTest, UnknownSectionInFlag) {
  set("sever.port", "1");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"--set sever.port", "\"sever\""})) << join(lines);
  opts.overrides.clear();
  env("BAY_SEVER__PORT", "1");
  load_ok();
}

// Relative paths: data_dir against the working directory, the others against data_dir.
TEST_F(ConfigTest, RelativePathsResolve) {
  use_file(
      "data_dir: ./state/../var\n"
      "database:\n  url: sqlite:///./db/bay-dev.db\n"
      "cargo:\n  root_path: cargo-store/\n"
      "driver:\n  process:\n    ship_app_dir: ../app\n");
  auto c = load_ok();
  EXPECT_EQ(c.data_dir, dir_ + "/var");
  EXPECT_EQ(c.database_url, "sqlite:///" + dir_ + "/var/db/bay-dev.db");
  EXPECT_EQ(c.sqlite_path(), dir_ + "/var/db/bay-dev.db");
  EXPECT_EQ(c.cargo_root, dir_ + "/var/cargo-store");
  EXPECT_EQ(c.driver.process.ship_app_dir, dir_ + "/app");

  use_file(
      "data_dir: /var/lib/bay/\n"
      "database:\n  url: sqlite:////srv/db/bay.db\n"
      "cargo:\n  root_path: /srv/cargos\n");
  c = load_ok();
  EXPECT_EQ(c.data_dir, "/var/lib/bay");
  EXPECT_EQ(c.database_url, "sqlite:////srv/db/bay.db");
  EXPECT_EQ(c.sqlite_path(), "/srv/db/bay.db");
  EXPECT_EQ(c.cargo_root, "/srv/cargos");
}

// In-memory SQLite in its spellings, including Python Bay's sqlite+aiosqlite scheme.
TEST_F(ConfigTest, DatabaseUrlForms) {
  for (const char* url :
       {"sqlite://:memory:", "sqlite:///:memory:", "sqlite://", "sqlite+aiosqlite://:memory:"}) {
    opts.environment = {{"BAY_DATABASE__URL", url}};
    auto c = load_ok();
    EXPECT_EQ(c.database_url, "sqlite://:memory:") << url;
    EXPECT_EQ(c.sqlite_path(), ":memory:") << url;
  }
  opts.environment = {{"BAY_DATABASE__URL", "sqlite+aiosqlite:///./bay.db"}};
  EXPECT_EQ(load_ok().sqlite_path(), dir_ + "/data/bay.db");
}

// A BayConfig built by hand (tests of other modules) still has a usable sqlite_path().
TEST(BayConfigTest, SqlitePathWithoutLoad) {
  BayConfig c;
  c.data_dir = "/tmp/x";
  EXPECT_EQ(c.sqlite_path(), "/tmp/x/bay.db");
  c.database_url = "sqlite:///abs/file.db";
  EXPECT_EQ(c.sqlite_path(), "abs/file.db");
}

}  // namespace
}  // namespace shipyard::bay::testing
