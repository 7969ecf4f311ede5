#include "bay/drivers/process_driver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "bay/drivers/cgroup_ops.hpp"
#include "bay/drivers/host_io.hpp"
#include "bay/drivers/offload.hpp"
#include "bay/drivers/runtime_record.hpp"
#include "bay/drivers/safe_remove.hpp"
#include "common/log.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay {

namespace asio = boost::asio;
using detail::offload;
using namespace std::chrono_literals;

namespace {

// bwrap reports the sandbox's init right after clone(); this only bounds a wedged bwrap.
constexpr auto kInfoTimeout = 10s;
// How long destroy waits for the killed processes to be gone before giving up.
constexpr auto kExitDeadline = 3s;
constexpr auto kExitPoll = 10ms;
// bwrap exits as soon as the sandbox's init is gone; it is killed only if it lingers.
constexpr auto kBwrapGrace = 500ms;
constexpr std::size_t kLogTail = 4096;

std::string absolute(const std::string& p) {
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return (ec ? std::filesystem::path(p) : a).lexically_normal().string();
}

std::string strip_trailing_slash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

Status make_dir(const std::string& path, std::uint32_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return system_error("mkdir " + path, errno);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kInternal, "not a directory: " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) return system_error("chmod " + path, errno);
  return {};
}

std::string log_tail(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return {};
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  off_t from = size > static_cast<off_t>(kLogTail) ? size - static_cast<off_t>(kLogTail) : 0;
  std::string out(static_cast<std::size_t>(size - from), '\0');
  ssize_t n = ::pread(fd.get(), out.data(), out.size(), from);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

Result<UniqueFd> memfd_with(const char* name, std::string_view content) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return system_error("memfd_create", errno);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("writing memfd", errno);
    done += static_cast<std::size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return system_error("lseek memfd", errno);
  return fd;
}

// Reads bwrap's --info-fd until the sandbox init's pid is known, bwrap closed the pipe
// or the deadline passed.
std::optional<pid_t> read_child_pid(int fd) {
  std::string info;
  auto deadline = std::chrono::steady_clock::now() + kInfoTimeout;
  for (;;) {
    if (auto pid = parse_bwrap_child_pid(info)) return pid;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return parse_bwrap_child_pid(info);
    info.append(buf, static_cast<std::size_t>(n));
    if (info.size() > 65536) return std::nullopt;
  }
}

// slirp4netns writes to its ready descriptor once the tap is up and configured.
constexpr auto kSlirpReadyTimeout = 10s;
// Ship (and the sandbox's init and the outer bwrap) get a low OOM score when Bay can
// set one: a memory cgroup OOM then picks user code (Ship's children raise their own
// score to 500) and the runtime survives to report it. slirp4netns is never chosen.
constexpr int kShipOomScoreAdj = -900;
constexpr int kSlirpOomScoreAdj = -1000;

void set_oom_score_adj(pid_t pid, int value) {
  auto path = "/proc/" + std::to_string(pid) + "/oom_score_adj";
  if (auto s = write_existing_file(path, std::to_string(value)); !s) {
    spdlog::debug("setting the OOM score of {}: {}", pid, s.error().context);
  }
}

// Lowers the OOM score of the sandbox's processes that exist right after start: the
// outer bwrap and the init (their later children inherit it) and whatever the init
// already forked (Ship). Processes that raised their own score are left alone.
void protect_runtime(pid_t bwrap_pid, pid_t init_pid) {
  set_oom_score_adj(bwrap_pid, kShipOomScoreAdj);
  set_oom_score_adj(init_pid, kShipOomScoreAdj);
  auto children = read_file(
      "/proc/" + std::to_string(init_pid) + "/task/" + std::to_string(init_pid) + "/children",
      4096);
  if (!children) return;
  std::string_view rest(*children);
  while (!rest.empty()) {
    auto sp = rest.find(' ');
    std::string word(rest.substr(0, sp));
    rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    if (word.empty()) continue;
    pid_t pid = static_cast<pid_t>(std::strtol(word.c_str(), nullptr, 10));
    auto cur = read_file("/proc/" + word + "/oom_score_adj", 64);
    if (pid > 0 && cur && std::strtol(cur->c_str(), nullptr, 10) <= 0) {
      set_oom_score_adj(pid, kShipOomScoreAdj);
    }
  }
}

// Waits until slirp4netns reports readiness ("1" on the pipe) or gives up.
bool wait_ready(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return n == 1 && c == '1';
  }
}

Error start_failure(std::string context) {
  Error e(ErrorCode::kInternal, "the sandbox could not be started");
  e.context = std::move(context);
  return e;
}

}  // namespace

struct ProcessDriver::Launched {
  std::unique_ptr<process::ChildProcess> child;
  std::unique_ptr<process::ChildProcess> slirp;  // network "outbound" only
  UniqueFd ready;                                // Ship's --ready-fd, read end
  RuntimeHandle handle;
};

struct ProcessDriver::Teardown {
  ProcRuntimeId id;
  UniqueFd bwrap_fd;  // pidfds; invalid when the process was already gone
  UniqueFd init_fd;
  std::vector<std::string> cgroups;
  std::string session_dir;
  bool was_dead = false;  // the sandbox had ended before destroy
  std::string log_tail;
};

ProcessDriver::ProcessDriver(asio::any_io_executor io, ProcessDriverConfig cfg,
                             std::string data_dir, std::string cargo_root)
    : io_(std::move(io)), cfg_(std::move(cfg)) {
  data_dir_ = strip_trailing_slash(absolute(data_dir));
  sessions_dir_ = data_dir_ + "/sessions";
  cargo_root_ =
      strip_trailing_slash(cargo_root.empty() ? data_dir_ + "/cargos" : absolute(cargo_root));
  cfg_.ship_app_dir = strip_trailing_slash(absolute(cfg_.ship_app_dir));
  std::error_code ec;
  std::filesystem::create_directories(data_dir_, ec);
  // 0711: sandbox uids must traverse to their cargo and run directory, never list.
  for (const auto& d : {sessions_dir_, cargo_root_}) {
    std::filesystem::create_directories(d, ec);
    ::chmod(d.c_str(), 0711);
  }
  probe_ = probe_host(cfg_, sessions_dir_);
  seccomp_bpf_ = probe_.seccomp_bpf;
}

ProcessDriver::~ProcessDriver() = default;

std::string ProcessDriver::describe() const {
  return describe_probe(probe_, cfg_) + "; " + images_.describe();
}

Status ProcessDriver::enable_size_limits(const std::string& mode) {
  auto c = CargoImages::set_up(mode, cargo_root_, probe_.facts.root);
  if (!c) return std::move(c).error();
  images_ = std::move(*c);
  return {};
}

// --- cargos -----------------------------------------------------------------------

asio::awaitable<Result<std::string>> ProcessDriver::create_cargo_storage(
    std::string cargo_id, std::uint32_t host_uid, std::int64_t size_limit_mb) {
  auto job = [this, cargo_id, host_uid, size_limit_mb]() -> Result<std::string> {
    if (!is_safe_id(cargo_id)) {
      return Error(ErrorCode::kInvalidArgument, "invalid cargo id: " + cargo_id);
    }
    // The same rule as for starting sessions: only uids handed out for sandboxes.
    if (probe_.facts.root &&
        (host_uid < cfg_.uid_base || host_uid - cfg_.uid_base >= cfg_.uid_count)) {
      return Error(ErrorCode::kInvalidArgument, "cargo uid " + std::to_string(host_uid) +
                                                    " is outside the configured sandbox uid range");
    }
    UniqueFd root(::open(cargo_root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return system_error("open " + cargo_root_, errno);
    if (::mkdirat(root.get(), cargo_id.c_str(), 0700) != 0 && errno != EEXIST) {
      return system_error("mkdir " + cargo_id, errno);
    }
    UniqueFd dir(
        ::openat(root.get(), cargo_id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return system_error("open cargo " + cargo_id, errno);
    if (::fchmod(dir.get(), 0700) != 0) return system_error("chmod cargo", errno);
    // Unprivileged, sandboxes run as Bay's own uid: the directory is already its.
    if (probe_.facts.root && ::fchown(dir.get(), host_uid, host_uid) != 0) {
      return system_error("chown cargo", errno);
    }
    if (auto q = images_.create(cargo_id, host_uid, size_limit_mb); !q) {
      ::unlinkat(root.get(), cargo_id.c_str(), AT_REMOVEDIR);
      return std::move(q).error().with_context("setting the size limit of " + cargo_id);
    }
    return cargo_root_ + "/" + cargo_id;
  };
  auto r = co_await offload(pool_, std::move(job));
  if (!r) co_return std::move(r).error().with_context("creating cargo storage " + cargo_id);
  co_return r;
}

asio::awaitable<Status> ProcessDriver::delete_cargo_storage(std::string storage_path) {
  auto job = [this, storage_path]() -> Status {
    std::filesystem::path p(storage_path);
    std::string name = p.filename().string();
    // Only ever a direct child of the cargo root: the path comes from the store, and a
    // wrong one must not turn into deleting arbitrary host directories.
    if (strip_trailing_slash(p.parent_path().lexically_normal().string()) != cargo_root_ ||
        !is_safe_id(name)) {
      Error e(ErrorCode::kInvalidArgument, "refusing to delete storage outside the cargo root");
      e.context = storage_path;
      return e;
    }
    UniqueFd root(::open(cargo_root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return errno == ENOENT ? Status{} : system_error("open " + cargo_root_, errno);
    // Unmount first: deleting through the mount would only empty the image.
    if (auto s = images_.remove(name); !s) return s;
    return remove_tree_at(root.get(), name);
  };
  auto s = co_await offload(pool_, std::move(job));
  if (!s) co_return std::move(s).error().with_context("deleting cargo storage " + storage_path);
  co_return s;
}

asio::awaitable<Result<std::vector<std::pair<std::string, std::string>>>>
ProcessDriver::list_cargo_storage() {
  using Listing = std::vector<std::pair<std::string, std::string>>;
  auto job = [this]() -> Result<Listing> {
    Listing out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(cargo_root_, ec)) {
      std::string name = e.path().filename().string();
      // Dot entries (the image directory) and anything not named like a cargo are not
      // cargo storage.
      if (!is_safe_id(name) || name.front() == '.' || !e.is_directory(ec)) continue;
      out.emplace_back(name, cargo_root_ + "/" + name);
    }
    if (ec) return system_error("listing " + cargo_root_, ec.value());
    return out;
  };
  co_return co_await offload(pool_, std::move(job));
}

// --- start --------------------------------------------------------------------------

asio::awaitable<Result<RuntimeHandle>> ProcessDriver::start(SessionSpec spec) {
  auto plan = plan_session(spec, cfg_, probe_.facts);
  if (!plan) co_return std::move(plan).error().with_context("planning session " + spec.session_id);
  auto job = [this, p = std::move(*plan), spec]() -> Result<Launched> {
    // The cargo's own filesystem (size limit) is mounted the first time a session needs it.
    if (auto m = images_.ensure_mounted(spec.cargo_id); !m) return std::move(m).error();
    return launch(p, spec);
  };
  auto launched = co_await offload(pool_, std::move(job));
  if (!launched) {
    co_return std::move(launched).error().with_context("starting session " + spec.session_id);
  }
  RuntimeHandle handle = launched->handle;
  children_[handle.runtime_id] = std::move(launched->child);
  if (launched->slirp) slirps_[handle.runtime_id] = std::move(launched->slirp);
  readiness_[handle.runtime_id] = std::move(launched->ready);
  co_return handle;
}

Result<ProcessDriver::Launched> ProcessDriver::launch(const SandboxPlan& plan,
                                                      const SessionSpec& spec) {
  // A directory left by a crashed Bay for this session id (ids are never reused while
  // their runtime lives) is cleared first.
  struct stat st {};
  if (::lstat(plan.session_dir.c_str(), &st) == 0) {
    auto rec = read_file(plan.session_dir + "/" + kRuntimeRecordName, 1 << 16);
    if (rec) {
      auto r = parse_runtime_record(*rec);
      auto id = r ? parse_runtime_id(r->runtime_id) : std::nullopt;
      if (id && process_matches(id->init_pid, id->init_start_time)) {
        return Error(ErrorCode::kConflict, "the session is already running");
      }
    }
    cleanup_failed_launch(plan, 0);
  }

  for (const auto& d : plan.directories) {
    if (auto s = make_dir(d.path, d.mode); !s) {
      cleanup_failed_launch(plan, 0);
      return std::move(s).error();
    }
    if (d.owner && ::chown(d.path.c_str(), *d.owner, *d.owner) != 0) {
      int err = errno;
      cleanup_failed_launch(plan, 0);
      return system_error("chown " + d.path, err);
    }
  }
  if (auto s = create_cgroups(plan.cgroups); !s) {
    cleanup_failed_launch(plan, 0);
    return std::move(s).error();
  }

  auto fail = [&](Error e, pid_t init_pid) {
    cleanup_failed_launch(plan, init_pid);
    return e;
  };
  UniqueFd log(
      ::open(plan.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!log) return fail(system_error("open " + plan.log_path, errno), 0);
  std::string args;
  for (const auto& a : plan.bwrap_options) {
    args += a;
    args.push_back('\0');
  }
  auto args_fd = memfd_with("bwrap-args", args);
  if (!args_fd) return fail(std::move(args_fd).error(), 0);
  std::vector<UniqueFd> file_fds;
  for (const auto& f : plan.files) {
    auto fd = memfd_with("bwrap-file", f.content);
    if (!fd) return fail(std::move(fd).error(), 0);
    file_fds.push_back(std::move(*fd));
  }
  auto info = process::make_pipe(process::ParentEnd::kRead);
  if (!info) return fail(std::move(info).error(), 0);
  if (plan.seccomp_fd < 0 || seccomp_bpf_.empty()) {
    return fail(start_failure("no seccomp program for the sandbox"), 0);
  }
  auto seccomp_fd = memfd_with("bwrap-seccomp", seccomp_bpf_);
  if (!seccomp_fd) return fail(std::move(seccomp_fd).error(), 0);
  // bwrap reads the block pipe before it starts Ship; Ship writes to the ready pipe.
  auto block = process::make_pipe(process::ParentEnd::kWrite);
  if (!block) return fail(std::move(block).error(), 0);
  auto ready = process::make_pipe(process::ParentEnd::kRead);
  if (!ready) return fail(std::move(ready).error(), 0);
  // Outbound: slirp4netns watches the read end; the sandbox holds the write end.
  std::optional<process::Pipe> slirp_exit;
  if (plan.outbound) {
    auto p = process::make_pipe(process::ParentEnd::kRead);
    if (!p) return fail(std::move(p).error(), 0);
    slirp_exit = std::move(*p);
  }

  process::SpawnSpec s;
  s.executable = plan.bwrap;
  s.argv = plan.exec_argv();
  s.env = plan.env;
  // Its own session: Bay's terminal and process group signals never reach a sandbox,
  // and nothing (no PR_SET_PDEATHSIG, no --die-with-parent) ties it to Bay's lifetime.
  s.new_session = true;
  s.fds = {{1, log.get()},
           {2, log.get()},
           {plan.info_fd, info->write.get()},
           {plan.args_fd, args_fd->get()}};
  for (std::size_t i = 0; i < plan.files.size(); ++i) {
    s.fds.push_back({plan.files[i].child_fd, file_fds[i].get()});
  }
  s.fds.push_back({plan.seccomp_fd, seccomp_fd->get()});
  s.fds.push_back({plan.block_fd, block->read.get()});
  s.fds.push_back({plan.ready_fd, ready->write.get()});
  if (slirp_exit) s.fds.push_back({plan.slirp_exit_fd, slirp_exit->write.get()});
  // No join_cgroups: bwrap is moved into the session's cgroups below, while it sets up
  // the sandbox's mounts and before it starts anything (see SandboxPlan::block_fd).
  if (plan.credentials) {
    s.credentials = process::Credentials{plan.credentials->first, plan.credentials->second};
  }
  s.no_new_privs = true;
  s.rlimits = plan.rlimits;

  auto child = process::spawn(io_, s);
  info->write.reset();
  block->read.reset();
  ready->write.reset();
  // Only the sandbox may hold the write end, or slirp4netns would outlive it.
  if (slirp_exit) slirp_exit->write.reset();
  if (!child) return fail(std::move(child).error(), 0);
  auto owned = std::make_unique<process::ChildProcess>(std::move(*child));
  if (facts_root()) set_oom_score_adj(owned->pid(), kShipOomScoreAdj);

  auto init_pid = read_child_pid(info->read.get());
  auto bwrap_stat = read_proc_stat(owned->pid());
  auto init_stat = init_pid ? read_proc_stat(*init_pid) : std::nullopt;
  if (!init_pid || !bwrap_stat || !init_stat) {
    owned->signal(SIGKILL);
    return fail(start_failure("bwrap did not start the sandbox: " + log_tail(plan.log_path)),
                init_pid.value_or(0));
  }

  if (facts_root()) protect_runtime(owned->pid(), *init_pid);

  // Both bwrap processes into every cgroup of the session; whatever the init starts
  // after the block pipe is written inherits them. A cgroup v1 migration waits for an
  // RCU grace period, which elapses while bwrap mounts the sandbox.
  for (const auto& cg : plan.cgroups) {
    for (pid_t pid : {owned->pid(), *init_pid}) {
      if (auto j = move_into_cgroup(cg.path, pid); !j) {
        owned->signal(SIGKILL);
        return fail(std::move(j).error(), *init_pid);
      }
    }
  }
  // The pids were checked before the move; a process that was replaced in between
  // (it died and its pid was reused) would have been moved instead of the sandbox.
  if (!process_matches(owned->pid(), bwrap_stat->start_time) ||
      !process_matches(*init_pid, init_stat->start_time)) {
    owned->signal(SIGKILL);
    return fail(start_failure("bwrap exited during start-up: " + log_tail(plan.log_path)),
                *init_pid);
  }

  std::unique_ptr<process::ChildProcess> slirp;
  if (plan.outbound) {
    auto started = start_slirp(plan, *init_pid, log.get(), slirp_exit->read);
    if (!started) {
      owned->signal(SIGKILL);
      return fail(std::move(started).error(), *init_pid);
    }
    slirp = std::move(*started);
  }

  // Limits in place (and the network, for outbound): let bwrap start Ship.
  if (::write(block->write.get(), "1", 1) != 1) {
    int err = errno;
    owned->signal(SIGKILL);
    if (slirp) slirp->signal(SIGKILL);
    return fail(system_error("releasing bwrap", err), *init_pid);
  }
  block->write.reset();

  ProcRuntimeId id{owned->pid(), bwrap_stat->start_time, *init_pid, init_stat->start_time,
                   spec.session_id};
  RuntimeRecord rec;
  rec.session_id = spec.session_id;
  rec.sandbox_id = spec.sandbox_id;
  rec.instance_id = spec.instance_id;
  rec.runtime_id = format_runtime_id(id);
  rec.endpoint = plan.endpoint;
  for (const auto& cg : plan.cgroups) rec.cgroups.push_back(cg.path);
  rec.started_at = static_cast<std::int64_t>(std::time(nullptr));
  if (auto w = write_file_atomic(plan.session_dir + "/" + kRuntimeRecordName, to_json_text(rec));
      !w) {
    owned->signal(SIGKILL);
    return fail(std::move(w).error(), *init_pid);
  }
  spdlog::debug("session {}: sandbox started (bwrap pid {}, init pid {})", spec.session_id, id.pid,
                id.init_pid);
  return Launched{std::move(owned), std::move(slirp), std::move(ready->read),
                  RuntimeHandle{rec.runtime_id, rec.endpoint}};
}

Result<std::unique_ptr<process::ChildProcess>> ProcessDriver::start_slirp(const SandboxPlan& plan,
                                                                          pid_t init_pid,
                                                                          int log_fd,
                                                                          const UniqueFd& exit_fd) {
  // The network namespace and the user namespace that owns it. bwrap nests the
  // sandbox's processes one user namespace deeper (--disable-userns), so the init's own
  // user namespace is the wrong one: slirp4netns, running as the sandbox's host uid,
  // holds CAP_NET_ADMIN over the network namespace only after joining its owner.
  std::string ns = "/proc/" + std::to_string(init_pid) + "/ns/net";
  UniqueFd netns(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) return system_error("open " + ns, errno);
  UniqueFd userns(::ioctl(netns.get(), NS_GET_USERNS));
  if (!userns) return system_error("NS_GET_USERNS", errno);
  auto ready = process::make_pipe(process::ParentEnd::kRead);
  if (!ready) return std::move(ready).error();

  constexpr int kUserNs = 3, kNetNs = 4, kReady = 5, kExit = 6;
  process::SpawnSpec s;
  s.executable = probe_.facts.slirp4netns;
  s.argv = slirp_argv(probe_.facts, kUserNs, kNetNs, kReady, kExit);
  s.env = {"PATH=/usr/bin:/bin", "LANG=C"};
  s.new_session = true;
  s.cwd = "/";
  s.fds = {{1, log_fd},
           {2, log_fd},
           {kUserNs, userns.get()},
           {kNetNs, netns.get()},
           {kReady, ready->write.get()},
           {kExit, exit_fd.get()}};
  // In the session's cgroups: limited with the sandbox and killed by destroy.
  for (const auto& cg : plan.cgroups) s.join_cgroups.push_back(cg.path + "/cgroup.procs");
  if (plan.credentials) {
    s.credentials = process::Credentials{plan.credentials->first, plan.credentials->second};
  }
  s.no_new_privs = true;
  s.rlimits = plan.rlimits;
  auto child = process::spawn(io_, s);
  ready->write.reset();
  if (!child) return std::move(child).error().with_context("starting slirp4netns");
  auto owned = std::make_unique<process::ChildProcess>(std::move(*child));
  if (facts_root()) set_oom_score_adj(owned->pid(), kSlirpOomScoreAdj);
  if (!wait_ready(ready->read.get(), kSlirpReadyTimeout)) {
    owned->signal(SIGKILL);
    return start_failure("slirp4netns did not set up the network: " + log_tail(plan.log_path));
  }
  return owned;
}

void ProcessDriver::cleanup_failed_launch(const SandboxPlan& plan, pid_t init_pid) {
  if (init_pid > 0) {
    if (auto st = read_proc_stat(init_pid)) {
      UniqueFd fd(open_pidfd_checked(init_pid, st->start_time));
      if (fd) pidfd_kill(fd.get(), SIGKILL);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + kExitDeadline;
  for (const auto& cg : plan.cgroups) {
    const std::string& d = cg.path;
    kill_cgroup_members(d);
    while (!cgroup_empty(d) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(kExitPoll);
    }
    if (auto s = remove_cgroup(d); !s) spdlog::warn("cleaning up: {}", s.error().context);
  }
  if (auto s = remove_tree(plan.session_dir); !s) {
    spdlog::warn("cleaning up {}: {}", plan.session_dir, s.error().context);
  }
}

// --- liveness, destroy, listing ------------------------------------------------------

bool ProcessDriver::alive(const RuntimeHandle& handle) {
  auto id = parse_runtime_id(handle.runtime_id);
  if (!id) return false;
  if (auto it = children_.find(handle.runtime_id); it != children_.end()) it->second->try_wait();
  return process_matches(id->pid, id->start_time) &&
         process_matches(id->init_pid, id->init_start_time);
}

asio::awaitable<void> ProcessDriver::wait_started(RuntimeHandle handle,
                                                  std::chrono::steady_clock::time_point deadline) {
  auto it = readiness_.find(handle.runtime_id);
  if (it == readiness_.end()) co_return;
  // Ship writes "ready" once it serves; EOF (nothing written) means it ended first.
  asio::posix::stream_descriptor pipe(io_, it->second.release());
  readiness_.erase(it);
  std::array<char, 16> buf{};
  asio::steady_timer expiry(io_, deadline);
  using namespace asio::experimental::awaitable_operators;
  auto read = pipe.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
  auto timeout = expiry.async_wait(asio::as_tuple(asio::use_awaitable));
  co_await (std::move(read) || std::move(timeout));
}

std::shared_ptr<ProcessDriver::Teardown> ProcessDriver::begin_teardown(
    const std::string& runtime_id) {
  auto t = std::make_shared<Teardown>();
  t->id = *parse_runtime_id(runtime_id);
  t->session_dir = sessions_dir_ + "/" + t->id.session_id;
  auto rec_text = read_file(t->session_dir + "/" + kRuntimeRecordName, 1 << 16);
  auto rec = rec_text ? parse_runtime_record(*rec_text) : std::nullopt;
  // The record is Bay's own (the sandbox cannot write the session directory); without
  // it the cgroup locations follow from the current configuration.
  t->cgroups = rec && rec->runtime_id == runtime_id
                   ? rec->cgroups
                   : session_cgroup_dirs(probe_.facts, t->id.session_id);
  t->init_fd = UniqueFd(open_pidfd_checked(t->id.init_pid, t->id.init_start_time));
  t->bwrap_fd = UniqueFd(open_pidfd_checked(t->id.pid, t->id.start_time));
  t->was_dead = !t->init_fd || pidfd_exited(t->init_fd.get());
  if (t->was_dead) t->log_tail = log_tail(t->session_dir + "/ship.log");
  // Killing the pid namespace's init makes the kernel kill every process in the
  // namespace; the outer bwrap then reaps it and exits by itself (killing bwrap too
  // would orphan the init to the host's init). The cgroup sweep catches anything else.
  if (t->init_fd) {
    pidfd_kill(t->init_fd.get(), SIGKILL);
  } else if (t->bwrap_fd) {
    pidfd_kill(t->bwrap_fd.get(), SIGKILL);
  }
  for (const auto& cg : t->cgroups) kill_cgroup_members(cg);
  return t;
}

Status ProcessDriver::finish_teardown(const Teardown& t) {
  Status result;
  for (const auto& cg : t.cgroups) {
    Status s = remove_cgroup(cg);
    // A cgroup whose last task just exited can refuse rmdir for a moment.
    for (int i = 0; i < 50 && !s && cgroup_empty(cg); ++i) {
      std::this_thread::sleep_for(kExitPoll);
      s = remove_cgroup(cg);
    }
    if (!s && result) result = std::move(s).error();
  }
  if (auto s = remove_tree(t.session_dir); !s && result) result = std::move(s).error();
  return result;
}

asio::awaitable<Status> ProcessDriver::destroy(RuntimeHandle handle) {
  if (!parse_runtime_id(handle.runtime_id)) {
    Error e(ErrorCode::kInvalidArgument, "not a process driver runtime");
    e.context = handle.runtime_id;
    co_return e;
  }
  std::string runtime_id = handle.runtime_id;
  readiness_.erase(runtime_id);
  auto begin = [this, runtime_id] { return begin_teardown(runtime_id); };
  std::shared_ptr<Teardown> t = co_await offload(pool_, std::move(begin));
  if (t->was_dead && !t->log_tail.empty()) {
    spdlog::info("session {}: the sandbox had ended; last output: {}", t->id.session_id,
                 t->log_tail);
  }

  // Wait asynchronously for the processes to be gone (pidfd polls and cgroupfs reads
  // do not block).
  auto gone = [&t] {
    if (t->init_fd && !pidfd_exited(t->init_fd.get())) return false;
    if (t->bwrap_fd && !pidfd_exited(t->bwrap_fd.get())) return false;
    for (const auto& cg : t->cgroups) {
      if (!cgroup_empty(cg)) return false;
    }
    return true;
  };
  auto now = std::chrono::steady_clock::now();
  auto deadline = now + kExitDeadline;
  auto kill_bwrap_at = now + kBwrapGrace;
  asio::steady_timer timer(io_);
  while (!gone() && std::chrono::steady_clock::now() < deadline) {
    if (auto it = children_.find(runtime_id); it != children_.end()) it->second->try_wait();
    if (t->bwrap_fd && std::chrono::steady_clock::now() >= kill_bwrap_at) {
      pidfd_kill(t->bwrap_fd.get(), SIGKILL);  // a wedged bwrap; never expected
    }
    timer.expires_after(kExitPoll);
    co_await timer.async_wait(asio::use_awaitable);
  }
  if (auto it = children_.find(runtime_id); it != children_.end()) {
    it->second->try_wait();
    children_.erase(it);  // an unreaped child is handed to a reaper coroutine
  }
  if (auto it = slirps_.find(runtime_id); it != slirps_.end()) {
    // Normally gone with the cgroup or the sandbox's end; without cgroups it may take
    // a moment to notice the closed pipe.
    if (!it->second->try_wait()) it->second->signal(SIGKILL);
    slirps_.erase(it);
  }
  if (!gone()) {
    Error e(ErrorCode::kInternal, "the sandbox processes did not exit");
    e.context = "destroying session " + t->id.session_id + ": processes still running after " +
                std::to_string(kExitDeadline.count()) + " s";
    co_return e;
  }
  auto finish = [this, t] { return finish_teardown(*t); };
  auto s = co_await offload(pool_, std::move(finish));
  if (!s) co_return std::move(s).error().with_context("destroying session " + t->id.session_id);
  co_return Status{};
}

asio::awaitable<Result<std::vector<RuntimeInfo>>> ProcessDriver::list_runtimes(
    std::string instance_id) {
  auto job = [this, instance_id]() -> Result<std::vector<RuntimeInfo>> {
    std::vector<RuntimeInfo> out;
    DIR* d = ::opendir(sessions_dir_.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return out;
      return system_error("opendir " + sessions_dir_, errno);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (is_safe_id(e->d_name)) names.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& name : names) {
      auto text = read_file(sessions_dir_ + "/" + name + "/" + kRuntimeRecordName, 1 << 16);
      if (!text) continue;
      auto rec = parse_runtime_record(*text);
      if (!rec || rec->instance_id != instance_id || rec->session_id != name) continue;
      auto id = parse_runtime_id(rec->runtime_id);
      if (!id || id->session_id != name || !process_matches(id->pid, id->start_time) ||
          !process_matches(id->init_pid, id->init_start_time)) {
        continue;
      }
      out.push_back(RuntimeInfo{RuntimeHandle{rec->runtime_id, rec->endpoint}, rec->session_id,
                                rec->instance_id, rec->sandbox_id});
    }
    return out;
  };
  auto r = co_await offload(pool_, std::move(job));
  if (!r) co_return std::move(r).error().with_context("listing runtimes");
  co_return r;
}

}  // namespace shipyard::bay
