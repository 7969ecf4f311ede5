#include "bay/drivers/runtime_record.hpp"

#include <charconv>

#include "bay/drivers/sandbox_plan.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

namespace {

template <typename T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string format_runtime_id(const ProcRuntimeId& id) {
  return "proc:" + std::to_string(id.pid) + ":" + std::to_string(id.start_time) + ":" +
         std::to_string(id.init_pid) + ":" + std::to_string(id.init_start_time) + ":" +
         id.session_id;
}

std::optional<ProcRuntimeId> parse_runtime_id(std::string_view text) {
  auto parts = split(text, ':');
  if (parts.size() != 6 || parts[0] != "proc") return std::nullopt;
  ProcRuntimeId id;
  if (!parse_number(parts[1], id.pid) || !parse_number(parts[2], id.start_time) ||
      !parse_number(parts[3], id.init_pid) || !parse_number(parts[4], id.init_start_time)) {
    return std::nullopt;
  }
  id.session_id = std::string(parts[5]);
  if (id.pid <= 0 || id.init_pid <= 0 || !is_safe_id(id.session_id)) return std::nullopt;
  return id;
}

std::string to_json_text(const RuntimeRecord& r) {
  json::object o;
  o["session_id"] = r.session_id;
  o["sandbox_id"] = r.sandbox_id;
  o["instance_id"] = r.instance_id;
  o["runtime_id"] = r.runtime_id;
  o["endpoint"] = r.endpoint;
  json::array cg;
  for (const auto& c : r.cgroups) cg.emplace_back(c);
  o["cgroups"] = std::move(cg);
  o["started_at"] = r.started_at;
  return to_json(o);
}

std::optional<RuntimeRecord> parse_runtime_record(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  RuntimeRecord r;
  auto str = [&](const char* key, std::string& out) {
    const auto* f = o.if_contains(key);
    if (f == nullptr || !f->is_string()) return false;
    out = std::string(f->as_string());
    return true;
  };
  if (!str("session_id", r.session_id) || !str("instance_id", r.instance_id) ||
      !str("runtime_id", r.runtime_id) || !str("endpoint", r.endpoint)) {
    return std::nullopt;
  }
  str("sandbox_id", r.sandbox_id);
  if (const auto* c = o.if_contains("cgroups"); c != nullptr && c->is_array()) {
    for (const auto& e : c->as_array()) {
      if (e.is_string()) r.cgroups.emplace_back(e.as_string());
    }
  }
  if (const auto* t = o.if_contains("started_at"); t != nullptr && t->is_int64()) {
    r.started_at = t->as_int64();
  }
  return r;
}

std::optional<pid_t> parse_bwrap_child_pid(std::string_view info) {
  // bwrap writes a JSON object and closes the descriptor; wait for the whole object.
  if (info.find('}') == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(info, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* p = v.as_object().if_contains("child-pid");
  if (p == nullptr || !p->is_int64() || p->as_int64() <= 0) return std::nullopt;
  return static_cast<pid_t>(p->as_int64());
}

}  // namespace shipyard::bay
