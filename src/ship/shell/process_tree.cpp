#include "ship/shell/process_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <thread>
#include <unordered_map>

#include "common/unique_fd.hpp"

namespace shipyard::ship::shell {
namespace asio = boost::asio;

namespace {

template <typename T>
bool parse_number(std::string_view s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::optional<std::string> read_small_file(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > 8192) break;  // a stat line is far shorter
  }
  return out;
}

// Ignores group and session ids that can never be a command's own (kernel threads use
// 0; 1 belongs to the pid namespace's init).
bool usable_id(pid_t id) { return id > 1; }

bool signal_exact(const ProcStat& p, int sig) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0)));
  if (!fd) return false;
  // The pidfd pins one process; if /proc shows a different start time now, the pid was
  // recycled (before or after pidfd_open) and the pidfd is not the process we swept.
  auto now = read_proc_stat(p.pid);
  if (!now || now->start_time != p.start_time) return false;
  return ::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) == 0;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // "pid (comm) state ppid pgrp session tty tpgid flags ... starttime(22) ...": comm may
  // contain spaces and parentheses, so fields are counted after the last ')'.
  auto open = text.find(" (");
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat st;
  if (!parse_number(text.substr(0, open), &st.pid)) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < rest.size() && fields.size() < 20) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    std::size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    if (i > start) fields.push_back(rest.substr(start, i - start));
    if (i < rest.size() && rest[i] == '\n') break;
  }
  // fields[0] = state (field 3), so field N is fields[N - 3].
  if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
  st.state = fields[0][0];
  if (!parse_number(fields[1], &st.ppid) || !parse_number(fields[2], &st.pgrp) ||
      !parse_number(fields[3], &st.session) || !parse_number(fields[19], &st.start_time)) {
    return std::nullopt;
  }
  return st;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  auto text = read_small_file(path.c_str());
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

std::vector<ProcStat> scan_processes() {
  std::vector<ProcStat> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    pid_t pid = 0;
    if (!parse_number(std::string_view(e->d_name), &pid)) continue;
    if (auto st = read_proc_stat(pid)) out.push_back(*st);
  }
  ::closedir(dir);
  return out;
}

std::vector<ProcStat> select_tree(const std::vector<ProcStat>& snapshot, TreeSeed& seed) {
  std::unordered_map<pid_t, const ProcStat*> by_pid;
  for (const auto& p : snapshot) by_pid.emplace(p.pid, &p);

  std::set<pid_t> excluded{seed.own_pid, 0, 1};
  for (pid_t p = seed.own_pid; p > 1;) {
    auto it = by_pid.find(p);
    if (it == by_pid.end()) break;
    excluded.insert(p);
    p = it->second->ppid;
  }
  // An ancestor's group or session (reachable only through setpgid into it) is not
  // ours to kill.
  auto group_ok = [&](pid_t g) {
    return usable_id(g) && g != seed.own_pgrp && excluded.count(g) == 0;
  };
  if (seed.root_unreaped && group_ok(seed.root)) seed.groups.insert(seed.root);

  std::set<pid_t> members;
  std::vector<ProcStat> out;
  auto add = [&](const ProcStat& p) {
    members.insert(p.pid);
    out.push_back(p);
    seed.known.emplace(p.pid, p.start_time);
    if (group_ok(p.pgrp)) seed.groups.insert(p.pgrp);
    if (usable_id(p.session) && p.session != seed.own_session && excluded.count(p.session) == 0) {
      seed.sessions.insert(p.session);
    }
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& p : snapshot) {
      if (excluded.count(p.pid) != 0 || members.count(p.pid) != 0) continue;
      bool is_root = seed.root_unreaped && p.pid == seed.root;
      if (is_root || seed.known.count({p.pid, p.start_time}) != 0 || members.count(p.ppid) != 0 ||
          seed.groups.count(p.pgrp) != 0 || seed.sessions.count(p.session) != 0) {
        add(p);
        changed = true;
      }
    }
  }
  return out;
}

TreeKiller::TreeKiller(pid_t root) {
  seed_.root = root;
  seed_.own_pid = ::getpid();
  seed_.own_pgrp = ::getpgrp();
  seed_.own_session = ::getsid(0);
}

std::vector<ProcStat> TreeKiller::sweep(bool root_unreaped) {
  seed_.root_unreaped = root_unreaped;
  return select_tree(scan_processes(), seed_);
}

std::size_t TreeKiller::signal_all(int sig, process::ChildProcess* root) {
  bool unreaped = root != nullptr && !root->exited();
  auto members = sweep(unreaped);
  // While the root is unreaped its pid (= the group id) cannot be reused, so the group
  // kill is safe; it also reaches members forked after the snapshot.
  if (unreaped) root->signal_group(sig);
  std::size_t live = 0;
  for (const auto& p : members) {
    if (!p.alive()) continue;
    ++live;
    signal_exact(p, sig);
  }
  return live;
}

std::size_t TreeKiller::count_live(const process::ChildProcess* root) {
  auto members = sweep(root != nullptr && !root->exited());
  return static_cast<std::size_t>(
      std::count_if(members.begin(), members.end(), [](const ProcStat& p) { return p.alive(); }));
}

namespace {

// The steps of killing several trees, driven by an async or a blocking caller that
// supplies the pauses: SIGTERM, pauses until nothing is live or the grace period
// ended, then SIGKILL rounds until a sweep finds nothing live.
class KillSequence {
 public:
  explicit KillSequence(const std::vector<process::ChildProcess*>& roots) : roots_(roots) {
    killers_.reserve(roots.size());
    for (auto* root : roots) killers_.emplace_back(root->pid());
  }

  std::size_t signal_all(int sig) {
    std::size_t live = 0;
    for (std::size_t i = 0; i < roots_.size(); ++i) live += killers_[i].signal_all(sig, roots_[i]);
    return live;
  }
  std::size_t count_live() {
    std::size_t live = 0;
    for (std::size_t i = 0; i < roots_.size(); ++i) live += killers_[i].count_live(roots_[i]);
    return live;
  }

  static constexpr std::chrono::milliseconds kTermPoll{20};
  static constexpr std::chrono::milliseconds kKillPause{5};
  // Repeated because a member may have forked between a sweep and its SIGKILL; that
  // child is found by group/session membership in the next sweep.
  static constexpr int kKillRounds = 10;

 private:
  const std::vector<process::ChildProcess*>& roots_;
  std::vector<TreeKiller> killers_;
};

std::chrono::milliseconds until(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), KillSequence::kTermPoll);
}

}  // namespace

asio::awaitable<void> kill_trees(std::vector<process::ChildProcess*> roots,
                                 std::chrono::milliseconds grace) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  KillSequence seq(roots);
  if (seq.signal_all(SIGTERM) > 0) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(until(deadline));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (seq.count_live() == 0) break;
    }
  }
  for (int round = 0; round < KillSequence::kKillRounds; ++round) {
    if (seq.signal_all(SIGKILL) == 0) break;
    timer.expires_after(KillSequence::kKillPause);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void kill_trees_blocking(const std::vector<process::ChildProcess*>& roots,
                         std::chrono::milliseconds grace) {
  KillSequence seq(roots);
  if (seq.signal_all(SIGTERM) > 0) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(until(deadline));
      if (seq.count_live() == 0) break;
    }
  }
  for (int round = 0; round < KillSequence::kKillRounds; ++round) {
    if (seq.signal_all(SIGKILL) == 0) break;
    std::this_thread::sleep_for(KillSequence::kKillPause);
  }
}

asio::awaitable<void> kill_tree(process::ChildProcess& child, std::chrono::milliseconds grace) {
  std::vector<process::ChildProcess*> roots(1, &child);
  co_await kill_trees(std::move(roots), grace);
}

}  // namespace shipyard::ship::shell
