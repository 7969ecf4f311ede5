#include "common/http/router.hpp"

namespace shipyard::http {

std::string_view PathParams::get(std::string_view name) const {
  for (const auto& [k, v] : values) {
    if (k == name) return v;
  }
  return {};
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;  // a '%' needs two hex digits
    int hi = hex(in[i + 1]);
    int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

namespace detail {

std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> out;
  for (auto seg : split_path(pattern)) out.emplace_back(seg);
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = path.find('/', start);
    if (pos == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, pos - start));
    start = pos + 1;
  }
}

bool match_route(const std::vector<std::string>& pattern,
                 const std::vector<std::string_view>& segments, std::string_view path,
                 PathParams& params) {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    bool is_param = p.size() >= 2 && p.front() == '{' && p.back() == '}';
    if (is_param && p.size() >= 3 && p[p.size() - 2] == '*') {
      // Rest parameter: everything from this segment on, including '/'.
      if (i >= segments.size()) return false;
      std::size_t offset = static_cast<std::size_t>(segments[i].data() - path.data());
      std::string decoded;
      if (!percent_decode(path.substr(offset), decoded) || decoded.empty()) return false;
      params.values.emplace_back(p.substr(1, p.size() - 3), std::move(decoded));
      return true;
    }
    if (i >= segments.size()) return false;
    if (is_param) {
      std::string decoded;
      if (segments[i].empty() || !percent_decode(segments[i], decoded)) return false;
      params.values.emplace_back(p.substr(1, p.size() - 2), std::move(decoded));
    } else if (p != segments[i]) {
      return false;
    }
  }
  return pattern.size() == segments.size();
}

}  // namespace detail
}  // namespace shipyard::http
