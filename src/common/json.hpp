// JSON helpers over Boost.JSON: bounded parsing and a field reader that collects
// request-schema violations (422) the way common tooling reports them.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace shipyard {

namespace json = boost::json;

// Parses a request body that must be a JSON object. An empty body is `{}` when
// `empty_is_object` is set; anything else malformed is a kSchema error.
Result<json::object> parse_object(std::string_view body, bool empty_is_object = false);

// Serialises compactly.
std::string to_json(const json::value& v);

// Reads typed fields from a JSON object, recording every violation instead of stopping
// at the first. Missing optional fields and explicit nulls both read as "absent".
// Integers accept JSON integers and integral floats (30.0), as lenient Python servers do.
class FieldReader {
 public:
  explicit FieldReader(const json::object& obj, std::string location = "body")
      : obj_(obj), location_(std::move(location)) {}

  std::string required_string(std::string_view key);
  std::optional<std::string> optional_string(std::string_view key);
  std::string string_or(std::string_view key, std::string_view fallback);

  std::optional<std::int64_t> optional_int(std::string_view key, std::int64_t min = INT64_MIN,
                                           std::int64_t max = INT64_MAX);
  std::int64_t int_or(std::string_view key, std::int64_t fallback, std::int64_t min = INT64_MIN,
                      std::int64_t max = INT64_MAX);

  std::optional<double> optional_number(std::string_view key);
  bool bool_or(std::string_view key, bool fallback);
  std::optional<bool> optional_bool(std::string_view key);

  // A JSON object whose values are all strings (e.g. an environment map).
  std::optional<std::vector<std::pair<std::string, std::string>>> optional_string_map(
      std::string_view key);
  const json::object* optional_object(std::string_view key);
  const json::array* optional_array(std::string_view key);
  const json::value* optional_value(std::string_view key);

  // Records a violation found by the caller (e.g. an enum check).
  void violation(std::string_view key, std::string msg, std::string type);

  bool ok() const { return errors_.empty(); }
  // The kSchema error describing every violation; only meaningful when !ok().
  Error error() const;

 private:
  const json::value* find(std::string_view key) const;
  void type_error(std::string_view key, std::string_view expected);

  const json::object& obj_;
  std::string location_;
  json::array errors_;
};

// Builds a single-violation schema error (e.g. for a missing multipart field).
Error schema_error(std::string_view location, std::string_view field, std::string msg,
                   std::string type);

}  // namespace shipyard
