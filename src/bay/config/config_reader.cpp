#include "bay/config/config_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "bay/config/config.hpp"
#include "common/strings.hpp"

namespace shipyard::bay::config_detail {

std::optional<bool> to_bool(std::string_view text) {
  const auto t = trim(text);
  for (auto yes : {"true", "yes", "1"}) {
    if (iequals(t, yes)) return true;
  }
  for (auto no : {"false", "no", "0"}) {
    if (iequals(t, no)) return false;
  }
  return std::nullopt;
}

std::optional<std::int64_t> to_int(std::string_view text) {
  const auto t = trim(text);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

std::optional<double> to_double(std::string_view text) {
  const auto t = trim(text);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 80;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMax) out += "...";
  out += '"';
  return sanitize_utf8(out);
}

std::string describe(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull: return "null";
    case Node::Kind::kMap: return "a mapping";
    case Node::Kind::kSequence: return "a list";
    case Node::Kind::kScalar: break;
  }
  if (to_double(n.scalar) && trim(n.scalar) == n.scalar) return n.scalar;
  return quote(n.scalar);
}

void Context::problem(std::string_view path, const Node* at, std::string_view message) {
  std::string line(path);
  line += ": ";
  line += message;
  if (at != nullptr && !at->origin.empty()) line += " (" + at->origin + ")";
  problems.push_back(std::move(line));
}

const Node* Context::structured(const Node* n, std::string_view path) {
  if (n == nullptr || !n->is_scalar() || !n->from_text) return n;
  auto parsed = parse_yaml_text(n->scalar, n->origin);
  if (!parsed) {
    problem(path, n, "cannot parse the value as YAML/JSON: " + parsed.error().message);
    return nullptr;
  }
  parsed_.push_back(std::move(*parsed));
  return &parsed_.back();
}

Section::Section(Context& ctx, const Node* node, std::string path)
    : ctx_(ctx), path_(std::move(path)) {
  node = ctx_.structured(node, path_);
  if (node == nullptr || node->is_null()) return;
  if (!node->is_map()) {
    ctx_.problem(path_, node, describe(*node) + " is not a mapping");
    return;
  }
  map_ = node;
}

std::string Section::path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const Node* Section::take(std::string_view key) {
  if (std::find(taken_.begin(), taken_.end(), key) == taken_.end()) taken_.emplace_back(key);
  return map_ == nullptr ? nullptr : map_->find(key);
}

const Node* Section::scalar_or_report(std::string_view key, std::string_view what) {
  const Node* n = take(key);
  if (n == nullptr) return nullptr;
  if (n->is_null()) {
    ctx_.problem(path(key), n, "has no value (give " + std::string(what) + " or remove the key)");
    return nullptr;
  }
  if (!n->is_scalar()) {
    ctx_.problem(path(key), n, describe(*n) + " is not " + std::string(what));
    return nullptr;
  }
  return n;
}

bool Section::str(std::string_view key, std::string& out) {
  const Node* n = scalar_or_report(key, "a string");
  if (n == nullptr) return false;
  if (n->scalar.find('\0') != std::string::npos) {
    ctx_.problem(path(key), n, "contains a NUL character");
    return false;
  }
  out = n->scalar;
  return true;
}

bool Section::opt_str(std::string_view key, std::optional<std::string>& out) {
  const Node* n = take(key);
  if (n == nullptr) return false;
  if (n->is_null() || (n->is_scalar() && n->scalar.empty())) {
    out.reset();
    return true;
  }
  if (!n->is_scalar()) {
    ctx_.problem(path(key), n, describe(*n) + " is not a string");
    return false;
  }
  if (n->scalar.find('\0') != std::string::npos) {
    ctx_.problem(path(key), n, "contains a NUL character");
    return false;
  }
  out = n->scalar;
  return true;
}

bool Section::boolean(std::string_view key, bool& out) {
  const Node* n = scalar_or_report(key, "a boolean");
  if (n == nullptr) return false;
  auto v = to_bool(n->scalar);
  if (!v) {
    ctx_.problem(path(key), n, describe(*n) + " is not a boolean (true/false, yes/no, 1/0)");
    return false;
  }
  out = *v;
  return true;
}

bool Section::int64(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  const Node* n = scalar_or_report(key, "an integer");
  if (n == nullptr) return false;
  auto v = to_int(n->scalar);
  if (!v) {
    ctx_.problem(path(key), n, describe(*n) + " is not an integer");
    return false;
  }
  if (*v < min || *v > max) {
    if (max == std::numeric_limits<std::int64_t>::max()) {
      ctx_.problem(path(key), n,
                   describe(*n) + " is too small (minimum " + std::to_string(min) + ")");
    } else {
      ctx_.problem(
          path(key), n,
          describe(*n) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    }
    return false;
  }
  out = *v;
  return true;
}

bool Section::int32(std::string_view key, int& out, int min, int max) {
  std::int64_t v = 0;
  if (!int64(key, v, min, max)) return false;
  out = static_cast<int>(v);
  return true;
}

bool Section::uint32(std::string_view key, std::uint32_t& out, std::uint32_t min,
                     std::uint32_t max) {
  std::int64_t v = 0;
  if (!int64(key, v, min, max)) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

bool Section::number(std::string_view key, double& out) {
  const Node* n = scalar_or_report(key, "a number");
  if (n == nullptr) return false;
  auto v = to_double(n->scalar);
  if (!v) {
    ctx_.problem(path(key), n, describe(*n) + " is not a number");
    return false;
  }
  out = *v;
  return true;
}

bool Section::size(std::string_view key, std::uint64_t& out, std::uint64_t min) {
  const Node* n = scalar_or_report(key, "a size");
  if (n == nullptr) return false;
  auto v = parse_memory(n->scalar);
  if (!v) {
    ctx_.problem(path(key), n,
                 describe(*n) + " is not a size (bytes, or a number with a k, m, g or t suffix, " +
                     "e.g. 512m)");
    return false;
  }
  if (*v < min) {
    ctx_.problem(path(key), n,
                 describe(*n) + " is too small (minimum " + std::to_string(min) + " bytes)");
    return false;
  }
  out = *v;
  return true;
}

bool Section::choice(std::string_view key, std::string& out,
                     const std::vector<std::string>& allowed) {
  const Node* n = scalar_or_report(key, "a string");
  if (n == nullptr) return false;
  for (const auto& a : allowed) {
    if (n->scalar == a) {
      out = a;
      return true;
    }
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  ctx_.problem(path(key), n, describe(*n) + " is not one of: " + list);
  return false;
}

Section Section::sub(std::string_view key) {
  const Node* n = take(key);
  return Section(ctx_, n, path(key));
}

const Node* Section::list(std::string_view key) {
  const Node* n = ctx_.structured(take(key), path(key));
  if (n == nullptr || n->is_null()) return nullptr;
  if (!n->is_sequence()) {
    ctx_.problem(path(key), n, describe(*n) + " is not a list");
    return nullptr;
  }
  return n;
}

std::vector<std::string> Section::untaken() const {
  std::vector<std::string> out;
  if (map_ == nullptr) return out;
  for (const auto& [k, v] : map_->entries) {
    if (std::find(taken_.begin(), taken_.end(), k) == taken_.end()) out.push_back(k);
  }
  return out;
}

void Section::finish() {
  if (map_ == nullptr) return;
  std::string known;
  for (const auto& k : taken_) known += (known.empty() ? "" : ", ") + k;
  for (const auto& k : untaken()) {
    ctx_.problem(path(k), map_->find(k), "unknown key (known keys: " + known + ")");
  }
}

}  // namespace shipyard::bay::config_detail
