#include "bay/drivers/sandbox_plan.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace shipyard::bay {

namespace {

// bwrap's own descriptors in the child; 0-2 are stdin (/dev/null) and the log.
constexpr int kInfoFd = 3;
constexpr int kArgsFd = 4;
constexpr int kFirstFileFd = 5;  // then the seccomp program, block, ready, slirp's exit pipe

// Descriptors per sandbox process: plenty for Ship and ordinary programs, and a hard
// cap user code cannot raise (no CAP_SYS_RESOURCE), so one process cannot pin an
// unbounded number of open files.
constexpr rlim_t kNoFile = 4096;

// The slirp4netns network, as its defaults lay it out (10.0.2.0/24; the sandbox is
// 10.0.2.100, the gateway 10.0.2.2, DNS 10.0.2.3). 65520 is its recommended MTU.
const char* const kSlirpMtu = "65520";
const char* const kSlirpDns = "10.0.2.3";
const char* const kSlirpTap = "tap0";

constexpr std::int64_t kCpuPeriodUs = 100000;
constexpr std::int64_t kMinCpuQuotaUs = 1000;  // the kernel refuses less than 1 ms

const char* const kSandboxPath = "/usr/local/bin:/usr/bin:/bin";

Error invalid(std::string msg) { return Error(ErrorCode::kInvalidArgument, std::move(msg)); }

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool is_absolute_clean(const std::string& p) {
  if (p.empty() || p[0] != '/' || has_nul(p)) return false;
  // ".." components would make the mount source differ from what was validated.
  std::string_view rest(p);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto part = rest.substr(0, slash);
    if (part == "..") return false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return true;
}

bool is_env_name(const std::string& name) {
  return !name.empty() && name.find('=') == std::string::npos && !has_nul(name);
}

// Environment entries in order; a later entry with the same name replaces the value in
// place (glibc's getenv returns the first match, so duplicates must not survive).
void set_env(std::vector<std::pair<std::string, std::string>>& env, const std::string& name,
             const std::string& value) {
  for (auto& [k, v] : env) {
    if (k == name) {
      v = value;
      return;
    }
  }
  env.emplace_back(name, value);
}

bool has_controller(const HostFacts& facts, std::string_view c) {
  for (const auto& h : facts.cgroups.hierarchies) {
    if (std::find(h.controllers.begin(), h.controllers.end(), c) != h.controllers.end()) {
      return true;
    }
  }
  return false;
}

PlannedCgroup plan_cgroup(const CgroupHierarchy& h, CgroupMode mode, const Profile& p,
                          const std::string& session_id) {
  PlannedCgroup cg;
  cg.path = h.parent + "/" + session_id;
  const bool v2 = mode == CgroupMode::kV2;
  const std::string mem = std::to_string(p.resources.memory_bytes);
  auto quota = std::max<std::int64_t>(
      kMinCpuQuotaUs, std::llround(p.resources.cpus * static_cast<double>(kCpuPeriodUs)));
  for (const auto& c : h.controllers) {
    if (c == "memory") {
      if (v2) {
        cg.settings.emplace_back("memory.max", mem);
        // Without swap the limit is what a process can really hold; swapping a
        // sandbox's memory out would only slow the host down.
        if (h.swap_limit) cg.settings.emplace_back("memory.swap.max", "0");
      } else {
        // memsw must be written after the memory limit: the kernel requires
        // memsw >= limit at every moment.
        cg.settings.emplace_back("memory.limit_in_bytes", mem);
        if (h.swap_limit) cg.settings.emplace_back("memory.memsw.limit_in_bytes", mem);
      }
    } else if (c == "cpu") {
      if (v2) {
        cg.settings.emplace_back("cpu.max",
                                 std::to_string(quota) + " " + std::to_string(kCpuPeriodUs));
      } else {
        cg.settings.emplace_back("cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
        cg.settings.emplace_back("cpu.cfs_quota_us", std::to_string(quota));
      }
    } else if (c == "pids") {
      cg.settings.emplace_back("pids.max", std::to_string(p.pids_limit));
    }
  }
  return cg;
}

void add(std::vector<std::string>& v, std::initializer_list<std::string> items) {
  v.insert(v.end(), items.begin(), items.end());
}

}  // namespace

const std::vector<std::string>& curated_etc_entries() {
  static const std::vector<std::string> kEntries = {
      "alternatives",   "bash.bashrc",   "ca-certificates", "ca-certificates.conf",
      "debian_version", "fonts",         "gai.conf",        "host.conf",
      "inputrc",        "ld.so.cache",   "ld.so.conf",      "ld.so.conf.d",
      "locale.alias",   "localtime",     "lsb-release",     "magic",
      "magic.mime",     "matplotlibrc",  "mime.types",      "nsswitch.conf",
      "os-release",     "protocols",     "services",        "ssl",
      "timezone",       "ImageMagick-*", "java-*",          "python3*",
  };
  return kEntries;
}

bool is_curated_etc_entry(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return false;
  }
  for (const auto& e : curated_etc_entries()) {
    if (!e.empty() && e.back() == '*') {
      if (name.compare(0, e.size() - 1, e, 0, e.size() - 1) == 0) return true;
    } else if (name == e) {
      return true;
    }
  }
  return false;
}

bool is_safe_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

const std::vector<std::string>& proc_masked_files() {
  static const std::vector<std::string> kFiles = {
      "kcore",      "kallsyms",    "kmsg",        "keys",          "key-users",
      "timer_list", "timer_stats", "sched_debug", "latency_stats", "kpagecount",
      "kpageflags", "kpagecgroup", "vmallocinfo", "sysrq-trigger", "pagetypeinfo",
  };
  return kFiles;
}

const std::vector<std::string>& proc_masked_dirs() {
  static const std::vector<std::string> kDirs = {"acpi", "asound", "scsi", "driver"};
  return kDirs;
}

const std::vector<std::string>& proc_readonly_dirs() {
  static const std::vector<std::string> kDirs = {"sys", "irq", "bus", "fs"};
  return kDirs;
}

std::vector<std::string> slirp_argv(const HostFacts& facts, int userns_fd, int netns_fd,
                                    int ready_fd, int exit_fd) {
  auto fd_path = [](int fd) { return "/proc/self/fd/" + std::to_string(fd); };
  return {facts.slirp4netns,
          "--configure",
          std::string("--mtu=") + kSlirpMtu,
          "--disable-host-loopback",
          "--enable-seccomp",
          "--userns-path=" + fd_path(userns_fd),
          "--netns-type=path",
          "--ready-fd=" + std::to_string(ready_fd),
          "--exit-fd=" + std::to_string(exit_fd),
          fd_path(netns_fd),
          kSlirpTap};
}

std::vector<std::string> session_cgroup_dirs(const HostFacts& facts,
                                             const std::string& session_id) {
  std::vector<std::string> out;
  if (!is_safe_id(session_id)) return out;
  for (const auto& h : facts.cgroups.hierarchies) out.push_back(h.parent + "/" + session_id);
  return out;
}

std::vector<std::string> SandboxPlan::exec_argv() const {
  std::vector<std::string> argv{"bwrap", "--args", std::to_string(args_fd), "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> SandboxPlan::full_argv() const {
  std::vector<std::string> argv{bwrap};
  argv.insert(argv.end(), bwrap_options.begin(), bwrap_options.end());
  argv.emplace_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

Result<SandboxPlan> plan_session(const SessionSpec& spec, const ProcessDriverConfig& cfg,
                                 const HostFacts& facts) {
  const Profile& profile = spec.profile;
  if (!is_safe_id(spec.session_id)) return invalid("invalid session id: " + spec.session_id);
  if (!is_absolute_clean(spec.cargo_path)) {
    return invalid("the cargo path must be an absolute host path: " + spec.cargo_path);
  }
  if (!is_absolute_clean(cfg.ship_app_dir)) {
    return invalid("the Ship app directory must be an absolute path: " + cfg.ship_app_dir);
  }
  if (!is_absolute_clean(cfg.bwrap)) return invalid("bwrap must be an absolute path");
  if (!is_absolute_clean(facts.sessions_dir)) return invalid("invalid sessions directory");
  if (profile.network != "none" && profile.network != "outbound") {
    return invalid("profile " + profile.id + ": unknown network mode " + profile.network);
  }
  const bool outbound = profile.network == "outbound";
  if (outbound && (facts.slirp4netns.empty() || !facts.outbound_unavailable.empty())) {
    Error e(ErrorCode::kInternal,
            "profile " + profile.id + ": network \"outbound\" is not available on this host");
    e.context = facts.outbound_unavailable;
    return e;
  }
  // Fail closed: a sandbox without its system-call filter is never started.
  if (!facts.seccomp) {
    Error e(ErrorCode::kInternal, "the sandbox seccomp filter is not available");
    e.context = "the process driver has no seccomp program (see the start-up log)";
    return e;
  }
  if (profile.runtime_port < 1 || profile.runtime_port > 65535) {
    return invalid("profile " + profile.id + ": invalid runtime_port");
  }
  if (profile.resources.memory_bytes == 0 || !(profile.resources.cpus > 0) ||
      profile.pids_limit < 1 || profile.tmp_size_bytes == 0) {
    return invalid("profile " + profile.id + ": resources must be positive");
  }

  SandboxPlan plan;
  std::uint32_t host_uid = facts.own_uid;
  std::uint32_t host_gid = facts.own_gid;
  if (facts.root) {
    // Never run a sandbox as a uid Bay did not hand out: 0 would be host root, and a
    // low uid could be a real user of the host whose files the sandbox could then reach.
    const std::uint64_t end = std::uint64_t{cfg.uid_base} + cfg.uid_count;
    if (spec.cargo_uid < cfg.uid_base || spec.cargo_uid >= end) {
      return invalid("cargo uid " + std::to_string(spec.cargo_uid) +
                     " is outside the configured sandbox uid range");
    }
    host_uid = host_gid = spec.cargo_uid;
    plan.credentials = std::make_pair(host_uid, host_gid);
  }

  plan.session_dir = facts.sessions_dir + "/" + spec.session_id;
  plan.run_dir = plan.session_dir + "/run";
  plan.socket_path = plan.run_dir + "/" + kSocketName;
  plan.endpoint = "unix:" + plan.socket_path;
  plan.log_path = plan.session_dir + "/ship.log";
  // The session directory is Bay's (metadata the sandbox must not be able to forge);
  // 0711 lets the sandbox uid traverse it to the run directory it owns.
  plan.directories.push_back({plan.session_dir, 0711, std::nullopt});
  plan.directories.push_back(
      {plan.run_dir, 0700, facts.root ? std::optional<std::uint32_t>(host_uid) : std::nullopt});

  if (facts.cgroups.mode != CgroupMode::kNone) {
    for (const auto& h : facts.cgroups.hierarchies) {
      plan.cgroups.push_back(plan_cgroup(h, facts.cgroups.mode, profile, spec.session_id));
    }
  }

  plan.rlimits.push_back({RLIMIT_CORE, rlimit{0, 0}});  // no core files in the workspace
  {
    rlim_t n = std::min(kNoFile, facts.nofile_hard);
    plan.rlimits.push_back({RLIMIT_NOFILE, rlimit{n, n}});
  }
  // Degraded mode: per-process approximations of the limits cgroups would enforce.
  if (!has_controller(facts, "memory")) {
    rlim_t mem = static_cast<rlim_t>(profile.resources.memory_bytes);
    plan.rlimits.push_back({RLIMIT_AS, rlimit{mem, mem}});
  }
  if (!has_controller(facts, "pids")) {
    rlim_t n = static_cast<rlim_t>(profile.pids_limit);
    plan.rlimits.push_back({RLIMIT_NPROC, rlimit{n, n}});
  }

  // Generated files.
  plan.files.push_back({"/etc/passwd",
                        "root:x:0:0:root:/root:/bin/bash\n"
                        "shipyard:x:1000:1000::/workspace:/bin/bash\n"
                        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                        -1});
  plan.files.push_back({"/etc/group", "root:x:0:\nshipyard:x:1000:\nnogroup:x:65534:\n", -1});
  plan.files.push_back({"/etc/hosts",
                        std::string("127.0.0.1\tlocalhost\n"
                                    "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                    "127.0.1.1\t") +
                            kSandboxHostname + "\n",
                        -1});
  plan.files.push_back({"/etc/hostname", std::string(kSandboxHostname) + "\n", -1});
  if (outbound) {
    // slirp4netns forwards DNS on its virtual network to the host's resolvers.
    plan.files.push_back({"/etc/resolv.conf", std::string("nameserver ") + kSlirpDns + "\n", -1});
  }
  int next_fd = kFirstFileFd;
  for (auto& f : plan.files) f.child_fd = next_fd++;
  plan.info_fd = kInfoFd;
  plan.args_fd = kArgsFd;
  plan.seccomp_fd = next_fd++;
  plan.block_fd = next_fd++;
  plan.ready_fd = next_fd++;
  plan.outbound = outbound;
  if (outbound) plan.slirp_exit_fd = next_fd++;

  // bwrap options. Order matters: mounts are applied in sequence, and the root is made
  // read-only last.
  auto& o = plan.bwrap_options;
  add(o, {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
          "--unshare-cgroup-try"});
  if (facts.bwrap_disable_userns) o.emplace_back("--disable-userns");
  add(o, {"--uid", std::to_string(kSandboxUid), "--gid", std::to_string(kSandboxGid)});
  // No capabilities, not even inside the sandbox's own user namespace (bwrap drops them
  // for a non-root uid anyway; saying so keeps it true whatever bwrap's defaults).
  add(o, {"--cap-drop", "ALL"});
  add(o, {"--hostname", kSandboxHostname, "--new-session"});
  add(o, {"--info-fd", std::to_string(plan.info_fd)});
  // Loaded by bwrap right before it executes Ship, after no_new_privs.
  add(o, {"--seccomp", std::to_string(plan.seccomp_fd)});
  // The sandbox's mounts are set up while Bay moves bwrap into the session's cgroups;
  // Ship is started only after Bay writes to this pipe.
  add(o, {"--block-fd", std::to_string(plan.block_fd)});
  auto perms = [&](const char* mode) {
    if (facts.bwrap_perms) add(o, {"--perms", mode});
  };
  auto sized_tmpfs = [&](const char* where) {
    perms("1777");
    if (facts.bwrap_size) add(o, {"--size", std::to_string(profile.tmp_size_bytes)});
    add(o, {"--tmpfs", where});
  };
  add(o, {"--ro-bind", "/usr", "/usr"});
  for (const auto& [name, target] : facts.usr_symlinks) add(o, {"--symlink", target, "/" + name});
  for (const auto& d : facts.usr_split_dirs) add(o, {"--ro-bind", "/" + d, "/" + d});
  add(o, {"--proc", "/proc", "--dev", "/dev"});
  // Kernel interfaces: files that leak kernel addresses, page frames, keys or timers
  // are covered with /dev/null (on a nodev bind: they cannot even be opened), hardware
  // directories with an empty read-only tmpfs, tunables read-only. The entries are the
  // sandbox's own procfs (same kernel); bwrap needs them to exist, hence the probe.
  for (const auto& f : facts.proc_mask_files) add(o, {"--ro-bind", "/dev/null", "/proc/" + f});
  for (const auto& d : facts.proc_mask_dirs) {
    perms("0555");
    if (facts.bwrap_size) add(o, {"--size", "4096"});
    add(o, {"--tmpfs", "/proc/" + d, "--remount-ro", "/proc/" + d});
  }
  // The host's /proc/<dir> shows the same kernel tables: sysctls follow the reading
  // process's namespaces, not the procfs instance.
  for (const auto& d : facts.proc_readonly_dirs) add(o, {"--ro-bind", "/proc/" + d, "/proc/" + d});
  sized_tmpfs("/tmp");
  sized_tmpfs("/dev/shm");
  // /dev itself is a tmpfs owned by the sandbox user; read-only it cannot be used to
  // store data outside the sized mounts (the device nodes are separate bind mounts).
  add(o, {"--remount-ro", "/dev"});
  perms("0755");
  add(o, {"--dir", "/etc"});
  std::vector<std::string> etc = facts.etc_entries;
  std::sort(etc.begin(), etc.end());
  for (const auto& name : etc) {
    if (!is_curated_etc_entry(name)) continue;
    add(o, {"--ro-bind-try", "/etc/" + name, "/etc/" + name});
  }
  for (const auto& f : plan.files) {
    perms("0644");
    add(o, {"--ro-bind-data", std::to_string(f.child_fd), f.sandbox_path});
  }
  add(o, {"--ro-bind", cfg.ship_app_dir, kAppMount});
  perms("0755");
  add(o, {"--dir", "/run"});
  add(o, {"--bind", plan.run_dir, kRunMount});
  add(o, {"--bind", spec.cargo_path, kWorkspace});
  if (!plan.cgroups.empty()) {
    for (const char* d : {"/sys", "/sys/fs", "/sys/fs/cgroup"}) {
      perms("0755");
      add(o, {"--dir", d});
    }
    for (std::size_t i = 0; i < plan.cgroups.size(); ++i) {
      add(o, {"--ro-bind", plan.cgroups[i].path, facts.cgroups.hierarchies[i].sandbox_path});
    }
  }
  add(o, {"--remount-ro", "/", "--chdir", kWorkspace});

  plan.bwrap = cfg.bwrap;
  plan.command = {std::string(kAppMount) + "/bin/ship",
                  "--workspace",
                  kWorkspace,
                  "--unix",
                  std::string(kRunMount) + "/" + kSocketName,
                  "--listen",
                  "127.0.0.1:" + std::to_string(profile.runtime_port),
                  "--ready-fd",
                  std::to_string(plan.ready_fd)};

  // The environment reaches Ship through bwrap's own environment rather than
  // --setenv: command lines are world-readable on the host, environments are not, and
  // profile variables may hold secrets.
  std::vector<std::pair<std::string, std::string>> env;
  set_env(env, "HOME", kWorkspace);
  set_env(env, "USER", kSandboxUser);
  set_env(env, "LOGNAME", kSandboxUser);
  set_env(env, "SHELL", "/bin/bash");
  set_env(env, "PATH", kSandboxPath);
  set_env(env, "LANG", "C.UTF-8");
  set_env(env, "SHIP_STATE_DIR", "/tmp/.ship");
  for (const auto& [k, v] : spec.env) {
    if (!is_env_name(k) || has_nul(v)) return invalid("invalid environment variable name " + k);
    set_env(env, k, v);
  }
  for (auto& [k, v] : env) plan.env.push_back(k + "=" + v);
  return plan;
}

}  // namespace shipyard::bay
