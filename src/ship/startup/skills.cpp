#include "ship/startup/skills.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.hpp"
#include "ship/fs/ops.hpp"

namespace shipyard::ship {
namespace stdfs = std::filesystem;

namespace {

std::string unquote(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    std::string out;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '\\' && i + 2 < v.size()) {
        char n = v[++i];
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
      } else {
        out += v[i];
      }
    }
    return out;
  }
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    std::string out;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
      out += v[i];
      if (v[i] == '\'' && i + 2 < v.size() && v[i + 1] == '\'') ++i;  // '' is a quote
    }
    return out;
  }
  return std::string(v);
}

std::optional<std::string> read_small_file(const stdfs::path& p, std::size_t limit) {
  // Sized by the file itself: skill files are a few KiB, and a buffer of `limit` bytes
  // would touch (and keep) megabytes of memory for nothing.
  std::error_code ec;
  auto size = stdfs::file_size(p, ec);
  if (ec || size > limit) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data(static_cast<std::size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

}  // namespace

std::optional<FrontMatter> parse_front_matter(std::string_view text) {
  auto lines = split(text, '\n');
  auto clean = [](std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
  };
  if (lines.empty() || trim(clean(lines[0])) != "---") return std::nullopt;
  FrontMatter fm;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = clean(lines[i]);
    if (trim(l) == "---") {
      if (fm.name.empty()) return std::nullopt;
      return fm;
    }
    auto colon = l.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = trim(l.substr(0, colon));
    if (key == "name") fm.name = unquote(l.substr(colon + 1));
    if (key == "description") fm.description = unquote(l.substr(colon + 1));
  }
  return std::nullopt;
}

std::vector<SkillMeta> read_builtin_skills(const std::string& source_dir) {
  std::vector<SkillMeta> out;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(source_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    auto md = entry.path() / "SKILL.md";
    auto text = read_small_file(md, 1 << 20);
    if (!text) continue;
    auto fm = parse_front_matter(*text);
    if (!fm) continue;
    out.push_back(SkillMeta{fm->name, fm->description, md.string()});
  }
  std::sort(out.begin(), out.end(),
            [](const SkillMeta& a, const SkillMeta& b) { return a.name < b.name; });
  return out;
}

Status install_builtin_skills(const fs::Workspace& ws, const std::string& source_dir) {
  std::error_code ec;
  if (!stdfs::is_directory(source_dir, ec)) return {};  // an image without built-in skills
  for (const auto& skill : stdfs::directory_iterator(source_dir, ec)) {
    if (!skill.is_directory(ec)) continue;
    std::string name = skill.path().filename().string();
    std::string target = "skills/" + name;
    auto del = fs::delete_path(ws, target);
    if (!del && del.error().code != ErrorCode::kFileNotFound) {
      return std::move(del).error().with_context("replacing built-in skill " + name);
    }
    for (auto it = stdfs::recursive_directory_iterator(skill.path(), ec);
         !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      auto rel = stdfs::relative(it->path(), skill.path(), ec).string();
      auto content = read_small_file(it->path(), 16u << 20);
      if (!content) {
        return Error(ErrorCode::kInternal, "cannot read built-in skill file")
            .with_context(it->path().string());
      }
      auto perms = static_cast<unsigned>(it->status(ec).permissions()) & 0755u;
      auto r = fs::create_file(ws, target + "/" + rel, *content, perms | 0644u);
      if (!r) return std::move(r).error().with_context("installing built-in skill " + name);
    }
    if (ec) return system_error("reading built-in skills", ec.value());
  }
  return {};
}

}  // namespace shipyard::ship
