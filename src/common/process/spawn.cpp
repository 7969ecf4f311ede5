#include "common/process/spawn.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace shipyard::process {
namespace asio = boost::asio;

namespace {

// The record a child writes to the error pipe when it fails before execve.
struct ChildFailure {
  int stage;
  int err;
};

enum Stage : int {
  kStageSignals = 1,
  kStageSession,
  kStageOomScore,
  kStageFds,
  kStageChdir,
  kStageRlimit,
  kStageExec,
  kStageCgroup,
  kStageCredentials,
  kStageNoNewPrivs,
};

const char* stage_name(int stage) {
  switch (stage) {
    case kStageSignals: return "resetting signals";
    case kStageSession: return "creating the process group";
    case kStageOomScore: return "setting oom_score_adj";
    case kStageFds: return "setting up file descriptors";
    case kStageChdir: return "changing to the working directory";
    case kStageRlimit: return "setting resource limits";
    case kStageExec: return "executing";
    case kStageCgroup: return "joining the cgroups";
    case kStageCredentials: return "switching user";
    case kStageNoNewPrivs: return "setting no_new_privs";
    default: return "starting";
  }
}

// This process's oom_score_adj (0 if unreadable), read in the parent: the child
// inherits it and only needs to know whether to write.
int current_oom_score_adj() {
  int fd = ::open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[16] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  return std::atoi(buf);
}

int sys_pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int sys_close_range_cloexec(unsigned first, unsigned last) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, CLOSE_RANGE_CLOEXEC));
}

[[noreturn]] void child_fail(int errfd, int stage) {
  ChildFailure f{stage, errno};
  ssize_t ignored = ::write(errfd, &f, sizeof f);
  (void)ignored;
  ::_exit(127);
}

std::optional<ExitStatus> decode(const siginfo_t& info) {
  if (info.si_pid == 0) return std::nullopt;
  ExitStatus s;
  if (info.si_code == CLD_EXITED) {
    s.exit_code = info.si_status;
  } else {
    s.signal = info.si_status;
  }
  return s;
}

}  // namespace

std::string find_executable(const std::string& name, const std::string& search_path) {
  if (name.find('/') != std::string::npos) return name;
  for (std::size_t start = 0; start <= search_path.size();) {
    std::size_t end = search_path.find(':', start);
    if (end == std::string::npos) end = search_path.size();
    std::string dir = search_path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

Result<Pipe> make_pipe(ParentEnd parent_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return system_error("pipe2", errno);
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  int parent = parent_end == ParentEnd::kRead ? p.read.get() : p.write.get();
  int flags = ::fcntl(parent, F_GETFL);
  if (flags < 0 || ::fcntl(parent, F_SETFL, flags | O_NONBLOCK) != 0) {
    return system_error("fcntl(O_NONBLOCK)", errno);
  }
  return p;
}

Result<ChildProcess> spawn(asio::any_io_executor ex, const SpawnSpec& spec) {
  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed, so no allocation happens there.
  std::string exe = spec.search_path.empty() ? spec.executable
                                             : find_executable(spec.executable, spec.search_path);
  if (exe.empty()) {
    Error e(ErrorCode::kInvalidArgument, "executable not found: " + spec.executable);
    return e;
  }
  std::vector<char*> argv;
  argv.reserve(spec.argv.size() + 1);
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  char oom_buf[16] = {};
  std::size_t oom_len = 0;
  // Only ever raise the score: lowering it below a floor a privileged parent set
  // (oom_score_adj_min) fails with EACCES, which would make every spawn fail.
  if (spec.oom_score_adj && current_oom_score_adj() < *spec.oom_score_adj) {
    auto s = std::to_string(*spec.oom_score_adj);
    oom_len = std::min(s.size(), sizeof oom_buf - 1);
    std::memcpy(oom_buf, s.data(), oom_len);
  }

  int max_child_fd = 2;
  bool mapped[3] = {false, false, false};
  for (const auto& m : spec.fds) {
    max_child_fd = std::max(max_child_fd, m.child_fd);
    if (m.child_fd <= 2) mapped[m.child_fd] = true;
  }
  std::vector<int> targets;
  for (const auto& m : spec.fds) targets.push_back(m.child_fd);
  std::sort(targets.begin(), targets.end());
  // Temporaries in the child live at or above `base`, clear of every target.
  const int base = max_child_fd + 1;
  std::vector<int> temps(spec.fds.size(), -1);

  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return system_error("open /dev/null", errno);
  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0) return system_error("pipe2", errno);
  UniqueFd err_read(errpipe[0]);
  UniqueFd err_write(errpipe[1]);

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    // --- child: async-signal-safe only ---
    int errfd = ::fcntl(err_write.get(), F_DUPFD_CLOEXEC, base);
    if (errfd < 0) ::_exit(127);
    // /dev/null may have been opened as 0-2 (a parent started with closed standard
    // descriptors): move it clear of every target before the mappings overwrite it.
    int nullfd = ::fcntl(devnull.get(), F_DUPFD_CLOEXEC, base);
    if (nullfd < 0) child_fail(errfd, kStageFds);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for reserved signals
    }
    sigset_t none;
    sigemptyset(&none);
    if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) child_fail(errfd, kStageSignals);
    if (spec.new_session) {
      if (::setsid() < 0) child_fail(errfd, kStageSession);
    } else if (spec.new_process_group) {
      if (::setpgid(0, 0) != 0) child_fail(errfd, kStageSession);
    }
    if (oom_len > 0) {
      int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, oom_buf, oom_len) < 0) child_fail(errfd, kStageOomScore);
      ::close(fd);
    }
    for (std::size_t i = 0; i < spec.fds.size(); ++i) {
      temps[i] = ::fcntl(spec.fds[i].parent_fd, F_DUPFD_CLOEXEC, base);
      if (temps[i] < 0) child_fail(errfd, kStageFds);
    }
    for (std::size_t i = 0; i < spec.fds.size(); ++i) {
      if (::dup2(temps[i], spec.fds[i].child_fd) < 0) child_fail(errfd, kStageFds);
    }
    for (int fd = 0; fd <= 2; ++fd) {
      if (!mapped[fd] && ::dup2(nullfd, fd) < 0) child_fail(errfd, kStageFds);
    }
    // Every descriptor that is not a target is closed by execve.
    int next = 3;
    for (int t : targets) {
      if (t < next) continue;
      if (t > next)
        sys_close_range_cloexec(static_cast<unsigned>(next), static_cast<unsigned>(t - 1));
      next = t + 1;
    }
    if (sys_close_range_cloexec(static_cast<unsigned>(next), ~0U) != 0) {
      child_fail(errfd, kStageFds);
    }
    for (const auto& procs : spec.join_cgroups) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) child_fail(errfd, kStageCgroup);
      ::close(fd);
    }
    for (const auto& [resource, limit] : spec.rlimits) {
      if (::setrlimit(resource, &limit) != 0) child_fail(errfd, kStageRlimit);
    }
    if (spec.credentials) {
      // Raw system calls: glibc's wrappers synchronise every thread of the process
      // (setxid broadcast), which is not async-signal-safe after fork. The child has a
      // single thread, so the per-thread system call is exactly right.
      const auto& c = *spec.credentials;
      if (::syscall(SYS_setgroups, 0, nullptr) != 0 ||
          ::syscall(SYS_setresgid, c.gid, c.gid, c.gid) != 0 ||
          ::syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) {
        child_fail(errfd, kStageCredentials);
      }
    }
    if (spec.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      child_fail(errfd, kStageNoNewPrivs);
    }
    // After the switch: the working directory must be reachable by the new user.
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) child_fail(errfd, kStageChdir);
    ::execve(exe.c_str(), argv.data(), envp.data());
    child_fail(errfd, kStageExec);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    Error e(ErrorCode::kUnavailable,
            std::string("cannot start process: fork failed: ") + std::strerror(fork_errno));
    e.context = e.message;
    return e;
  }
  err_write.reset();
  UniqueFd pidfd(sys_pidfd_open(pid));
  int pidfd_errno = errno;

  ChildFailure failure{};
  std::size_t got = 0;
  while (got < sizeof failure) {
    ssize_t n =
        ::read(err_read.get(), reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got == sizeof failure) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string msg = std::string("cannot start ") + spec.executable + ": " +
                      stage_name(failure.stage) + ": " + std::strerror(failure.err);
    Error e(failure.stage == kStageChdir || failure.stage == kStageExec
                ? ErrorCode::kInvalidArgument
                : ErrorCode::kInternal,
            msg);
    e.context = msg;
    return e;
  }
  if (!pidfd) {
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return system_error("pidfd_open", pidfd_errno);
  }
  return ChildProcess(std::move(ex), pid, std::move(pidfd));
}

ChildProcess::ChildProcess(asio::any_io_executor ex, pid_t pid, UniqueFd pidfd) : pid_(pid) {
  pidfd_.emplace(std::move(ex), pidfd.release());
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(o.pid_), pidfd_(std::move(o.pidfd_)), status_(o.status_) {
  o.pidfd_.reset();
  o.status_ = ExitStatus{};  // the moved-from object owns nothing left to reap
}

ChildProcess::~ChildProcess() {
  if (status_ || !pidfd_ || !pidfd_->is_open()) return;
  if (try_wait()) return;
  auto desc = std::make_shared<asio::posix::stream_descriptor>(std::move(*pidfd_));
  auto ex = desc->get_executor();
  asio::co_spawn(
      ex,
      [desc]() -> asio::awaitable<void> {
        for (;;) {
          siginfo_t info{};
          if (::waitid(P_PIDFD, static_cast<id_t>(desc->native_handle()), &info,
                       WEXITED | WNOHANG) != 0 ||
              info.si_pid != 0) {
            co_return;
          }
          boost::system::error_code ec;
          co_await desc->async_wait(asio::posix::descriptor_base::wait_read,
                                    asio::redirect_error(asio::use_awaitable, ec));
          if (ec == asio::error::operation_aborted) co_return;
        }
      },
      asio::detached);
}

std::optional<ExitStatus> ChildProcess::try_wait() {
  if (status_) return status_;
  if (!pidfd_ || !pidfd_->is_open()) return std::nullopt;
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_->native_handle()), &info, WEXITED | WNOHANG) !=
      0) {
    if (errno == ECHILD) {
      // Reaped elsewhere (should not happen); report an unknown failure.
      status_ = ExitStatus{255, 0};
    }
    return status_;
  }
  status_ = decode(info);
  return status_;
}

asio::awaitable<ExitStatus> ChildProcess::wait() {
  while (!try_wait()) {
    co_await pidfd_->async_wait(asio::posix::descriptor_base::wait_read, asio::use_awaitable);
  }
  co_return *status_;
}

void ChildProcess::signal(int sig) {
  if (status_ || !pidfd_ || !pidfd_->is_open()) return;
  ::syscall(SYS_pidfd_send_signal, pidfd_->native_handle(), sig, nullptr, 0);
}

void ChildProcess::signal_group(int sig) { ::kill(-pid_, sig); }

}  // namespace shipyard::process
