#include "bay/config/config_tree.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shipyard::bay::config_detail {
namespace {

// Anchors can make a tree that refers to itself; real configurations are a few levels deep.
constexpr int kMaxDepth = 32;

class YamlConverter {
 public:
  YamlConverter(std::string source, std::vector<std::string>& problems)
      : source_(std::move(source)), problems_(problems) {}

  Node convert(const YAML::Node& y, int fallback_line, const std::string& path, int depth) {
    Node out;
    const int line = y.Mark().line >= 0 ? y.Mark().line + 1 : fallback_line;
    out.origin = line > 0 ? source_ + ":" + std::to_string(line) : source_;
    if (depth > kMaxDepth) {
      problems_.push_back(label(path) + ": nested too deeply (" + out.origin + ")");
      return out;
    }
    switch (y.Type()) {
      case YAML::NodeType::Scalar:
        out.kind = Node::Kind::kScalar;
        out.scalar = y.Scalar();
        break;
      case YAML::NodeType::Sequence: {
        out.kind = Node::Kind::kSequence;
        std::size_t i = 0;
        for (const auto& item : y) {
          out.items.push_back(
              convert(item, line, path + "[" + std::to_string(i++) + "]", depth + 1));
        }
        break;
      }
      case YAML::NodeType::Map: convert_map(y, line, path, depth, out); break;
      default: break;  // Null and Undefined
    }
    return out;
  }

 private:
  static std::string label(const std::string& path) { return path.empty() ? "(top level)" : path; }

  void convert_map(const YAML::Node& y, int line, const std::string& path, int depth, Node& out) {
    out.kind = Node::Kind::kMap;
    std::vector<Node> merges;
    for (const auto& kv : y) {
      const int key_line = kv.first.Mark().line >= 0 ? kv.first.Mark().line + 1 : line;
      if (!kv.first.IsScalar()) {
        problems_.push_back(label(path) + ": mapping keys must be plain strings (" + source_ + ":" +
                            std::to_string(key_line) + ")");
        continue;
      }
      const std::string key = kv.first.Scalar();
      const std::string child_path = path.empty() ? key : path + "." + key;
      Node value = convert(kv.second, key_line, child_path, depth + 1);
      if (key == "<<" && kv.first.Tag() == "?") {
        merges.push_back(std::move(value));
        continue;
      }
      if (Node* prev = out.find(key)) {
        problems_.push_back(child_path + ": duplicate key (" + prev->origin + " and " + source_ +
                            ":" + std::to_string(key_line) + ")");
        *prev = std::move(value);
        continue;
      }
      out.entries.emplace_back(key, std::move(value));
    }
    // YAML 1.1 merge keys: explicit keys win, then earlier merge sources win.
    for (auto& m : merges) {
      std::vector<Node*> sources;
      if (m.is_map()) sources.push_back(&m);
      if (m.is_sequence()) {
        for (auto& item : m.items) sources.push_back(&item);
      }
      if (sources.empty() ||
          !std::all_of(sources.begin(), sources.end(), [](const Node* s) { return s->is_map(); })) {
        problems_.push_back(label(path) +
                            ".<<: a merge key needs a mapping or a list of mappings (" + m.origin +
                            ")");
        continue;
      }
      for (Node* s : sources) {
        for (auto& [k, v] : s->entries) {
          if (out.find(k) == nullptr) out.entries.emplace_back(k, v);
        }
      }
    }
  }

  std::string source_;
  std::vector<std::string>& problems_;
};

Result<Node> convert_document(std::string_view text, const std::string& source,
                              std::vector<std::string>& problems) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalidArgument, source + ": YAML syntax error at line " +
                                                  std::to_string(e.mark.line + 1) + ", column " +
                                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  YamlConverter conv(source, problems);
  return conv.convert(doc, 0, "", 0);
}

}  // namespace

const Node* Node::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node* Node::find(std::string_view key) {
  for (auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

Node Node::text(std::string value, std::string origin) {
  Node n;
  n.kind = Kind::kScalar;
  n.scalar = std::move(value);
  n.origin = std::move(origin);
  n.from_text = true;
  return n;
}

Result<Node> load_yaml_file(const std::string& path, std::vector<std::string>& problems) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Error(ErrorCode::kInvalidArgument,
                 "cannot read configuration file " + path + ": " + std::strerror(err));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return Error(ErrorCode::kInvalidArgument, "cannot read configuration file " + path);
  }
  return convert_document(buf.str(), path, problems);
}

Result<Node> parse_yaml_text(std::string_view text, const std::string& origin) {
  std::vector<std::string> problems;
  auto r = convert_document(text, origin, problems);
  if (!r) return r;
  if (!problems.empty()) return Error(ErrorCode::kInvalidArgument, problems.front());
  // Line numbers inside a one-line variable only add noise.
  struct Relabel {
    const std::string& origin;
    void operator()(Node& n) const {
      n.origin = origin;
      for (auto& i : n.items) (*this)(i);
      for (auto& [k, v] : n.entries) (*this)(v);
    }
  };
  Relabel{origin}(*r);
  return r;
}

namespace {

// Makes `n` a mapping if it is absent or text that parses as one; false if it cannot be.
bool make_map(Node& n) {
  if (n.is_scalar() && n.from_text) {
    auto parsed = parse_yaml_text(n.scalar, n.origin);
    if (parsed && (parsed->is_map() || parsed->is_null())) n = std::move(*parsed);
  }
  if (n.is_null()) n.kind = Node::Kind::kMap;
  return n.is_map();
}

}  // namespace

std::optional<std::string> set_path(Node& root, const std::vector<std::string>& path, Node leaf) {
  Node* cur = &root;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!make_map(*cur)) {
      const std::vector<std::string> prefix(path.begin(), path.begin() + static_cast<long>(i));
      return "cannot set " + join_path(path) + ": " +
             (prefix.empty() ? std::string("the top level") : join_path(prefix)) +
             " is not a mapping (" + cur->origin + ")";
    }
    Node* next = cur->find(path[i]);
    if (i + 1 == path.size()) {
      if (next != nullptr) {
        *next = std::move(leaf);
      } else {
        cur->entries.emplace_back(path[i], std::move(leaf));
      }
      break;
    }
    if (next == nullptr) {
      Node fresh;
      fresh.origin = leaf.origin;
      cur->entries.emplace_back(path[i], std::move(fresh));
      next = &cur->entries.back().second;
    }
    cur = next;
  }
  return std::nullopt;
}

std::string join_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) {
    if (!out.empty()) out += '.';
    out += p;
  }
  return out;
}

}  // namespace shipyard::bay::config_detail
