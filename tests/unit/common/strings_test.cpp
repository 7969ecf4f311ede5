#include "common/strings.hpp"

#include <gtest/gtest.h>

namespace shipyard {
namespace {

// Valid UTF-8 passes through unchanged.
TEST(SanitizeUtf8, KeepsValidText) {
  EXPECT_EQ(sanitize_utf8("héllo 世界 🚀"), "héllo 世界 🚀");
  EXPECT_TRUE(is_valid_utf8("héllo 世界 🚀"));
}

// Invalid bytes become U+FFFD, one per maximal subpart, exactly as Python's
// bytes.decode("utf-8", errors="replace") does.
TEST(SanitizeUtf8, ReplacesLikePython) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a" + r + "b");
  // Truncated 3-byte sequence: lead + one valid continuation form one subpart.
  EXPECT_EQ(sanitize_utf8("\xE4\xB8"
                          "x"),
            r + "x");
  // Overlong encoding of '/': each byte is its own subpart.
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), r + r);
  // Surrogate half encoded in UTF-8 (ED A0 80) is invalid: three replacements.
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), r + r + r);
  // Above U+10FFFF.
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), r + r + r + r);
  // Truncated at the end of input.
  EXPECT_EQ(sanitize_utf8("ok\xF0\x9F\x9A"), "ok" + r);
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

// trim removes ASCII whitespace only at the ends.
TEST(Strings, Trim) {
  EXPECT_EQ(trim("  a b \n\t"), "a b");
  EXPECT_EQ(trim("\r\n"), "");
  EXPECT_EQ(trim(""), "");
}

// split keeps empty fields, so callers see "a,,b" as three parts.
TEST(Strings, Split) {
  auto parts = split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
}

// shell_quote produces a single-quoted word that survives embedded quotes.
TEST(Strings, ShellQuote) {
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

}  // namespace
}  // namespace shipyard
