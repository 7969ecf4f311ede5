#include "bay/api/views.hpp"

#include <algorithm>

#include "bay/domain/clock.hpp"

namespace shipyard::bay {

json::value timestamp_or_null(const std::optional<TimePoint>& t) {
  if (t) return json::string(format_timestamp(*t));
  return nullptr;
}

namespace {
json::value opt(const std::optional<std::string>& s) {
  if (s) return json::string(*s);
  return nullptr;
}
json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
}  // namespace

json::array ship_capabilities(const Profile& p) {
  std::vector<std::string> caps;
  for (const auto& c : p.capabilities) {
    if (c == "filesystem" || c == "python" || c == "shell") caps.push_back(c);
  }
  std::sort(caps.begin(), caps.end());
  return strings(caps);
}

json::object sandbox_json(const SandboxState& s, std::optional<json::array> containers) {
  json::object o{{"id", s.sandbox.id},
                 {"status", s.status},
                 {"profile", s.sandbox.profile},
                 {"cargo_id", s.sandbox.cargo_id},
                 {"capabilities", s.profile ? strings(s.profile->capabilities) : json::array{}},
                 {"created_at", format_timestamp(s.sandbox.created_at)},
                 {"expires_at", timestamp_or_null(s.sandbox.expires_at)},
                 {"idle_expires_at", timestamp_or_null(s.session.idle_expires_at)}};
  if (containers) {
    o["containers"] = std::move(*containers);
  } else {
    o["containers"] = nullptr;
  }
  return o;
}

json::object execution_json(const Execution& e) {
  return json::object{
      {"id", e.id},
      {"session_id", opt(e.session_id)},
      {"exec_type", e.exec_type},
      {"code", e.code},
      {"success", e.success},
      {"execution_time_ms", e.execution_time_ms},
      {"output", opt(e.output)},
      {"error", opt(e.error)},
      {"payload_ref", opt(e.payload_ref)},
      {"description", opt(e.description)},
      {"tags", e.tags && !e.tags->empty() ? json::value(json::string(*e.tags)) : nullptr},
      {"notes", opt(e.notes)},
      {"learn_enabled", e.learn_enabled},
      {"learn_status", opt(e.learn_status)},
      {"learn_error", opt(e.learn_error)},
      {"learn_processed_at", timestamp_or_null(e.learn_processed_at)},
      {"created_at", format_timestamp(e.created_at)}};
}

json::object cargo_json(const Cargo& c) {
  // "docker_volume" whatever the storage: Shipyard Neo clients compare against it (§10.1).
  json::value managed_by = nullptr;
  if (c.managed_by_sandbox_id) managed_by = json::string(*c.managed_by_sandbox_id);
  return json::object{{"id", c.id},
                      {"managed", c.managed},
                      {"managed_by_sandbox_id", managed_by},
                      {"backend", "docker_volume"},
                      {"size_limit_mb", c.size_limit_mb},
                      {"created_at", format_timestamp(c.created_at)},
                      {"last_accessed_at", format_timestamp(c.last_accessed_at)}};
}

json::object profile_json(const Profile& p, bool detail) {
  json::object resources{{"cpus", p.resources.cpus}, {"memory", p.resources.memory}};
  json::object o{{"id", p.id},
                 {"image", p.image},
                 {"resources", resources},
                 {"capabilities", strings(p.capabilities)},
                 {"idle_timeout", p.idle_timeout},
                 {"description", detail ? opt(p.description) : json::value(nullptr)},
                 {"containers", nullptr}};
  if (detail) {
    std::vector<std::string> caps = p.capabilities;
    std::sort(caps.begin(), caps.end());
    o["containers"] = json::array{json::object{{"name", "ship"},
                                               {"runtime_type", p.runtime_type},
                                               {"capabilities", strings(caps)},
                                               {"resources", resources}}};
  }
  return o;
}

}  // namespace shipyard::bay
