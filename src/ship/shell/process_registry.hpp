// Background shell commands (POST /shell/exec with `background: true`) and their
// listing (GET /shell/processes).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "ship/shell/command.hpp"
#include "ship/shell/environment.hpp"

namespace shipyard::ship::shell {

inline constexpr std::string_view kStatusRunning = "running";
inline constexpr std::string_view kStatusCompleted = "completed";
inline constexpr std::string_view kStatusFailed = "failed";

struct ProcessInfo {
  std::string process_id;  // 8 lowercase hex characters
  int pid = 0;
  std::string command;
  std::string status;            // running | completed (exit 0) | failed (non-zero / signal)
  std::optional<int> exit_code;  // set once finished: exit code or -signal
};

// Starts and tracks background commands.
//
// * A command runs like a foreground one (make_spawn_spec: own process group, raised
//   oom_score_adj, stdin /dev/null) but without a timeout. Its stdout and stderr share
//   one pipe that Ship copies into `<log_dir>/<process_id>.log` (stdout and stderr
//   interleaved in arrival order), capped at `limits.log_cap` bytes followed by a
//   truncation line; the pipe is drained to EOF, never left full. Log files are left in
//   place when entries are pruned (the user may still read them); `log_dir` is created
//   on first use.
// * Retention (ship-api.md §7): running processes are always listed; a finished one is
//   listed with its final status until it has been included in one list() result or
//   `limits.retention` has passed since it finished, then pruned. At most
//   `limits.max_processes` entries are kept: finished ones are pruned first (oldest
//   first); when all are running, start() refuses (kUnavailable).
//
// Threading: belongs to `ex`, a single-threaded executor (Ship's io_context runs on one
// thread) or a strand; call every member from it. Exit watchers and log pumps run as
// detached coroutines on `ex` holding their own state, so the registry may be destroyed
// while processes still run (they are neither killed nor forgotten by the kernel:
// ChildProcess reaps them).
class ProcessRegistry {
 public:
  ProcessRegistry(boost::asio::any_io_executor ex, EnvironmentBase base, std::string log_dir,
                  Limits limits = {});
  ~ProcessRegistry();
  ProcessRegistry(const ProcessRegistry&) = delete;
  ProcessRegistry& operator=(const ProcessRegistry&) = delete;

  EnvironmentBase& mutable_base() { return base_; }

  // Starts a background command (req.timeout is ignored). Returns its entry (status
  // "running") or the spawn/set-up failure (message suitable for the response's `error`).
  // `session` is the X-SESSION-ID ("" = none).
  Result<ProcessInfo> start(ExecRequest req, std::string session);

  // Processes of `session` (nullopt = all), oldest first, applying the retention rule.
  std::vector<ProcessInfo> list(const std::optional<std::string>& session);

  // Ship shutdown: SIGTERM to every still-running background command's tree (group and
  // descendants, as kill_tree), SIGKILL after `limits.term_grace` to what is left;
  // returns early once nothing is left. Commands that already exited are not touched
  // (their leftover children are not tracked). BLOCKS the calling thread for up to
  // term_grace + ~50 ms, so that it works right before io_context::stop(); the killed
  // commands are reaped by their watchers only if the executor runs again.
  void terminate_all();
  // The same without blocking the executor, for a shutdown coroutine.
  boost::asio::awaitable<void> async_terminate_all();

  const std::string& log_dir() const { return log_dir_; }
  std::string log_path(const std::string& process_id) const;

 private:
  struct Entry;
  void prune(std::chrono::steady_clock::time_point now);
  static ProcessInfo info(const Entry& e);
  static boost::asio::awaitable<void> watch_exit(std::shared_ptr<Entry> entry);
  std::vector<std::shared_ptr<Entry>> running() const;

  boost::asio::any_io_executor ex_;
  EnvironmentBase base_;
  std::string log_dir_;
  Limits limits_;
  std::vector<std::shared_ptr<Entry>> entries_;  // in start order
};

}  // namespace shipyard::ship::shell
