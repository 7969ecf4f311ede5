#include "ship/fs/path.hpp"

#include <vector>

namespace shipyard::ship::fs {
namespace {

// Splits on '/' dropping empty and "." components; ".." is kept for the caller to apply.
std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (!c.empty() && c != ".") out.push_back(c);
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string_view>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (!out.empty()) out += '/';
    out += parts[i];
  }
  return out;
}

std::vector<std::string_view> absolute_components(std::string_view path) {
  std::vector<std::string_view> stack;
  for (std::string_view c : components(path)) {
    if (c == "..") {
      if (!stack.empty()) stack.pop_back();
    } else {
      stack.push_back(c);
    }
  }
  return stack;
}

}  // namespace

Error escape_error(std::string_view root) {
  return Error(ErrorCode::kPathEscape,
               "Access denied: path must be within workspace " + std::string(root));
}

std::string normalize_absolute(std::string_view path) {
  return "/" + join(absolute_components(path), 0);
}

Result<std::string> normalize(std::string_view path, std::string_view root) {
  const std::string nroot = normalize_absolute(root);
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "Path must not be empty");
  if (path.size() > kMaxPathBytes) return Error(ErrorCode::kInvalidArgument, "Path is too long");
  if (path.find('\0') != std::string_view::npos) return escape_error(nroot);

  if (path.front() == '/') {
    std::vector<std::string_view> abs = absolute_components(path);
    std::vector<std::string_view> base = absolute_components(nroot);
    if (abs.size() < base.size()) return escape_error(nroot);
    for (std::size_t i = 0; i < base.size(); ++i) {
      if (abs[i] != base[i]) return escape_error(nroot);
    }
    std::string rel = join(abs, base.size());
    return rel.empty() ? std::string(".") : rel;
  }

  std::vector<std::string_view> stack;
  for (std::string_view c : components(path)) {
    if (c == "..") {
      if (stack.empty()) return escape_error(nroot);
      stack.pop_back();
    } else {
      stack.push_back(c);
    }
  }
  std::string rel = join(stack, 0);
  return rel.empty() ? std::string(".") : rel;
}

std::string join_display(std::string_view root, std::string_view rel) {
  std::string out(root);
  if (rel.empty() || rel == ".") return out;
  if (out.empty() || out.back() != '/') out += '/';
  out += rel;
  return out;
}

SplitPath split_parent(std::string_view rel) {
  std::size_t slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(rel)};
  return {std::string(rel.substr(0, slash)), std::string(rel.substr(slash + 1))};
}

}  // namespace shipyard::ship::fs
