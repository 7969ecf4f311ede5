#include "common/json.hpp"

#include <gtest/gtest.h>

namespace shipyard {
namespace {

// Malformed JSON and non-object bodies are schema violations (422), never crashes.
TEST(ParseObject, RejectsMalformedInput) {
  for (std::string_view body : {"{", "[]", "\"x\"", "nul", "{\"a\":}", ""}) {
    auto r = parse_object(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kSchema);
    EXPECT_TRUE(r.error().details.contains("errors"));
  }
  EXPECT_TRUE(parse_object("", true).ok());
}

// Deep nesting is refused instead of exhausting the stack.
TEST(ParseObject, BoundsDepth) {
  std::string deep = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_FALSE(parse_object(deep).ok());
}

// The reader collects every violation with its location and keeps defaults.
TEST(FieldReader, CollectsViolations) {
  auto obj = parse_object(R"({"a": 5, "b": "x", "t": 301, "f": 1.5, "m": {"k": 1}})").value();
  FieldReader r(obj);
  EXPECT_EQ(r.required_string("missing"), "");
  EXPECT_EQ(r.required_string("a"), "");
  EXPECT_EQ(r.int_or("t", 30, 1, 300), 30);
  EXPECT_FALSE(r.optional_int("f").has_value());
  EXPECT_FALSE(r.optional_string_map("m").has_value());
  ASSERT_FALSE(r.ok());
  auto err = r.error();
  EXPECT_EQ(err.code, ErrorCode::kSchema);
  const auto& errors = err.details.at("errors").as_array();
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].at("type"), "missing");
  EXPECT_EQ(errors[0].at("loc").as_array()[1], "missing");
  EXPECT_EQ(errors[2].at("type"), "less_than_equal");
}

// Well-typed fields read through; nulls read as absent; integral floats are integers.
TEST(FieldReader, ReadsValues) {
  auto obj = parse_object(R"({"s": "v", "n": null, "i": 7, "d": 30.0, "b": true, "m": {"K": "V"}})")
                 .value();
  FieldReader r(obj);
  EXPECT_EQ(r.required_string("s"), "v");
  EXPECT_FALSE(r.optional_string("n").has_value());
  EXPECT_EQ(r.int_or("i", 0), 7);
  EXPECT_EQ(r.int_or("d", 0), 30);
  EXPECT_TRUE(r.bool_or("b", false));
  auto m = r.optional_string_map("m");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)[0].first, "K");
  EXPECT_TRUE(r.ok());
}

// A bool field does not accept integers (strict JSON types).
TEST(FieldReader, StrictBool) {
  auto obj = parse_object(R"({"b": 1})").value();
  FieldReader r(obj);
  EXPECT_FALSE(r.bool_or("b", false));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace shipyard
