// Starting child processes: fork + exec with the child's set-up limited to
// async-signal-safe calls, failures reported over a CLOEXEC pipe as a fixed record,
// and a pidfd for race-free signalling and asynchronous exit waits.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <climits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::process {

struct FdMapping {
  int child_fd;   // the descriptor number in the child
  int parent_fd;  // an open descriptor in the parent (not consumed)
};

// Host credentials the child switches to before execve (it must start privileged).
// Supplementary groups are always cleared.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
};

struct SpawnSpec {
  std::string executable;            // absolute path, or a name resolved against `search_path`
  std::vector<std::string> argv;     // argv[0] included
  std::vector<std::string> env;      // "NAME=value" entries, the child's whole environment
  std::string cwd;                   // empty: inherit
  std::string search_path;           // PATH used to resolve a bare `executable`
  bool new_process_group = true;     // setpgid(0, 0): a timeout can kill the whole group
  bool new_session = false;          // setsid() instead (implies a new group)
  std::optional<int> oom_score_adj;  // the child raises its own score (needs no privilege)
  std::vector<std::pair<int, rlimit>> rlimits;
  // Descriptors 0-2 not mapped here are connected to /dev/null; every other descriptor
  // of the parent is closed on exec.
  std::vector<FdMapping> fds;
  // `cgroup.procs` files (v1 or v2) the child moves itself into by writing "0", in
  // order, while still privileged: the child is limited before it runs any code of
  // its own and cannot leave the cgroups afterwards.
  std::vector<std::string> join_cgroups;
  // Dropped after joining the cgroups and setting rlimits, before chdir: setgroups({}),
  // then setresgid, then setresuid (all three ids).
  std::optional<Credentials> credentials;
  // PR_SET_NO_NEW_PRIVS: execve can never grant privileges (setuid bits, file caps).
  bool no_new_privs = false;
};

struct ExitStatus {
  int exit_code = 0;  // valid when signal == 0
  int signal = 0;     // the terminating signal, or 0
  // The conventional single number: the exit code, or -signal.
  int code() const { return signal != 0 ? -signal : exit_code; }
};

// A started child. Owns its pidfd; the child is reaped by wait(). If the object is
// destroyed before the child was reaped, reaping is handed to a detached coroutine on
// the same executor so that no zombie is left behind (the child is not killed).
// Not thread-safe: use it from one strand.
class ChildProcess {
 public:
  ChildProcess(boost::asio::any_io_executor ex, pid_t pid, UniqueFd pidfd);
  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool exited() const { return status_.has_value(); }
  const std::optional<ExitStatus>& status() const { return status_; }

  // Completes when the child has exited (reaps it). Safe to cancel and to call again.
  boost::asio::awaitable<ExitStatus> wait();
  // Reaps the child if it has already exited; never blocks.
  std::optional<ExitStatus> try_wait();

  // Signals the child itself through its pidfd (never hits a recycled pid).
  void signal(int sig);
  // Signals the child's process group (the child must be a group leader).
  void signal_group(int sig);

 private:
  pid_t pid_;
  std::optional<boost::asio::posix::stream_descriptor> pidfd_;
  std::optional<ExitStatus> status_;
};

// Starts a child as described. Blocks only until the child has called execve (no user
// code runs before that point). A failure before execve (bad cwd, missing executable,
// fork refused) is returned as an Error whose message names the failing step.
Result<ChildProcess> spawn(boost::asio::any_io_executor ex, const SpawnSpec& spec);

// A pipe whose parent end is non-blocking and close-on-exec; the child end is blocking.
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
enum class ParentEnd { kRead, kWrite };
Result<Pipe> make_pipe(ParentEnd parent_end);

// Resolves `name` against a colon-separated search path; absolute/relative paths
// containing '/' are returned unchanged. Empty result: not found or not executable.
std::string find_executable(const std::string& name, const std::string& search_path);

}  // namespace shipyard::process
