#include "bay/api/routes.hpp"

#include <charconv>

#include "bay/api/errors.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

http::Handler v1_route(BayApp& app, V1Handler h) {
  return [&app, h = std::move(h)](http::Exchange& ex) -> boost::asio::awaitable<void> {
    assign_request_id(ex);
    auto owner =
        app.auth.authenticate(ex.header(http::bhttp::field::authorization), ex.header("X-Owner"));
    if (!owner) {
      co_await ex.respond_error(owner.error());
      co_return;
    }
    auto r = co_await h(ex, app, *owner);
    if (!r) {
      co_await ex.respond_error(r.error());
    } else if (*r) {
      Reply& reply = **r;
      if (reply.no_content) {
        co_await ex.respond(http::Response::no_content());
      } else if (reply.raw) {
        http::Response res;
        res.status = reply.status;
        res.body = std::move(*reply.raw);
        co_await ex.respond(std::move(res));
      } else {
        co_await ex.respond(http::Response::json(reply.status, reply.body));
      }
    }
  };
}

boost::asio::awaitable<Result<json::object>> read_json(http::Exchange& ex, BayApp& app,
                                                       bool optional_body) {
  auto body = co_await ex.read_body(app.config.max_json_body);
  if (!body) co_return std::move(body).error();
  if (approx_json_values(*body) > kMaxJsonValues) {
    co_return schema_error(
        "body", "",
        "JSON document has too many values (limit " + std::to_string(kMaxJsonValues) + ")",
        "too_many_values");
  }
  co_return parse_object(*body, optional_body);
}

std::size_t approx_json_values(std::string_view text) {
  std::size_t n = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == '[' || c == '{' || c == ':') {
      ++n;
    }
  }
  return n;
}

Status check_path_field(std::string_view location, std::string_view field, std::string_view value) {
  if (value.size() > kMaxPathBytes) {
    return schema_error(
        location, field,
        "String should have at most " + std::to_string(kMaxPathBytes) + " characters",
        "string_too_long");
  }
  if (is_valid_utf8(value)) return {};
  return schema_error(location, field, "Input should be a valid UTF-8 string", "string_unicode");
}

std::optional<std::string> idempotency_key(const http::Exchange& ex) {
  auto it = ex.request_header().find("Idempotency-Key");
  if (it == ex.request_header().end()) return std::nullopt;
  return std::string(it->value());
}

void QueryReader::violation(std::string_view name, std::string msg, std::string type) {
  json::array loc{"query", name};
  errors_.push_back(
      json::object{{"loc", std::move(loc)}, {"msg", std::move(msg)}, {"type", std::move(type)}});
}

Error QueryReader::error() const {
  Error e(ErrorCode::kSchema, "Request validation failed");
  e.details["errors"] = errors_;
  return e;
}

std::optional<std::string> QueryReader::string(std::string_view name) { return ex_.query(name); }

std::int64_t QueryReader::integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                                  std::int64_t max) {
  auto v = ex_.query(name);
  if (!v) return fallback;
  std::int64_t n = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || r.ec != std::errc() || r.ptr != v->data() + v->size()) {
    violation(name, "Input should be a valid integer", "int_parsing");
    return fallback;
  }
  if (n < min) {
    violation(name, "Input should be greater than or equal to " + std::to_string(min),
              "greater_than_equal");
    return fallback;
  }
  if (n > max) {
    violation(name, "Input should be less than or equal to " + std::to_string(max),
              "less_than_equal");
    return fallback;
  }
  return n;
}

std::optional<bool> QueryReader::optional_boolean(std::string_view name) {
  auto v = ex_.query(name);
  if (!v) return std::nullopt;
  if (iequals(*v, "true") || *v == "1") return true;
  if (iequals(*v, "false") || *v == "0") return false;
  violation(name, "Input should be a valid boolean", "bool_parsing");
  return std::nullopt;
}

bool QueryReader::boolean(std::string_view name, bool fallback) {
  return optional_boolean(name).value_or(fallback);
}

std::optional<std::string> QueryReader::choice(std::string_view name,
                                               const std::vector<std::string>& allowed) {
  auto v = ex_.query(name);
  if (!v) return std::nullopt;
  for (const auto& a : allowed) {
    if (*v == a) return v;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "'" : ", '") + a + "'";
  violation(name, "Input should be " + list, "enum");
  return std::nullopt;
}

BayRouter make_router(BayApp& app) {
  BayRouter r;
  add_system_routes(r, app);
  add_sandbox_routes(r, app);
  add_capability_routes(r, app);
  add_transfer_routes(r, app);
  add_history_routes(r, app);
  add_cargo_routes(r, app);
  add_admin_routes(r, app);
  add_skill_routes(r, app);
  add_legacy_routes(r, app);
  return r;
}

}  // namespace shipyard::bay
