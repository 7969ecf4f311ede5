// Shared fixture: every test loads from its own temporary directory, with an empty
// environment and a system config path that does not exist, so nothing on the host
// (./config.yaml, /etc/bay/config.yaml, the real environment) leaks in.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "bay/config/config.hpp"

namespace shipyard::bay::testing {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bay-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    opts.working_dir = dir_;
    opts.system_config_file = dir_ + "/etc-bay-config.yaml";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Writes `text` to <tmp>/<name> and returns the absolute path.
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // Writes the file and names it with --config.
  void use_file(const std::string& text, const std::string& name = "bay.yaml") {
    opts.config_file = write(name, text);
  }
  void env(const std::string& name, const std::string& value) {
    opts.environment.emplace_back(name, value);
  }
  void set(const std::string& key, const std::string& value) {
    opts.overrides.emplace_back(key, value);
  }

  BayConfig load_ok() {
    auto r = load_config(opts);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : BayConfig{};
  }
  // The problem lines of a load that must fail.
  std::vector<std::string> problems() {
    auto r = load_config(opts);
    EXPECT_FALSE(r.ok()) << "configuration unexpectedly loaded";
    std::vector<std::string> out;
    if (r.ok()) return out;
    std::string msg = r.error().message;
    std::size_t pos = 0;
    while (pos <= msg.size()) {
      auto nl = msg.find('\n', pos);
      if (nl == std::string::npos) nl = msg.size();
      out.push_back(msg.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }

  std::string dir_;
  LoadOptions opts;
};

// True when some line contains every fragment.
inline bool has_line(const std::vector<std::string>& lines,
                     std::initializer_list<std::string> fragments) {
  for (const auto& l : lines) {
    bool all = true;
    for (const auto& f : fragments) all = all && l.find(f) != std::string::npos;
    if (all) return true;
  }
  return false;
}

inline std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace shipyard::bay::testing
