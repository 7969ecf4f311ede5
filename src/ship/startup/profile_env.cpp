#include "ship/startup/profile_env.hpp"

#include "common/json.hpp"
#include "common/strings.hpp"

namespace shipyard::ship {

bool valid_env_name(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name.front())) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

Result<ProfileEnv> parse_profile_env(std::string_view value) {
  ProfileEnv out;
  auto add = [&](std::string name, std::string v) {
    // NUL cannot travel through an environment; such a value is refused as a whole.
    if (!valid_env_name(name) || v.find('\0') != std::string::npos) {
      out.skipped.push_back(std::move(name));
    } else {
      out.vars.push_back(shell::EnvVar{std::move(name), std::move(v)});
    }
  };
  std::string_view t = trim(value);
  if (t.empty()) return out;
  if (t.front() == '{') {
    boost::system::error_code ec;
    json::value v = json::parse(t, ec);
    if (ec || !v.is_object()) {
      return Error(ErrorCode::kInvalidArgument, "BAY_PROFILE_ENV is not a JSON object");
    }
    for (const auto& kv : v.as_object()) {
      if (kv.value().is_string()) {
        add(std::string(kv.key()), std::string(kv.value().as_string()));
      } else if (kv.value().is_null()) {
        out.skipped.emplace_back(kv.key());
      } else {
        // Numbers and booleans are written as their JSON text (e.g. 1, true).
        add(std::string(kv.key()), json::serialize(kv.value()));
      }
    }
    return out;
  }
  for (auto item : split(value, ':')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.skipped.emplace_back(item);
      continue;
    }
    add(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return out;
}

std::string render_env_file(const std::vector<shell::EnvVar>& vars) {
  std::string out(kEnvFileHeader);
  out += '\n';
  for (const auto& v : vars) {
    out += "export " + v.name + "=" + shell_quote(v.value) + "\n";
  }
  return out;
}

}  // namespace shipyard::ship
