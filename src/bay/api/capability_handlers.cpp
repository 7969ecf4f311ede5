// Capability routes (bay-api-v1.md §8, §9), checked in the order of §2.11:
// auth → sandbox → schema → capability → path → TTL → session → runtime.
#include "bay/api/routes.hpp"
#include "bay/domain/rules.hpp"

namespace shipyard::bay {
namespace {
namespace asio = boost::asio;
using http::bhttp::verb;
using Awaitable = asio::awaitable<Result<std::optional<Reply>>>;

std::string sandbox_id(const http::Exchange& ex) { return std::string(ex.params().get("id")); }

// Reads the common exec fields (§8.3/§8.4).
ExecRequest read_exec(FieldReader& r, std::string_view code_field) {
  ExecRequest req;
  req.code = r.required_string(code_field);
  req.timeout = r.int_or("timeout", 30, 1, 300);
  req.include_code = r.bool_or("include_code", false);
  req.description = r.optional_string("description");
  req.tags = r.optional_string("tags");
  return req;
}

Awaitable python_exec(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  auto body = co_await read_json(ex, app, false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  ExecRequest req = read_exec(r, "code");
  if (!r.ok()) co_return r.error();
  if (auto s = app.sandboxes.check_capability(*t, kCapabilityPython); !s)
    co_return std::move(s).error();
  if (auto s = app.sandboxes.check_not_expired(*t); !s) co_return std::move(s).error();
  auto res = co_await app.capabilities.python(*t, std::move(req));
  if (!res) co_return std::move(res).error();
  co_return Reply::ok(std::move(*res));
}

Awaitable shell_exec(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  auto body = co_await read_json(ex, app, false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  ExecRequest req = read_exec(r, "command");
  auto cwd = r.optional_string("cwd");
  if (!r.ok()) co_return r.error();
  if (cwd) {
    if (auto s = check_path_field("body", "cwd", *cwd); !s) co_return std::move(s).error();
  }
  if (auto s = app.sandboxes.check_capability(*t, kCapabilityShell); !s)
    co_return std::move(s).error();
  if (cwd) {
    auto norm = normalize_workspace_path(*cwd, "cwd");
    if (!norm) co_return std::move(norm).error();
    req.cwd = *norm;
  }
  if (auto s = app.sandboxes.check_not_expired(*t); !s) co_return std::move(s).error();
  auto res = co_await app.capabilities.shell(*t, std::move(req));
  if (!res) co_return std::move(res).error();
  co_return Reply::ok(std::move(*res));
}

// The gate shared by the filesystem routes once the schema is valid.
Result<std::string> fs_gate(BayApp& app, const CallTarget& t, std::string_view raw_path,
                            std::string_view location = "query") {
  // Query values are percent-decoded bytes; JSON strings are valid UTF-8 by parsing.
  if (auto s = check_path_field(location, "path", raw_path); !s) return std::move(s).error();
  if (auto s = app.sandboxes.check_capability(t, kCapabilityFilesystem); !s) {
    return std::move(s).error();
  }
  auto path = normalize_workspace_path(raw_path, "path");
  if (!path) return path;
  if (auto s = app.sandboxes.check_not_expired(t); !s) return std::move(s).error();
  return path;
}

Error missing_query(std::string_view name) {
  return schema_error("query", name, "Field required", "missing");
}

Awaitable read_file(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  auto raw = ex.query("path");
  if (!raw) co_return missing_query("path");
  auto path = fs_gate(app, *t, *raw);
  if (!path) co_return std::move(path).error();
  auto res = co_await app.capabilities.read_file(*t, *path);
  if (!res) co_return std::move(res).error();
  co_return Reply::ok(std::move(*res));
}

Awaitable write_file(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  auto body = co_await read_json(ex, app, false);
  if (!body) co_return std::move(body).error();
  FieldReader r(*body);
  std::string raw = r.required_string("path");
  std::string content = r.required_string("content");
  if (!r.ok()) co_return r.error();
  auto path = fs_gate(app, *t, raw, "body");
  if (!path) co_return std::move(path).error();
  auto res = co_await app.capabilities.write_file(*t, *path, std::move(content));
  if (!res) co_return std::move(res).error();
  co_return Reply::ok(std::move(*res));
}

Awaitable delete_file(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  auto raw = ex.query("path");
  if (!raw) co_return missing_query("path");
  auto path = fs_gate(app, *t, *raw);
  if (!path) co_return std::move(path).error();
  auto res = co_await app.capabilities.delete_file(*t, *path);
  if (!res) co_return std::move(res).error();
  co_return Reply::ok(std::move(*res));
}

Awaitable list_dir(http::Exchange& ex, BayApp& app, const std::string& owner) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  QueryReader q(ex);
  std::string raw = q.string("path").value_or(".");
  bool hidden = q.boolean("show_hidden", false);
  if (!q.ok()) co_return q.error();
  auto path = fs_gate(app, *t, raw);
  if (!path) co_return std::move(path).error();
  auto res = co_await app.capabilities.list_dir(*t, *path, hidden);
  if (!res) co_return std::move(res).error();
  co_return Reply::ok(std::move(*res));
}

// §9: the browser routes exist and apply the capability gate. No configurable profile
// can carry `browser` yet, so every valid call ends at the gate without compute.
Awaitable browser_gate(http::Exchange& ex, BayApp& app, const std::string& owner, bool has_body,
                       std::string_view required_field, bool list_field) {
  auto t = co_await app.sandboxes.lookup(owner, sandbox_id(ex));
  if (!t) co_return std::move(t).error();
  if (has_body) {
    auto body = co_await read_json(ex, app, required_field.empty());
    if (!body) co_return std::move(body).error();
    FieldReader r(*body);
    if (!required_field.empty()) {
      if (list_field) {
        const auto* cmds = r.optional_array(required_field);
        if (!body->contains(required_field)) {
          r.violation(required_field, "Field required", "missing");
        } else if (cmds != nullptr) {
          if (cmds->empty())
            r.violation(required_field, "List should have at least 1 item", "too_short");
          for (const auto& c : *cmds) {
            if (!c.is_string())
              r.violation(required_field, "Input should be a valid string", "string_type");
          }
        }
      } else {
        (void)r.required_string(required_field);
      }
    }
    (void)r.int_or("timeout", 30, 1, list_field || required_field.empty() ? 600 : 300);
    (void)r.bool_or("learn", false);
    (void)r.bool_or("include_trace", false);
    (void)r.bool_or("stop_on_error", true);
    (void)r.optional_string("description");
    (void)r.optional_string("tags");
    if (!r.ok()) co_return r.error();
  }
  if (auto s = app.sandboxes.check_capability(*t, kCapabilityBrowser); !s)
    co_return std::move(s).error();
  Error e(ErrorCode::kCapabilityNotSupported, "Browser automation is not available on this Bay");
  e.details["capability"] = kCapabilityBrowser;
  co_return e;
}

}  // namespace

void add_capability_routes(BayRouter& r, BayApp& app) {
  r.add(verb::post, "/v1/sandboxes/{id}/python/exec", v1_route(app, python_exec));
  r.add(verb::post, "/v1/sandboxes/{id}/shell/exec", v1_route(app, shell_exec));
  r.add(verb::get, "/v1/sandboxes/{id}/filesystem/files", v1_route(app, read_file));
  r.add(verb::put, "/v1/sandboxes/{id}/filesystem/files", v1_route(app, write_file));
  r.add(verb::delete_, "/v1/sandboxes/{id}/filesystem/files", v1_route(app, delete_file));
  r.add(verb::get, "/v1/sandboxes/{id}/filesystem/directories", v1_route(app, list_dir));
  r.add(verb::post, "/v1/sandboxes/{id}/browser/exec",
        v1_route(app, [](http::Exchange& ex, BayApp& a, const std::string& o) {
          return browser_gate(ex, a, o, true, "cmd", false);
        }));
  r.add(verb::post, "/v1/sandboxes/{id}/browser/exec_batch",
        v1_route(app, [](http::Exchange& ex, BayApp& a, const std::string& o) {
          return browser_gate(ex, a, o, true, "commands", true);
        }));
  r.add(verb::post, "/v1/sandboxes/{id}/browser/skills/{skill_key}/run",
        v1_route(app, [](http::Exchange& ex, BayApp& a, const std::string& o) {
          return browser_gate(ex, a, o, true, "", false);
        }));
  r.add(verb::get, "/v1/sandboxes/{id}/browser/traces/{trace_ref*}",
        v1_route(app, [](http::Exchange& ex, BayApp& a, const std::string& o) {
          return browser_gate(ex, a, o, false, "", false);
        }));
}

}  // namespace shipyard::bay
