#include "ship/shell/output.hpp"

#include <gtest/gtest.h>

namespace shipyard::ship::shell {
namespace {

// Output is trimmed of ASCII whitespace at both ends and kept verbatim inside.
TEST(FinishOutput, TrimsWhitespace) {
  EXPECT_EQ(finish_output(" \n\t hello\n  world \r\n\n", 0), "hello\n  world");
  EXPECT_EQ(finish_output("\n\n", 0), "");
}

// Invalid UTF-8 bytes become U+FFFD; valid multibyte text is untouched.
TEST(FinishOutput, ReplacesInvalidUtf8) {
  EXPECT_EQ(finish_output("a\xff\xfe"
                          "b",
                          0),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(finish_output("h\xC3\xA9llo \xE2\x82\xAC", 0), "h\xC3\xA9llo \xE2\x82\xAC");
}

// A truncated stream ends with the note; a character cut in half by the cap is dropped
// and counted as omitted instead of turning into U+FFFD.
TEST(FinishOutput, TruncationNote) {
  EXPECT_EQ(finish_output("abc\n", 10), "abc\n[output truncated: 10 bytes omitted]");
  EXPECT_EQ(finish_output("ab\xE2\x82", 5), "ab\n[output truncated: 7 bytes omitted]");
  EXPECT_EQ(finish_output("", 3), "[output truncated: 3 bytes omitted]");
}

// Only an unfinished sequence at the very end counts as incomplete.
TEST(FinishOutput, IncompleteSuffix) {
  EXPECT_EQ(incomplete_utf8_suffix("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xF0\x9F\x98\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\x80\x80\x80\x80"), 0u);
}

// The buffer never grows beyond the cap; the rest is counted.
TEST(AppendCapped, CountsOverflow) {
  std::string buf;
  std::size_t omitted = 0;
  append_capped(buf, 5, "abc", omitted);
  append_capped(buf, 5, "defg", omitted);
  append_capped(buf, 5, "hi", omitted);
  EXPECT_EQ(buf, "abcde");
  EXPECT_EQ(omitted, 4u);
}

}  // namespace
}  // namespace shipyard::ship::shell
