#include "common/json.hpp"

#include <cmath>

namespace shipyard {

Result<json::object> parse_object(std::string_view body, bool empty_is_object) {
  if (body.empty() && empty_is_object) return json::object{};
  json::parse_options opts;
  opts.max_depth = 64;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) {
    return schema_error("body", "", "Invalid JSON: " + ec.message(), "json_invalid");
  }
  if (!v.is_object()) {
    return schema_error("body", "", "Input should be a valid dictionary or object",
                        "model_attributes_type");
  }
  return std::move(v.as_object());
}

std::string to_json(const json::value& v) { return json::serialize(v); }

Error schema_error(std::string_view location, std::string_view field, std::string msg,
                   std::string type) {
  json::array loc;
  loc.emplace_back(location);
  if (!field.empty()) loc.emplace_back(field);
  json::array errors;
  errors.push_back(json::object{{"loc", std::move(loc)}, {"msg", msg}, {"type", std::move(type)}});
  Error e(ErrorCode::kSchema, "Request validation failed");
  e.details["errors"] = std::move(errors);
  e.context = std::move(msg);
  return e;
}

const json::value* FieldReader::find(std::string_view key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

void FieldReader::violation(std::string_view key, std::string msg, std::string type) {
  json::array loc;
  loc.emplace_back(location_);
  loc.emplace_back(key);
  errors_.push_back(
      json::object{{"loc", std::move(loc)}, {"msg", std::move(msg)}, {"type", std::move(type)}});
}

void FieldReader::type_error(std::string_view key, std::string_view expected) {
  violation(key, "Input should be a valid " + std::string(expected),
            std::string(expected) + "_type");
}

Error FieldReader::error() const {
  Error e(ErrorCode::kSchema, "Request validation failed");
  e.details["errors"] = errors_;
  if (!errors_.empty()) {
    const auto& first = errors_.front().as_object();
    e.context = json::serialize(first.at("loc")) + ": " + std::string(first.at("msg").as_string());
  }
  return e;
}

std::string FieldReader::required_string(std::string_view key) {
  auto it = obj_.find(key);
  if (it == obj_.end()) {
    violation(key, "Field required", "missing");
    return {};
  }
  if (!it->value().is_string()) {
    type_error(key, "string");
    return {};
  }
  return std::string(it->value().as_string());
}

std::optional<std::string> FieldReader::optional_string(std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    type_error(key, "string");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

std::string FieldReader::string_or(std::string_view key, std::string_view fallback) {
  auto v = optional_string(key);
  return v ? std::move(*v) : std::string(fallback);
}

std::optional<std::int64_t> FieldReader::optional_int(std::string_view key, std::int64_t min,
                                                      std::int64_t max) {
  const json::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64()) {
    if (v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) {
      violation(key, "Input should be less than or equal to " + std::to_string(max),
                "less_than_equal");
      return std::nullopt;
    }
    n = static_cast<std::int64_t>(v->as_uint64());
  } else if (v->is_double()) {
    double d = v->as_double();
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9.0e18) {
      violation(key, "Input should be a valid integer, got a number with a fractional part",
                "int_from_float");
      return std::nullopt;
    }
    n = static_cast<std::int64_t>(d);
  } else {
    type_error(key, "integer");
    return std::nullopt;
  }
  if (n < min) {
    violation(key, "Input should be greater than or equal to " + std::to_string(min),
              "greater_than_equal");
    return std::nullopt;
  }
  if (n > max) {
    violation(key, "Input should be less than or equal to " + std::to_string(max),
              "less_than_equal");
    return std::nullopt;
  }
  return n;
}

std::int64_t FieldReader::int_or(std::string_view key, std::int64_t fallback, std::int64_t min,
                                 std::int64_t max) {
  auto v = optional_int(key, min, max);
  return v ? *v : fallback;
}

std::optional<double> FieldReader::optional_number(std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  type_error(key, "number");
  return std::nullopt;
}

std::optional<bool> FieldReader::optional_bool(std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    violation(key, "Input should be a valid boolean", "bool_type");
    return std::nullopt;
  }
  return v->as_bool();
}

bool FieldReader::bool_or(std::string_view key, bool fallback) {
  auto v = optional_bool(key);
  return v ? *v : fallback;
}

std::optional<std::vector<std::pair<std::string, std::string>>> FieldReader::optional_string_map(
    std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    violation(key, "Input should be a valid dictionary", "dict_type");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : v->as_object()) {
    if (!kv.value().is_string()) {
      violation(key, "Input should be a valid string (key " + std::string(kv.key()) + ")",
                "string_type");
      return std::nullopt;
    }
    out.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
  }
  return out;
}

const json::object* FieldReader::optional_object(std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    violation(key, "Input should be a valid dictionary", "dict_type");
    return nullptr;
  }
  return &v->as_object();
}

const json::array* FieldReader::optional_array(std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    violation(key, "Input should be a valid list", "list_type");
    return nullptr;
  }
  return &v->as_array();
}

const json::value* FieldReader::optional_value(std::string_view key) { return find(key); }

}  // namespace shipyard
