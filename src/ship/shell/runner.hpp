// Foreground shell commands (POST /shell/exec without `background`).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "ship/shell/command.hpp"
#include "ship/shell/environment.hpp"

namespace shipyard::ship::shell {

struct ExecResult {
  bool success = false;            // return_code == 0
  std::optional<int> return_code;  // exit code, -signal, or -1 (timeout / not started)
  std::string stdout_text;
  std::string stderr_text;
  std::optional<int> pid;            // the shell's (or the executable's) pid, once started
  std::optional<std::string> error;  // "Command timed out", a spawn failure, or nullopt
};

inline constexpr std::string_view kTimedOutMessage = "Command timed out";
inline constexpr std::string_view kCancelledMessage = "Command cancelled";

// Runs one command to completion and returns its captured output.
//
// * The command runs in a new process group with a raised oom_score_adj; stdin is
//   /dev/null, stdout and stderr are separate pipes read with stream_descriptors.
// * It is complete when the started process (bash) exits, awaited through its pidfd.
//   Output is then drained for at most `limits.drain_after_exit`. Background children
//   still holding the pipes are left running; their pipes keep being drained and
//   discarded (so they never get EPIPE) until EOF, up to `limits.max_lingering_drains`
//   such pipes per Runner.
// * On timeout the whole tree is killed (kill_tree: group + descendants that left it;
//   SIGTERM, SIGKILL after `limits.term_grace`) and the answer is success=false,
//   return_code=-1, error="Command timed out" with the output collected so far. It
//   arrives within timeout + term_grace + drain_after_exit + a few sweeps.
// * Cancelling run() (e.g. the caller races it against something with `||`) kills the
//   tree the same way before completing, with error "Command cancelled".
// * Failures before the command runs (bad shell:false command line, missing executable
//   or cwd with shell:false, fork refused, pipes exhausted) give success=false,
//   return_code=-1, pid=nullopt and the reason in `error`; never an exception.
//
// Threading: belongs to `ex`, which must be a single-threaded executor (Ship runs its
// io_context on one thread) or a strand; call run() only from it. The Runner must
// outlive every run() in progress; lingering drains do not reference it.
class Runner {
 public:
  Runner(boost::asio::any_io_executor ex, EnvironmentBase base, Limits limits = {});

  boost::asio::awaitable<ExecResult> run(ExecRequest req);

  const EnvironmentBase& base() const { return base_; }
  EnvironmentBase& mutable_base() { return base_; }
  const Limits& limits() const { return limits_; }
  // Pipes currently drained for finished commands' background children.
  std::size_t lingering_drains() const { return *lingering_; }

 private:
  boost::asio::any_io_executor ex_;
  EnvironmentBase base_;
  Limits limits_;
  std::shared_ptr<std::size_t> lingering_;
};

}  // namespace shipyard::ship::shell
