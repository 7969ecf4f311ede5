#include "bay/drivers/host_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/unique_fd.hpp"

namespace shipyard::bay {

Result<std::string> read_file(const std::string& path, std::size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) {
      Error e(ErrorCode::kNotFound, "file not found");
      e.context = path;
      return e;
    }
    return system_error("open " + path, err);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("read " + path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) return Error(ErrorCode::kInternal, "file too large: " + path);
  }
  return out;
}

Status write_existing_file(const std::string& path, std::string_view content, int* errno_out) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  ssize_t n = -1;
  if (fd) {
    do {
      n = ::write(fd.get(), content.data(), content.size());
    } while (n < 0 && errno == EINTR);
  }
  if (!fd || n != static_cast<ssize_t>(content.size())) {
    int err = n >= 0 ? EIO : errno;
    if (errno_out != nullptr) *errno_out = err;
    return system_error("writing " + std::string(content) + " to " + path, err);
  }
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view content) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return system_error("creating " + tmp, errno);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("writing " + tmp, errno);
    done += static_cast<std::size_t>(n);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return system_error("rename " + path, errno);
  return {};
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  // After the comm field: field 3 (state) is the first, field 22 (starttime) the 20th.
  ProcStat st;
  int field = 2;
  std::size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    std::size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    if (start == i) break;
    ++field;
    std::string_view tok = rest.substr(start, i - start);
    if (field == 3) {
      st.state = tok[0];
    } else if (field == 22) {
      auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), st.start_time);
      if (ec != std::errc() || p != tok.data() + tok.size()) return std::nullopt;
      return st;
    }
  }
  return std::nullopt;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

bool process_matches(pid_t pid, std::uint64_t start_time) {
  auto st = read_proc_stat(pid);
  return st && st->start_time == start_time && st->state != 'Z' && st->state != 'X';
}

int open_pidfd_checked(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return -1;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return -1;
  auto st = read_proc_stat(pid);
  if (!st || st->start_time != start_time) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool pidfd_kill(int pidfd, int sig) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

bool pidfd_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  int n = ::poll(&p, 1, 0);
  return n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace shipyard::bay
