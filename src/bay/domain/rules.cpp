#include "bay/domain/rules.hpp"

#include <algorithm>
#include <set>

#include "common/random.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

std::string new_id(std::string_view prefix) { return std::string(prefix) + random_hex(12); }

Result<std::string> normalize_workspace_path(std::string_view raw, std::string_view field) {
  if (raw.empty()) return invalid_path(field, "empty_path", "Path must not be empty");
  if (raw.find('\0') != std::string_view::npos) {
    return invalid_path(field, "null_byte", "Path must not contain NUL bytes");
  }
  if (raw.front() == '/') {
    return invalid_path(field, "absolute_path", "Path must be relative to /workspace");
  }
  std::vector<std::string_view> parts;
  for (auto seg : split(raw, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.empty()) {
        return invalid_path(field, "path_traversal", "Path must not leave /workspace");
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(seg);
  }
  if (parts.empty()) return std::string(".");
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::optional<std::string> normalize_tags(std::string_view raw) {
  std::set<std::string> tags;
  for (auto part : split(raw, ',')) {
    auto t = trim(part);
    if (!t.empty()) tags.emplace(t);
  }
  if (tags.empty()) return std::nullopt;
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out += ',';
    out += t;
  }
  return out;
}

Error not_found(std::string_view resource, std::string_view id) {
  std::string label(resource);
  if (!label.empty())
    label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
  Error e(ErrorCode::kNotFound, label + " not found: " + std::string(id));
  e.details["resource"] = resource;
  e.details["id"] = id;
  return e;
}

Error validation_error(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

Error invalid_path(std::string_view field, std::string_view reason, std::string message) {
  if (message.empty()) message = "Invalid path";
  Error e(ErrorCode::kInvalidPath, std::move(message));
  e.details["field"] = field;
  e.details["reason"] = reason;
  return e;
}

Error capability_not_supported(std::string_view profile, std::string_view capability,
                               const std::vector<std::string>& available) {
  Error e(ErrorCode::kCapabilityNotSupported,
          "Profile '" + std::string(profile) +
              "' does not support capability: " + std::string(capability));
  e.details["capability"] = capability;
  boost::json::array av;
  for (const auto& a : available) av.emplace_back(a);
  e.details["available"] = std::move(av);
  return e;
}

Error quota_exceeded(std::string_view resource, std::int64_t limit, std::string message) {
  Error e(ErrorCode::kQuotaExceeded, std::move(message));
  e.details["resource"] = resource;
  e.details["limit"] = limit;
  return e;
}

Error conflict(std::string message, boost::json::object details) {
  return Error(ErrorCode::kConflict, std::move(message), std::move(details));
}

}  // namespace shipyard::bay
