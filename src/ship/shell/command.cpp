#include "ship/shell/command.hpp"

#include <sys/stat.h>

#include "common/strings.hpp"

namespace shipyard::ship::shell {

Result<std::vector<std::string>> split_words(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started (possibly empty, e.g. from '')
  enum class Quote { kNone, kSingle, kDouble } quote = Quote::kNone;

  for (std::size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    switch (quote) {
      case Quote::kSingle:
        if (c == '\'') {
          quote = Quote::kNone;
        } else {
          word += c;
        }
        break;
      case Quote::kDouble:
        if (c == '"') {
          quote = Quote::kNone;
        } else if (c == '\\' && i + 1 < command.size()) {
          char next = command[i + 1];
          if (next == '$' || next == '`' || next == '"' || next == '\\') {
            word += next;
            ++i;
          } else if (next == '\n') {
            ++i;
          } else {
            word += c;
          }
        } else {
          word += c;
        }
        break;
      case Quote::kNone:
        if (c == ' ' || c == '\t' || c == '\n') {
          if (in_word) words.push_back(std::move(word));
          word.clear();
          in_word = false;
        } else if (c == '\'') {
          quote = Quote::kSingle;
          in_word = true;
        } else if (c == '"') {
          quote = Quote::kDouble;
          in_word = true;
        } else if (c == '\\') {
          if (i + 1 >= command.size()) {
            return Error(ErrorCode::kInvalidArgument, "invalid command: trailing backslash");
          }
          char next = command[++i];
          if (next != '\n') {
            word += next;
            in_word = true;
          }
        } else {
          word += c;
          in_word = true;
        }
        break;
    }
  }
  if (quote != Quote::kNone) {
    return Error(ErrorCode::kInvalidArgument, quote == Quote::kSingle
                                                  ? "invalid command: unbalanced single quote"
                                                  : "invalid command: unbalanced double quote");
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return Error(ErrorCode::kInvalidArgument, "invalid command: empty command");
  return words;
}

std::string build_shell_script(std::string_view command, std::string_view cwd,
                               std::string_view env_file) {
  std::string script;
  if (!env_file.empty()) {
    script += ". ";
    script += shell_quote(env_file);
    script += " && ";
  }
  script += "cd ";
  script += shell_quote(cwd);
  script += " || exit\n";
  script += command;
  return script;
}

Result<process::SpawnSpec> make_spawn_spec(const ExecRequest& req, const EnvironmentBase& base,
                                           const Limits& limits) {
  process::SpawnSpec spec;
  spec.env = build_environment(base, req.home, req.env);
  spec.new_process_group = true;
  spec.oom_score_adj = limits.oom_score_adj;
  if (req.use_shell) {
    std::string env_file;
    struct stat st {};
    if (!req.env_file.empty() && ::stat(req.env_file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      env_file = req.env_file;
    }
    spec.executable = "/bin/bash";
    spec.argv = {"bash", "-c", build_shell_script(req.command, req.cwd, env_file)};
    return spec;
  }
  auto words = split_words(req.command);
  if (!words) return std::move(words).error();
  spec.executable = words->front();
  spec.argv = std::move(*words);
  spec.cwd = req.cwd;
  // The command's own PATH (the request may override it) decides what runs, as it
  // would for execvp in the child.
  spec.search_path = std::string(env_value(spec.env, "PATH"));
  return spec;
}

}  // namespace shipyard::ship::shell
