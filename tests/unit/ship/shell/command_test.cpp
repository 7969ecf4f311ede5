#include "ship/shell/command.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace shipyard::ship::shell {
namespace {

using ::testing::ElementsAre;
using testing::TempDir;

std::vector<std::string> words(std::string_view s) {
  auto r = split_words(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<std::string>{};
}

// Unquoted blanks (space, tab, newline, repeated) separate words.
TEST(SplitWords, SplitsOnBlanks) {
  EXPECT_THAT(words("ls  -la\t/tmp\n x"), ElementsAre("ls", "-la", "/tmp", "x"));
  EXPECT_THAT(words("  echo  "), ElementsAre("echo"));
}

// Single quotes keep everything literally, including backslashes and double quotes.
TEST(SplitWords, SingleQuotesAreLiteral) {
  EXPECT_THAT(words(R"(echo 'a b' 'c\d' '"q"')"), ElementsAre("echo", "a b", R"(c\d)", R"("q")"));
}

// Inside double quotes a backslash escapes only $ ` " \ (and newline); else it stays.
TEST(SplitWords, DoubleQuoteEscapes) {
  EXPECT_THAT(words(R"(x "a \"b\" \$HOME \\ \n")"), ElementsAre("x", R"(a "b" $HOME \ \n)"));
  EXPECT_THAT(words("x \"a\\\nb\""), ElementsAre("x", "ab"));
}

// Outside quotes a backslash makes the next character literal; backslash-newline vanishes.
TEST(SplitWords, BackslashOutsideQuotes) {
  EXPECT_THAT(words(R"(a\ b c\'d \\)"), ElementsAre("a b", "c'd", "\\"));
  EXPECT_THAT(words("a\\\nb"), ElementsAre("ab"));
}

// Adjacent quoted and unquoted parts form one word; empty quotes make an empty word.
TEST(SplitWords, ConcatenationAndEmptyWords) {
  EXPECT_THAT(words(R"(a"b c"'d' '' "")"), ElementsAre("ab cd", "", ""));
}

// No expansion and no operators: $VAR, globs, pipes and semicolons are plain text.
TEST(SplitWords, NoShellSyntax) {
  EXPECT_THAT(words("echo $HOME *.txt a|b c;d ~ #x"),
              ElementsAre("echo", "$HOME", "*.txt", "a|b", "c;d", "~", "#x"));
}

// Unbalanced quotes, a trailing backslash and an empty command are errors.
TEST(SplitWords, Errors) {
  for (std::string_view bad : {"echo 'abc", "echo \"abc", "echo abc\\", "", "   ", "'"}) {
    auto r = split_words(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("invalid command"), std::string::npos);
  }
}

// The script sources the env file (if given), changes directory or exits, then runs
// the command on its own line; paths are single-quoted.
TEST(ShellScript, Layout) {
  EXPECT_EQ(build_shell_script("ls -l", "/workspace", ""), "cd '/workspace' || exit\nls -l");
  EXPECT_EQ(build_shell_script("a || b", "/w/it's", "/w/.bay_env.sh"),
            ". '/w/.bay_env.sh' && cd '/w/it'\\''s' || exit\na || b");
}

// shell:true → bash -c with the script; the env file only when it exists now; own
// process group and oom_score_adj from the limits.
TEST(SpawnPlan, ShellCommand) {
  TempDir dir;
  EnvironmentBase base{"/usr/bin:/bin", {}, {}};
  Limits limits;
  limits.oom_score_adj = 700;
  ExecRequest req;
  req.command = "echo hi";
  req.cwd = dir.path();
  req.home = dir.path();
  req.env_file = dir / ".bay_env.sh";

  auto plan = make_spawn_spec(req, base, limits);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->executable, "/bin/bash");
  EXPECT_THAT(plan->argv, ElementsAre("bash", "-c", "cd '" + dir.path() + "' || exit\necho hi"));
  EXPECT_TRUE(plan->cwd.empty());
  EXPECT_TRUE(plan->new_process_group);
  EXPECT_EQ(plan->oom_score_adj, 700);

  testing::write_file(req.env_file, "export A=1\n");
  plan = make_spawn_spec(req, base, limits);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->argv[2].rfind(". '" + req.env_file + "' && ", 0), 0u) << plan->argv[2];
}

// shell:false → the split words, cwd set on the spawn, executable searched along the
// effective PATH (a request PATH wins).
TEST(SpawnPlan, DirectCommand) {
  EnvironmentBase base{"/usr/bin:/bin", {}, {}};
  ExecRequest req;
  req.command = "printf '%s' \"a b\"";
  req.use_shell = false;
  req.cwd = "/tmp";
  req.home = "/tmp";
  req.env_file = "/nonexistent";
  auto plan = make_spawn_spec(req, base, Limits{});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->executable, "printf");
  EXPECT_THAT(plan->argv, ElementsAre("printf", "%s", "a b"));
  EXPECT_EQ(plan->cwd, "/tmp");
  EXPECT_EQ(plan->search_path, "/usr/bin:/bin");

  req.env = {{"PATH", "/opt/x/bin"}};
  plan = make_spawn_spec(req, base, Limits{});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->search_path, "/opt/x/bin");

  req.command = "echo 'oops";
  plan = make_spawn_spec(req, base, Limits{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message, "invalid command: unbalanced single quote");
}

}  // namespace
}  // namespace shipyard::ship::shell
