// What an invalid configuration reports (bay-api-v1.md §5.3: every problem at once).
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

// One file with many different mistakes: each is its own line naming key, value, origin.
TEST_F(ConfigTest, EveryProblemReportedAtOnce) {
  use_file(R"(server:
  port: 70000
  prot: 8001
database:
  url: "postgresql://bay:hunter2@db/bay"
driver:
  type: docker
  process:
    uid_base: 1000
cargo:
  mount_path: /work
idempotency:
  ttl_hours: 0
gc:
  interval_seconds: 0
  enabled: sometimes
legacy:
  behavior_after_max_ship: sometimes
  profile: missing-profile
profiles:
  - id: python-default
    resources: {cpus: 0, memory: lots}
    capabilities: [filesystem, gpu, browser]
    idle_timeout: -5
    network: internet
    env:
      1BAD: x
      GOOD: y
  - id: python-default
    image: ship:latest
  - id: small
    resources: {memory: 128m}
    runtime_port: 0
)");
  auto lines = problems();
  const std::string file = dir_ + "/bay.yaml";
  const std::string all = join(lines);
  EXPECT_TRUE(has_line(lines, {"server.port", "70000", "out of range 0..65535", file + ":2"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"server.prot", "unknown key", "host, port", file + ":3"})) << all;
  EXPECT_TRUE(has_line(lines, {"database.url", "PostgreSQL", "not available in this build"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"driver.type", "\"docker\"", "not available in this build"})) << all;
  EXPECT_TRUE(has_line(lines, {"driver.process.uid_base", "1000", "out of range 65536.."})) << all;
  EXPECT_TRUE(has_line(lines, {"cargo.mount_path", "\"/work\"", "/workspace"})) << all;
  EXPECT_TRUE(has_line(lines, {"idempotency.ttl_hours", "0", "minimum 1"})) << all;
  EXPECT_TRUE(has_line(lines, {"gc.interval_seconds", "0", "minimum 1"})) << all;
  EXPECT_TRUE(has_line(lines, {"gc.enabled", "\"sometimes\"", "not a boolean"})) << all;
  EXPECT_TRUE(has_line(lines, {"legacy.behavior_after_max_ship", "\"sometimes\"", "reject, wait"}))
      << all;
  EXPECT_TRUE(
      has_line(lines, {"legacy.profile", "\"missing-profile\"", "not a configured profile"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].resources.cpus", "0", "greater than 0"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].resources.memory", "\"lots\"", "not a memory size"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].capabilities[1]", "\"gpu\"", "not a capability"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].capabilities[2]", "\"browser\"", "no browser runtime"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].idle_timeout", "-5", "minimum 0"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].network", "\"internet\"", "none, outbound"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].env", "\"1BAD\"", "not a valid variable name"})) << all;
  EXPECT_TRUE(
      has_line(lines, {"profiles[1].id", "duplicate profile id \"python-default\"", file + ":21"}))
      << all;
  EXPECT_TRUE(has_line(lines, {"profiles[2].runtime_port", "0", "out of range 1..65535"})) << all;
  // The password in the database URL is never echoed.
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
  EXPECT_EQ(lines.size(), 20u) << all;
}

// A configured profile list replaces the built-in one and must contain python-default.
TEST_F(ConfigTest, ProfilesMustContainPythonDefault) {
  use_file("profiles:\n  - id: only-python\n    capabilities: [python]\n");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"profiles", "python-default"})) << join(lines);
  use_file("profiles: []\n");
  EXPECT_TRUE(has_line(problems(), {"profiles", "python-default"}));
}

// The legacy profile must exist and offer filesystem, shell and python; only when enabled.
TEST_F(ConfigTest, LegacyProfileChecks) {
  use_file(
      "profiles:\n  - id: python-default\n  - id: py\n    capabilities: [python]\n"
      "legacy: {profile: py}\n");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"legacy.profile", "\"py\"", "filesystem, shell"})) << join(lines);
  env("LEGACY_API_ENABLED", "false");
  load_ok();
}

// Unknown keys inside known sections are reported, at any depth; proxy.* is exempt and
// unknown top-level keys only warn.
TEST_F(ConfigTest, UnknownKeys) {
  use_file(
      "gc:\n  idle_session: {enabled: true, enable: false}\n"
      "profiles:\n  - id: python-default\n    resources: {cpu: 2}\n"
      "proxy:\n  http_proxy: http://proxy:3128\n  anything: {goes: here}\n"
      "telemetry: {enabled: true}\n");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"gc.idle_session.enable", "unknown key"})) << join(lines);
  EXPECT_TRUE(has_line(lines, {"profiles[0].resources.cpu", "unknown key", "cpus, memory"}))
      << join(lines);
  EXPECT_EQ(lines.size(), 2u) << join(lines);

  use_file(
      "proxy:\n  http_proxy: http://proxy:3128\n"
      "telemetry: {enabled: true}\n");
  auto c = load_ok();
  EXPECT_TRUE(has_line(c.warnings, {"\"telemetry\"", "ignored"})) << join(c.warnings);
  EXPECT_TRUE(has_line(c.warnings, {"proxy", "ignored"})) << join(c.warnings);
}

// Sections and lists of the wrong shape are type errors, not crashes or silent defaults.
TEST_F(ConfigTest, WrongShapes) {
  use_file(
      "server: 8000\n"
      "gc:\n  enabled: [true]\n"
      "profiles:\n  - python-default\n"
      "security:\n  api_keys: {key: a}\n"
      "logging:\n  level:\n");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"server:", "8000 is not a mapping"})) << join(lines);
  EXPECT_TRUE(has_line(lines, {"gc.enabled", "a list is not a boolean"})) << join(lines);
  EXPECT_TRUE(has_line(lines, {"profiles[0]", "\"python-default\" is not a mapping"}))
      << join(lines);
  EXPECT_TRUE(has_line(lines, {"security.api_keys", "a mapping is not a list"})) << join(lines);
  EXPECT_TRUE(has_line(lines, {"logging.level", "has no value"})) << join(lines);
}

// The remaining rules: driver names, URLs, ids, env names and values, keys, limits.
TEST_F(ConfigTest, MoreRules) {
  use_file(R"(driver:
  type: podman
  process: {uid_base: 4294967000, uid_count: 1000, cgroup_parent: ../escape}
database: {url: "mysql://x"}
data_dir: ~/bay
security:
  api_key: same
  api_keys:
    - {key: same, owner: alice}
    - {owner: bob}
    - {key: k3, owner: ""}
logging: {level: loud, format: xml}
limits: {max_json_body: 10, max_sandboxes_per_owner: -1}
legacy: {default_memory: 1k, default_cpus: -1, max_ship_num: 0, access_token: ""}
profiles:
  - id: python-default
    runtime_type: gull
    pids_limit: 2
    containers: []
    env:
      BAY_SANDBOX_ID: x
      EMPTY:
      "": y
  - id: "bad id!"
  - description: no id
)");
  auto lines = problems();
  const std::string all = join(lines);
  EXPECT_TRUE(has_line(lines, {"driver.type", "\"podman\"", "not a driver"})) << all;
  EXPECT_TRUE(has_line(lines, {"driver.process.uid_count", "4294967294"})) << all;
  EXPECT_TRUE(has_line(lines, {"driver.process.cgroup_parent", "\"..\""})) << all;
  EXPECT_TRUE(has_line(lines, {"database.url", "\"mysql\"", "not supported"})) << all;
  EXPECT_TRUE(has_line(lines, {"data_dir", "\"~/bay\"", "not expanded"})) << all;
  EXPECT_TRUE(has_line(lines, {"security.api_keys[0].key", "same key as security.api_key"})) << all;
  EXPECT_TRUE(has_line(lines, {"security.api_keys[1]", "missing required key \"key\""})) << all;
  EXPECT_TRUE(has_line(lines, {"security.api_keys[2].owner", "must not be empty"})) << all;
  EXPECT_TRUE(has_line(lines, {"logging.level", "\"loud\""})) << all;
  EXPECT_TRUE(has_line(lines, {"logging.format", "\"xml\"", "text, json"})) << all;
  EXPECT_TRUE(has_line(lines, {"limits.max_json_body", "10", "minimum 1024"})) << all;
  EXPECT_TRUE(has_line(lines, {"limits.max_sandboxes_per_owner", "-1"})) << all;
  EXPECT_TRUE(has_line(lines, {"legacy.default_memory", "\"1k\"", "minimum of 16m"})) << all;
  EXPECT_TRUE(has_line(lines, {"legacy.default_cpus", "-1", "greater than 0"})) << all;
  EXPECT_TRUE(has_line(lines, {"legacy.max_ship_num", "0", "minimum 1"})) << all;
  EXPECT_TRUE(has_line(lines, {"legacy.access_token", "must not be empty"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].runtime_type", "gull", "not available"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].pids_limit", "2", "out of range 16.."})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].containers", "multi-container"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].env.BAY_SANDBOX_ID", "set by Bay"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].env.EMPTY", "null is not a string"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[0].env", "\"\" is not a valid variable name"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[1].id", "\"bad id!\"", "not a valid profile id"})) << all;
  EXPECT_TRUE(has_line(lines, {"profiles[2]", "missing required key \"id\""})) << all;
  // Key values are secrets and never appear in messages.
  EXPECT_EQ(all.find("same\""), std::string::npos) << all;
}

// A key given twice in one mapping is reported with both lines.
TEST_F(ConfigTest, DuplicateYamlKey) {
  use_file("server:\n  port: 8001\n  port: 8002\n");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"server.port", "duplicate key", ":2", ":3"})) << join(lines);
}

// YAML anchors and merge keys work for sharing settings between profiles.
TEST_F(ConfigTest, MergeKeys) {
  use_file(R"(base: &base
  image: ship:custom
  resources: {cpus: 2, memory: 2g}
  idle_timeout: 60
profiles:
  - <<: *base
    id: python-default
  - <<: *base
    id: short
    idle_timeout: 10
)");
  auto c = load_ok();
  ASSERT_EQ(c.profiles.size(), 2u);
  EXPECT_EQ(c.profiles[0].image, "ship:custom");
  EXPECT_EQ(c.profiles[0].idle_timeout, 60);
  EXPECT_EQ(c.profiles[1].resources.memory_bytes, 2ull << 30);
  EXPECT_EQ(c.profiles[1].idle_timeout, 10);  // explicit keys beat merged ones
}

// Profile env keeps configuration order (it becomes .bay_env.sh line order, §14.4) and
// values stay text: numbers and booleans are not reformatted.
TEST_F(ConfigTest, ProfileEnvOrderAndText) {
  use_file(R"(profiles:
  - id: python-default
    env:
      ZETA: last-alphabetically
      ALPHA: "1"
      MIDDLE: 010
      FLAG: yes
      EMPTY: ""
)");
  auto c = load_ok();
  const auto& env = c.profiles[0].env;
  ASSERT_EQ(env.size(), 5u);
  EXPECT_EQ(env[0], (std::pair<std::string, std::string>{"ZETA", "last-alphabetically"}));
  EXPECT_EQ(env[1], (std::pair<std::string, std::string>{"ALPHA", "1"}));
  EXPECT_EQ(env[2], (std::pair<std::string, std::string>{"MIDDLE", "010"}));
  EXPECT_EQ(env[3], (std::pair<std::string, std::string>{"FLAG", "yes"}));
  EXPECT_EQ(env[4], (std::pair<std::string, std::string>{"EMPTY", ""}));
}

// Profile fields decode with their defaults (§5.2) and extensions.
TEST_F(ConfigTest, ProfileFieldsAndDefaults) {
  use_file(R"(profiles:
  - id: python-default
  - id: full
    description: "All fields"
    image: registry/ship:1.2
    runtime_type: ship
    runtime_port: 9000
    resources: {cpus: 0.25, memory: 512MB}
    capabilities: [python, shell]
    idle_timeout: 0
    network: outbound
    warm_pool_size: 2
    pids_limit: 64
    tmp_size: 64m
)");
  auto c = load_ok();
  const Profile& d = c.profiles[0];
  EXPECT_EQ(d.idle_timeout, 1800);  // §5.2 default for configured profiles
  EXPECT_EQ(d.capabilities, (std::vector<std::string>{"filesystem", "shell", "python"}));
  EXPECT_FALSE(d.description.has_value());
  EXPECT_EQ(d.pids_limit, 512);
  EXPECT_EQ(d.tmp_size_bytes, 256ull << 20);
  const Profile* f = c.find_profile("full");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->description, "All fields");
  EXPECT_EQ(f->image, "registry/ship:1.2");
  EXPECT_EQ(f->runtime_port, 9000);
  EXPECT_EQ(f->resources.cpus, 0.25);
  EXPECT_EQ(f->resources.memory, "512MB");  // echoed as configured
  EXPECT_EQ(f->resources.memory_bytes, 512ull << 20);
  EXPECT_TRUE(f->has_capability("python"));
  EXPECT_FALSE(f->has_capability("filesystem"));
  EXPECT_EQ(f->idle_timeout, 0);
  EXPECT_EQ(f->network, "outbound");
  EXPECT_EQ(f->warm_pool_size, 2);
  EXPECT_EQ(f->pids_limit, 64);
  EXPECT_EQ(f->tmp_size_bytes, 64ull << 20);
  EXPECT_EQ(c.find_profile("nope"), nullptr);
}

// Problems from the environment and from flags name the variable or the flag.
TEST_F(ConfigTest, ProblemOrigins) {
  env("BAY_DRIVER__TYPE", "kubernetes");
  set("cargo.default_size_limit_mb", "0");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"driver.type", "\"kubernetes\"", "(env BAY_DRIVER__TYPE)"}))
      << join(lines);
  EXPECT_TRUE(
      has_line(lines, {"cargo.default_size_limit_mb", "(--set cargo.default_size_limit_mb)"}))
      << join(lines);
}

// The error carries the lines as a list too, for callers that render them differently.
TEST_F(ConfigTest, ProblemsInDetails) {
  env("BAY_SERVER__PORT", "x");
  env("BAY_GC__INTERVAL_SECONDS", "0");
  auto r = load_config(opts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(r.error().details.contains("problems"));
  EXPECT_EQ(r.error().details.at("problems").as_array().size(), 2u);
}

}  // namespace
}  // namespace shipyard::bay::testing
