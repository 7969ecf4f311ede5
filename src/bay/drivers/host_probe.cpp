#include "bay/drivers/host_probe.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "bay/drivers/host_io.hpp"
#include "bay/drivers/seccomp_filter.hpp"
#include "common/process/spawn.hpp"
#include "common/strings.hpp"

namespace shipyard::bay {

namespace {

const char* const kWanted[] = {"memory", "cpu", "pids"};

std::string unescape_mount(std::string_view s) {
  // mountinfo escapes space, tab, newline and backslash as \ooo.
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  for (auto f : split(line, ' ')) {
    if (!f.empty()) out.push_back(f);
  }
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Creates every missing directory of `base`/`parts...`, calling `each` on every level
// (including `base`) before descending. Returns the final path or an error text.
template <typename F>
std::optional<std::string> make_parents(const std::string& base,
                                        const std::vector<std::string>& parts, F each,
                                        std::string& err) {
  std::string path = base;
  if (!each(path, err)) return std::nullopt;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    path += "/" + parts[i];
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      err = "cannot create " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    if (!each(path, err)) return std::nullopt;
  }
  return path;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

CgroupFacts probe_v2(const std::string& mount, const std::vector<std::string>& parent) {
  CgroupFacts f;
  auto line = read_file(mount + "/cgroup.controllers", 4096);
  std::vector<std::string> ctrls = line ? wanted_controllers(*line) : std::vector<std::string>{};
  std::string enable;
  for (const auto& c : ctrls) enable += (enable.empty() ? "+" : " +") + c;
  std::string err;
  auto enable_here = [&](const std::string& dir, std::string& e) {
    auto have = read_file(dir + "/cgroup.subtree_control", 4096);
    if (have && wanted_controllers(*have).size() == ctrls.size()) return true;
    int errnum = 0;
    if (auto s = write_existing_file(dir + "/cgroup.subtree_control", enable, &errnum); !s) {
      e = "cannot enable " + enable + " in " + dir + ": " + std::strerror(errnum) +
          (errnum == EBUSY ? " (the cgroup holds processes; configure an empty parent)" : "");
      return false;
    }
    return true;
  };
  auto dir = make_parents(mount, parent, enable_here, err);
  if (!dir) {
    f.reason = err;
    return f;
  }
  f.mode = CgroupMode::kV2;
  CgroupHierarchy h;
  h.parent = *dir;
  h.sandbox_path = "/sys/fs/cgroup";
  h.controllers = ctrls;
  h.swap_limit = exists(*dir + "/memory.swap.max");
  f.hierarchies.push_back(std::move(h));
  return f;
}

CgroupFacts probe_v1(const CgroupMounts& mounts, const std::vector<std::string>& parent) {
  CgroupFacts f;
  std::vector<std::string> problems;
  // One hierarchy per mount point (cpu may share a mount with cpuacct, say).
  std::vector<std::pair<std::string, std::vector<std::string>>> by_mount;
  for (const char* c : kWanted) {
    auto it = mounts.v1.find(c);
    if (it == mounts.v1.end()) {
      problems.push_back(std::string("no v1 ") + c + " controller mounted");
      continue;
    }
    auto m = std::find_if(by_mount.begin(), by_mount.end(),
                          [&](const auto& p) { return p.first == it->second; });
    if (m == by_mount.end()) {
      by_mount.push_back({it->second, {c}});
    } else {
      m->second.push_back(c);
    }
  }
  for (const auto& [mount, ctrls] : by_mount) {
    std::string err;
    auto dir = make_parents(
        mount, parent, [](const std::string&, std::string&) { return true; }, err);
    if (!dir) {
      problems.push_back(err);
      continue;
    }
    CgroupHierarchy h;
    h.parent = *dir;
    h.sandbox_path = "/sys/fs/cgroup/" + std::filesystem::path(mount).filename().string();
    h.controllers = ctrls;
    h.swap_limit = std::find(ctrls.begin(), ctrls.end(), "memory") != ctrls.end() &&
                   exists(*dir + "/memory.memsw.limit_in_bytes");
    f.hierarchies.push_back(std::move(h));
  }
  f.mode = f.hierarchies.empty() ? CgroupMode::kNone : CgroupMode::kV1;
  f.reason = join(problems, "; ");
  return f;
}

// Runs `bwrap --version` and `bwrap --help` (before serving: blocking is fine here).
std::string run_capture(const std::string& exe, const std::string& arg) {
  boost::asio::io_context io;
  auto out = process::make_pipe(process::ParentEnd::kRead);
  if (!out) return {};
  process::SpawnSpec spec;
  spec.executable = exe;
  spec.argv = {exe, arg};
  spec.env = {"PATH=/usr/bin:/bin", "LANG=C"};
  spec.fds = {{1, out->write.get()}, {2, out->write.get()}};
  auto child = process::spawn(io.get_executor(), spec);
  out->write.reset();
  if (!child) return {};
  int flags = ::fcntl(out->read.get(), F_GETFL);
  ::fcntl(out->read.get(), F_SETFL, flags & ~O_NONBLOCK);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out->read.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || text.size() > (1 << 20)) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  auto status = boost::asio::co_spawn(io, child->wait(), boost::asio::use_future);
  io.run();
  status.get();
  return text;
}

// The sandbox uid must be able to reach `path` (bwrap resolves mount sources as that
// user): every ancestor needs search permission for "others".
void check_traversable(const std::string& path, const char* what,
                       std::vector<std::string>& warnings) {
  std::filesystem::path p(path);
  for (auto dir = p.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      warnings.push_back(std::string(what) + " " + path +
                         " is not reachable by sandbox uids: " + dir.string() + " lacks o+x");
      return;
    }
    if (dir == dir.root_path()) break;
  }
}

}  // namespace

std::vector<MountInfoEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountInfoEntry> out;
  for (auto line : split(text, '\n')) {
    auto f = fields_of(line);
    // id parent major:minor root mount-point options [optional...] - fstype source super
    auto sep = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 5 || sep == f.end() || f.end() - sep < 4) continue;
    MountInfoEntry e;
    e.root = unescape_mount(f[3]);
    e.mount_point = unescape_mount(f[4]);
    e.fstype = std::string(sep[1]);
    for (auto o : split(sep[3], ',')) e.super_options.emplace_back(o);
    out.push_back(std::move(e));
  }
  return out;
}

CgroupMounts find_cgroup_mounts(const std::vector<MountInfoEntry>& mounts) {
  CgroupMounts out;
  for (const auto& m : mounts) {
    if (m.fstype == "cgroup2") {
      if (!out.unified) out.unified = m.mount_point;
    } else if (m.fstype == "cgroup") {
      for (const char* c : kWanted) {
        if (std::find(m.super_options.begin(), m.super_options.end(), c) != m.super_options.end() &&
            !out.v1.contains(c)) {
          out.v1[c] = m.mount_point;
        }
      }
    }
  }
  return out;
}

std::optional<std::vector<std::string>> split_cgroup_parent(const std::string& setting) {
  std::vector<std::string> parts;
  std::string_view s = trim(setting);
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.empty()) return std::vector<std::string>{"shipyard"};
  for (auto p : split(s, '/')) {
    std::string part(p);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos) {
      return std::nullopt;
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

std::vector<std::string> wanted_controllers(std::string_view controllers_line) {
  std::set<std::string_view> have;
  for (auto w : split(trim(controllers_line), ' ')) have.insert(w);
  std::vector<std::string> out;
  for (const char* c : kWanted) {
    if (have.contains(c)) out.emplace_back(c);
  }
  return out;
}

BwrapFeatures parse_bwrap_help(std::string_view help) {
  auto has = [&](std::string_view opt) {
    for (auto line : split(help, '\n')) {
      auto t = trim(line);
      if (t.substr(0, opt.size()) == opt && (t.size() == opt.size() || t[opt.size()] == ' ')) {
        return true;
      }
    }
    return false;
  };
  return {has("--size"), has("--perms"), has("--disable-userns")};
}

void probe_outbound(HostFacts& f, const std::string& search_path) {
  f.slirp4netns = process::find_executable("slirp4netns", search_path);
  if (f.slirp4netns.empty() || f.slirp4netns[0] != '/') {
    f.slirp4netns.clear();
    f.outbound_unavailable = "slirp4netns is not installed (scripts/setup.sh installs it)";
    return;
  }
  // slirp4netns runs as the sandbox's uid and opens the tun device itself.
  struct stat st {};
  bool usable = false;
  if (::stat("/dev/net/tun", &st) == 0 && S_ISCHR(st.st_mode)) {
    usable = f.root ? (st.st_mode & 0006) == 0006 : ::access("/dev/net/tun", R_OK | W_OK) == 0;
  }
  f.outbound_unavailable = usable
                               ? std::string()
                               : std::string(
                                     "/dev/net/tun is missing or not read-writable by sandbox uids "
                                     "(Debian's udev makes it 0666)");
}

ProbeResult probe_host(const ProcessDriverConfig& cfg, const std::string& sessions_dir) {
  ProbeResult r;
  HostFacts& f = r.facts;
  f.root = ::geteuid() == 0;
  f.own_uid = ::geteuid();
  f.own_gid = ::getegid();
  f.sessions_dir = sessions_dir;

  for (const char* name : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    std::string path = std::string("/") + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char buf[256];
      ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
      if (n <= 0) continue;
      std::string target(buf, static_cast<std::size_t>(n));
      if (target.rfind("usr/", 0) == 0 || target.rfind("/usr/", 0) == 0) {
        f.usr_symlinks.emplace_back(name, target);
      }
    } else if (S_ISDIR(st.st_mode)) {
      f.usr_split_dirs.emplace_back(name);
    }
  }

  if (DIR* d = ::opendir("/etc")) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") f.etc_entries.push_back(n);
    }
    ::closedir(d);
    std::sort(f.etc_entries.begin(), f.etc_entries.end());
  }

  if (::access(cfg.bwrap.c_str(), X_OK) == 0) {
    r.bwrap_version = std::string(trim(run_capture(cfg.bwrap, "--version")));
    auto features = parse_bwrap_help(run_capture(cfg.bwrap, "--help"));
    f.bwrap_size = features.size;
    f.bwrap_perms = features.perms;
    f.bwrap_disable_userns = features.disable_userns;
  }
  if (r.bwrap_version.empty()) r.warnings.push_back("bwrap is not usable at " + cfg.bwrap);

  if (auto bpf = build_seccomp_bpf(); bpf) {
    r.seccomp_bpf = std::move(*bpf);
    f.seccomp = true;
  } else {
    r.warnings.push_back("no seccomp filter: " + bpf.error().context);
  }
  for (const auto& name : proc_masked_files()) {
    if (exists("/proc/" + name)) f.proc_mask_files.push_back(name);
  }
  for (const auto& name : proc_masked_dirs()) {
    if (exists("/proc/" + name)) f.proc_mask_dirs.push_back(name);
  }
  for (const auto& name : proc_readonly_dirs()) {
    if (exists("/proc/" + name)) f.proc_readonly_dirs.push_back(name);
  }
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && !f.root) f.nofile_hard = rl.rlim_max;
  probe_outbound(f, "/usr/local/bin:/usr/bin:/bin");

  auto parent = split_cgroup_parent(cfg.cgroup_parent);
  if (!f.root) {
    f.cgroups.reason = "Bay is not running as root";
  } else if (!parent) {
    f.cgroups.reason = "invalid cgroup_parent " + cfg.cgroup_parent;
  } else {
    auto info = read_file("/proc/self/mountinfo", 4 << 20);
    auto mounts = find_cgroup_mounts(info ? parse_mountinfo(*info) : std::vector<MountInfoEntry>{});
    bool v2_usable = false;
    if (mounts.unified) {
      auto line = read_file(*mounts.unified + "/cgroup.controllers", 4096);
      if (line) {
        auto c = wanted_controllers(*line);
        v2_usable = std::find(c.begin(), c.end(), "memory") != c.end();
      }
    }
    if (v2_usable) {
      f.cgroups = probe_v2(*mounts.unified, *parent);
    } else if (!mounts.v1.empty()) {
      f.cgroups = probe_v1(mounts, *parent);
    } else {
      f.cgroups.reason = "no cgroup controllers available";
    }
  }

  if (f.root) {
    check_traversable(sessions_dir, "the sessions directory", r.warnings);
    check_traversable(cfg.ship_app_dir + "/bin", "the Ship app directory", r.warnings);
  }
  return r;
}

std::string describe_probe(const ProbeResult& probe, const ProcessDriverConfig& cfg) {
  const HostFacts& f = probe.facts;
  std::string s =
      "process driver: " +
      (probe.bwrap_version.empty() ? std::string("bwrap unusable") : probe.bwrap_version) + " at " +
      cfg.bwrap + "; namespaces user, mount, pid, ipc, uts, net, cgroup";
  if (f.bwrap_disable_userns) s += " (nested user namespaces disabled)";
  s += f.seccomp ? "; seccomp deny list (EPERM), native ABI only" : "; NO seccomp filter";
  s += "; masked /proc kernel interfaces";
  s += "; network none (private loopback)";
  s += f.outbound_unavailable.empty() ? "; network outbound: slirp4netns (host loopback blocked)"
                                      : "; network outbound unavailable: " + f.outbound_unavailable;
  if (f.root) {
    s += "; sandboxes run as host uids " + std::to_string(cfg.uid_base) + "-" +
         std::to_string(std::uint64_t{cfg.uid_base} + cfg.uid_count - 1) +
         " (uid 1000 inside), no capabilities, no_new_privs";
  } else {
    s += "; sandboxes run as Bay's uid " + std::to_string(f.own_uid) +
         " (uid 1000 inside), no capabilities, no_new_privs";
  }
  bool has_memory = false, has_pids = false;
  if (f.cgroups.mode == CgroupMode::kNone) {
    s += "; DEGRADED: no cgroups (" + f.cgroups.reason +
         "), rlimits only: address space = profile memory, processes = pids_limit per uid";
  } else {
    s += f.cgroups.mode == CgroupMode::kV2 ? "; cgroup v2:" : "; cgroup v1:";
    for (const auto& h : f.cgroups.hierarchies) {
      for (const auto& c : h.controllers) {
        has_memory |= c == "memory";
        has_pids |= c == "pids";
        s += " " + c;
        if (c == "memory" && h.swap_limit) s += "(+swap)";
      }
      s += " at " + h.parent + ";";
    }
    s.pop_back();
    if (!f.cgroups.reason.empty()) s += " (partial: " + f.cgroups.reason + ")";
    if (!has_memory) s += "; no memory cgroup: address-space rlimit instead";
    if (!has_pids) s += "; no pids cgroup: nproc rlimit instead";
  }
  if (!f.bwrap_size) s += "; /tmp size not capped (bwrap lacks --size)";
  for (const auto& w : probe.warnings) s += "; WARNING: " + w;
  return s;
}

}  // namespace shipyard::bay
