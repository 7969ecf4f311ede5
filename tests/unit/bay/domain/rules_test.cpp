#include "bay/domain/rules.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "bay/domain/clock.hpp"
#include "bay/domain/sandbox_service.hpp"

namespace shipyard::bay {
namespace {

std::string reason_of(const Result<std::string>& r) {
  return std::string(r.error().details.at("reason").as_string());
}

// §8.2: every rejected example carries its reason; accepted paths are normalised.
TEST(WorkspacePath, SpecTable) {
  struct Bad {
    std::string path, reason;
  };
  for (const auto& [path, reason] : std::vector<Bad>{{"", "empty_path"},
                                                     {std::string("a\0b", 3), "null_byte"},
                                                     {"/etc/passwd", "absolute_path"},
                                                     {"/tmp/evil.sh", "absolute_path"},
                                                     {"/workspace/x", "absolute_path"},
                                                     {"../secret.txt", "path_traversal"},
                                                     {"a/../../etc/passwd", "path_traversal"},
                                                     {"../", "path_traversal"},
                                                     {"../../evil.txt", "path_traversal"},
                                                     {"..", "path_traversal"}}) {
    auto r = normalize_workspace_path(path, "path");
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidPath);
    EXPECT_EQ(reason_of(r), reason) << path;
    EXPECT_EQ(r.error().details.at("field"), "path");
  }
  EXPECT_EQ(*normalize_workspace_path("subdir/../test.txt", "path"), "test.txt");
  EXPECT_EQ(*normalize_workspace_path("./a/b/../c.txt", "path"), "a/c.txt");
  EXPECT_EQ(*normalize_workspace_path(".", "path"), ".");
  EXPECT_EQ(*normalize_workspace_path("./", "path"), ".");
  EXPECT_EQ(*normalize_workspace_path(".gitignore", "path"), ".gitignore");
  EXPECT_EQ(*normalize_workspace_path("a//b", "path"), "a/b");
  EXPECT_EQ(normalize_workspace_path("../x", "cwd").error().details.at("field"), "cwd");
}

// §11.1: tags are split, trimmed, de-duplicated and sorted; nothing left → null.
TEST(Tags, Normalisation) {
  EXPECT_EQ(*normalize_tags("b, a,a ,"), "a,b");
  EXPECT_EQ(*normalize_tags("x"), "x");
  EXPECT_FALSE(normalize_tags(" , ,").has_value());
  EXPECT_FALSE(normalize_tags("").has_value());
}

// §2.4: ids are the prefix plus 12 lowercase hex characters, and differ.
TEST(Ids, Format) {
  std::regex re("sandbox-[0-9a-f]{12}");
  auto a = new_id("sandbox-"), b = new_id("sandbox-");
  EXPECT_TRUE(std::regex_match(a, re));
  EXPECT_NE(a, b);
}

// §2.3: six fractional digits and +00:00; parsing accepts Z and 3 digits and round-trips.
TEST(Timestamps, FormatAndParse) {
  TimePoint t{Micros(1770336000123456)};
  EXPECT_EQ(format_timestamp(t), "2026-02-06T00:00:00.123456+00:00");
  EXPECT_EQ(*parse_timestamp("2026-02-06T00:00:00.123456+00:00"), t);
  EXPECT_EQ(parse_timestamp("2026-02-06T00:00:00.123Z")->time_since_epoch().count(),
            1770336000123000);
  EXPECT_FALSE(parse_timestamp("2026-02-06T00:00:00.12Z").has_value());
  EXPECT_FALSE(parse_timestamp("2026-02-06 00:00:00").has_value());
  EXPECT_EQ(format_timestamp(TimePoint{Micros(0)}), "1970-01-01T00:00:00.000000+00:00");
}

// Cursors round-trip and are bound to their list endpoint; garbage is refused.
TEST(Cursor, RoundTripAndBinding) {
  ListCursor c{TimePoint{Micros(42)}, "sandbox-abc"};
  auto s = encode_cursor("sbx", c);
  auto back = decode_cursor("sbx", s);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, "sandbox-abc");
  EXPECT_EQ(back->created_at, c.created_at);
  EXPECT_FALSE(decode_cursor("cargo", s).has_value());
  EXPECT_FALSE(decode_cursor("sbx", "!!!").has_value());
  EXPECT_FALSE(decode_cursor("sbx", "").has_value());
}

}  // namespace
}  // namespace shipyard::bay
