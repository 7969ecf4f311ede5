// Size parsing (§5.2 resources.memory) and the example configuration shipped in the repo.
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

// parse_memory: binary multiples, case-insensitive, k/m/g/t with optional b/i/ib.
TEST(ParseMemory, Table) {
  struct Case {
    const char* text;
    std::optional<std::uint64_t> bytes;
  };
  const std::uint64_t k = 1024, m = k * k, g = m * k;
  for (const auto& c : std::vector<Case>{
           {"0", 0},
           {"1073741824", 1073741824},
           {"512k", 512 * k},
           {"512K", 512 * k},
           {"128m", 128 * m},
           {"128M", 128 * m},
           {"1g", g},
           {"1G", g},
           {"2t", 2 * g * k},
           {"512mb", 512 * m},
           {"512MB", 512 * m},
           {"1gb", g},
           {"1Gi", g},
           {"1GiB", g},
           {"64kib", 64 * k},
           {"100b", 100},
           {"100B", 100},
           {" 1g ", g},
           {"007m", 7 * m},
           {"17179869183g", 17179869183ull * g},  // largest that fits
           {"", std::nullopt},
           {"m", std::nullopt},
           {"g1", std::nullopt},
           {"1.5g", std::nullopt},
           {"-1g", std::nullopt},
           {"+1g", std::nullopt},
           {"1 g", std::nullopt},
           {"1gg", std::nullopt},
           {"1bi", std::nullopt},
           {"1kbb", std::nullopt},
           {"1p", std::nullopt},
           {"1e3", std::nullopt},
           {"lots", std::nullopt},
           {"18446744073709551615", 18446744073709551615ull},
           {"18446744073709551616", std::nullopt},  // overflows
           {"17179869184g", std::nullopt},          // overflows after the shift
       }) {
    EXPECT_EQ(parse_memory(c.text), c.bytes) << '"' << c.text << '"';
  }
}

// Memory sizes in profiles keep their spelling for the API and are parsed for enforcement.
TEST_F(ConfigTest, ProfileMemoryFloor) {
  use_file("profiles:\n  - id: python-default\n    resources: {memory: 128k}\n");
  auto lines = problems();
  EXPECT_TRUE(has_line(lines, {"profiles[0].resources.memory", "\"128k\"", "minimum of 16m"}))
      << join(lines);
  use_file("profiles:\n  - id: python-default\n    resources: {memory: 16m}\n");
  EXPECT_EQ(load_ok().profiles[0].resources.memory_bytes, 16u << 20);
  use_file("profiles:\n  - id: python-default\n    resources: {memory: 2147483648}\n");
  auto c = load_ok();
  EXPECT_EQ(c.profiles[0].resources.memory, "2147483648");
  EXPECT_EQ(c.profiles[0].resources.memory_bytes, 2ull << 30);
}

// The shipped, fully commented example (Appendix A plus every other key) loads as is.
TEST_F(ConfigTest, ExampleConfigurationLoads) {
  opts.config_file = SHIPYARD_EXAMPLE_CONFIG;
  auto c = load_ok();
  EXPECT_EQ(c.config_file, SHIPYARD_EXAMPLE_CONFIG);
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 8001);
  EXPECT_EQ(c.security.api_key, "change-me");
  EXPECT_FALSE(c.security.allow_anonymous);
  EXPECT_FALSE(c.gc.enabled);
  EXPECT_FALSE(c.gc.run_on_startup);
  EXPECT_EQ(c.gc.instance_id, "bay-dev");
  EXPECT_TRUE(c.gc.orphan_container.enabled);
  EXPECT_EQ(c.data_dir, dir_ + "/data");
  EXPECT_EQ(c.sqlite_path(), dir_ + "/data/bay-dev.db");
  EXPECT_EQ(c.driver.type, "process");
  EXPECT_TRUE(c.legacy.enabled);
  EXPECT_EQ(c.legacy.max_ship_num, 10);
  EXPECT_EQ(c.legacy.behavior_after_max_ship, "reject");
  std::vector<std::string> ids;
  for (const auto& p : c.profiles) ids.push_back(p.id);
  EXPECT_EQ(ids,
            (std::vector<std::string>{"python-default", "python-only", "quick-reclaim", "small"}));
  const Profile& def = c.profiles[0];
  EXPECT_EQ(def.network, "outbound");
  ASSERT_FALSE(def.env.empty());
  EXPECT_EQ(def.env[0].first, "COMPANY_PIP_INDEX");
  EXPECT_EQ(c.find_profile("small")->resources.memory_bytes, 128u << 20);
  EXPECT_EQ(c.find_profile("quick-reclaim")->resources.cpus, 0.5);
  EXPECT_EQ(c.find_profile("quick-reclaim")->idle_timeout, 30);
  EXPECT_EQ(c.find_profile("python-only")->capabilities, (std::vector<std::string>{"python"}));
  // Only the default legacy token is worth a warning; the example has no unknown keys.
  for (const auto& w : c.warnings) {
    EXPECT_NE(w.find("legacy.access_token"), std::string::npos) << w;
  }
}

// The built-in list is the one §5.3 describes.
TEST(BuiltinProfiles, PythonDefault) {
  auto ps = builtin_profiles();
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].id, "python-default");
  EXPECT_EQ(ps[0].resources.memory_bytes, 1ull << 30);
  EXPECT_EQ(ps[0].idle_timeout, 300);
  EXPECT_TRUE(ps[0].has_capability(kCapabilityFilesystem));
  EXPECT_TRUE(ps[0].has_capability(kCapabilityShell));
  EXPECT_TRUE(ps[0].has_capability(kCapabilityPython));
  EXPECT_FALSE(ps[0].has_capability(kCapabilityBrowser));
}

}  // namespace
}  // namespace shipyard::bay::testing
