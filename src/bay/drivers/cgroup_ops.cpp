#include "bay/drivers/cgroup_ops.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>

#include "bay/drivers/host_io.hpp"
#include "common/strings.hpp"
#include "common/unique_fd.hpp"

namespace shipyard::bay {

namespace {

std::set<pid_t> read_members(const std::string& dir) {
  std::set<pid_t> out;
  auto text = read_file(dir + "/cgroup.procs", 16 << 20);
  if (!text) return out;
  for (auto line : split(*text, '\n')) {
    pid_t pid = 0;
    auto t = trim(line);
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), pid);
    if (ec == std::errc() && p == t.data() + t.size() && pid > 0) out.insert(pid);
  }
  return out;
}

}  // namespace

Status create_cgroups(const std::vector<PlannedCgroup>& cgroups) {
  std::vector<std::string> created;
  auto undo = [&] {
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
  };
  for (const auto& cg : cgroups) {
    if (::mkdir(cg.path.c_str(), 0755) != 0) {
      if (errno != EEXIST) {
        int err = errno;
        undo();
        return system_error("creating cgroup " + cg.path, err);
      }
    } else {
      created.push_back(cg.path);
    }
    for (const auto& [file, value] : cg.settings) {
      if (auto s = write_existing_file(cg.path + "/" + file, value); !s) {
        undo();
        return std::move(s).error().with_context("setting cgroup limit");
      }
    }
  }
  return {};
}

Status move_into_cgroup(const std::string& dir, pid_t pid) {
  if (auto s = write_existing_file(dir + "/cgroup.procs", std::to_string(pid)); !s) {
    return std::move(s).error().with_context("joining cgroup " + dir);
  }
  return {};
}

void kill_cgroup_members(const std::string& dir) {
  struct stat st {};
  if (::stat((dir + "/cgroup.kill").c_str(), &st) == 0 &&
      write_existing_file(dir + "/cgroup.kill", "1")) {
    return;
  }
  // Several rounds: a process may fork between reading the list and the kill.
  for (int round = 0; round < 8; ++round) {
    auto before = read_members(dir);
    if (before.empty()) return;
    std::vector<std::pair<pid_t, UniqueFd>> fds;
    for (pid_t pid : before) {
      UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (fd) fds.emplace_back(pid, std::move(fd));
    }
    // A pid still listed after its pidfd was opened is a member: either the process the
    // pidfd refers to, or (if that one died and the pid was recycled) a new member, in
    // which case the pidfd refers to a dead process and the signal goes nowhere.
    auto after = read_members(dir);
    for (auto& [pid, fd] : fds) {
      if (after.contains(pid)) pidfd_kill(fd.get(), SIGKILL);
    }
  }
}

bool cgroup_empty(const std::string& dir) {
  auto text = read_file(dir + "/cgroup.procs", 16 << 20);
  if (!text) return text.error().code == ErrorCode::kNotFound;
  return trim(*text).empty();
}

Status remove_cgroup(const std::string& dir) {
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return system_error("removing cgroup " + dir, errno);
  }
  return {};
}

}  // namespace shipyard::bay
