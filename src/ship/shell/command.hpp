// What a shell request asks for, and the plan (a SpawnSpec) that carries it out.
// Everything here is pure apart from make_spawn_spec's existence check of the env file.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/process/spawn.hpp"
#include "ship/shell/environment.hpp"

namespace shipyard::ship::shell {

struct ExecRequest {
  std::string command;
  bool use_shell = true;
  std::string cwd;          // absolute, already confinement-checked by the caller; may not exist
  std::string home;         // HOME for this request (workspace root or session root)
  std::vector<EnvVar> env;  // request env, merged last
  std::optional<std::chrono::milliseconds> timeout;  // nullopt = no limit (foreground only)
  std::string env_file;  // e.g. "<workspace>/.bay_env.sh"; sourced only if it exists (shell only)
};

struct Limits {
  std::size_t output_cap = 10u << 20;  // per foreground stream
  std::chrono::milliseconds drain_after_exit{100};
  std::chrono::milliseconds term_grace{300};  // SIGTERM → SIGKILL (spec: ≤ 2 s)
  int oom_score_adj = 500;                    // children only ever raise their score
  // Background processes (ProcessRegistry).
  std::size_t log_cap = 16u << 20;              // bytes written to one log file
  std::size_t max_processes = 1024;             // registry entries retained
  std::chrono::milliseconds retention{60'000};  // finished entries never listed
  // Readers that keep draining pipes still held by a finished command's background
  // children (so those never see EPIPE/SIGPIPE). Beyond this many, further pipes are
  // closed instead.
  std::size_t max_lingering_drains = 64;
};

// POSIX shell-word splitting without any expansion, for `shell: false`: unquoted
// blanks (space, tab, newline) separate words; '…' is literal; inside "…" a backslash
// escapes only $ ` " \ and newline; outside quotes a backslash escapes any character
// and backslash-newline disappears. Shell operators (| ; & < > …) are ordinary
// characters. Errors (kInvalidArgument): unbalanced quote, trailing backslash, no words.
Result<std::vector<std::string>> split_words(std::string_view command);

// The bash script for `shell: true`:
//   [. '<env_file>' && ]cd '<cwd>' || exit
//   <command>
// Same effect as the spec's `[. env &&] cd '<cwd>' && <command>`, but the command is a
// separate line, so its own operators (`a || b`, `a; b`, `cmd &`, here-documents)
// cannot bind to the prelude: a failed cd never runs any part of the command.
std::string build_shell_script(std::string_view command, std::string_view cwd,
                               std::string_view env_file /* "" = none */);

// The plan for one command (stdio not yet mapped): `bash -c <script>` in a new process
// group, or the split words executed directly with `cwd` set by spawn (searched along
// the effective PATH). The env file is sourced only when it is a file now.
Result<process::SpawnSpec> make_spawn_spec(const ExecRequest& req, const EnvironmentBase& base,
                                           const Limits& limits);

}  // namespace shipyard::ship::shell
