// Finding and killing everything a command started, including descendants that left
// its process group (setsid / setpgid) — a group kill alone would miss those.
//
// Linux gives no atomic "kill this subtree" without cgroups, so a sweep combines
//  * the parent links of a /proc snapshot (descendants of the command's shell), and
//  * membership: every process in a process group or session that a known member
//    created, so that a child forked between a sweep and the signal (and orphaned when
//    its parent died) is still found by the next sweep.
// Ship's own process group and session are never targets. A descendant that escaped
// before the first sweep by double-forking into a new session is out of reach here;
// the sandbox's cgroup / pid namespace bounds such processes.
#pragma once

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "common/process/spawn.hpp"

namespace shipyard::ship::shell {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  char state = '?';                   // R, S, D, Z, ...
  unsigned long long start_time = 0;  // clock ticks after boot: (pid, start_time) is an identity
  bool alive() const { return state != 'Z' && state != 'X' && state != 'x'; }
};

// Parses the contents of /proc/<pid>/stat.
std::optional<ProcStat> parse_proc_stat(std::string_view text);
std::optional<ProcStat> read_proc_stat(pid_t pid);
// Every process visible in /proc (those that vanish while reading are skipped).
std::vector<ProcStat> scan_processes();

// What a sweep starts from and what it learns (select_tree updates the sets).
struct TreeSeed {
  pid_t root = 0;             // the command's shell; also its process group id
  bool root_unreaped = true;  // while unreaped, root's pid cannot name anything else
  std::set<std::pair<pid_t, unsigned long long>> known;  // (pid, start_time) seen before
  std::set<pid_t> groups;                                // process groups of members
  std::set<pid_t> sessions;                              // sessions of members
  // The caller (Ship): itself, its ancestors, its group and session are never targets.
  pid_t own_pid = 0;
  pid_t own_pgrp = 0;
  pid_t own_session = 0;
};
// The processes of `snapshot` that belong to the tree: the root (when unreaped), known
// processes (matched by identity), and, to a fixed point, every process whose parent is
// a member or whose group or session is one of a member's. Zombies are included (their
// links still matter) but callers only signal live ones.
std::vector<ProcStat> select_tree(const std::vector<ProcStat>& snapshot, TreeSeed& seed);

// Stateful sweeps over one command's tree. Remembers every process it has seen so
// that later sweeps still find their children after intermediate parents died.
class TreeKiller {
 public:
  explicit TreeKiller(pid_t root);

  // Sweeps and signals every live member, each through a pidfd after checking its
  // start time (never a recycled pid), plus the root's process group when the root is
  // unreaped (`root` may be null when the caller no longer holds it). Returns the
  // number of live members found.
  std::size_t signal_all(int sig, process::ChildProcess* root);
  // Sweeps without signalling; returns the number of live members.
  std::size_t count_live(const process::ChildProcess* root);

 private:
  std::vector<ProcStat> sweep(bool root_unreaped);
  TreeSeed seed_;
};

// SIGTERM to the whole tree, up to `grace` for it to die (returns early once nothing
// is left), then SIGKILL, repeating the sweep until nothing live is found (bounded).
// Does not reap `child` (an exit watcher elsewhere may). Runs on the caller's
// executor; `child` must outlive it.
boost::asio::awaitable<void> kill_tree(process::ChildProcess& child,
                                       std::chrono::milliseconds grace);
// The same for several trees at once (one grace period for all).
boost::asio::awaitable<void> kill_trees(std::vector<process::ChildProcess*> roots,
                                        std::chrono::milliseconds grace);
// The same, blocking the calling thread (polling every 20 ms) instead of awaiting: for
// shutdown paths that stop the io_context right afterwards.
void kill_trees_blocking(const std::vector<process::ChildProcess*>& roots,
                         std::chrono::milliseconds grace);

}  // namespace shipyard::ship::shell
