#include "bay/drivers/sandbox_plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace shipyard::bay {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A host like the development machine: merged /usr, cgroup v1 controllers, bwrap 0.8.
HostFacts v1_host() {
  HostFacts f;
  f.root = true;
  f.sessions_dir = "/var/lib/bay/sessions";
  f.usr_symlinks = {
      {"bin", "usr/bin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}, {"sbin", "usr/sbin"}};
  f.etc_entries = {"passwd",      "shadow",   "ssl",         "alternatives", "os-release",
                   "machine-id",  "hosts",    "resolv.conf", "python3",      "python3.11",
                   "ld.so.cache", "pip.conf", "npmrc",       "gitconfig",    "sudoers"};
  f.bwrap_size = f.bwrap_perms = f.bwrap_disable_userns = true;
  f.cgroups.mode = CgroupMode::kV1;
  f.cgroups.hierarchies = {
      {"/sys/fs/cgroup/memory/shipyard", "/sys/fs/cgroup/memory", {"memory"}, true},
      {"/sys/fs/cgroup/cpu/shipyard", "/sys/fs/cgroup/cpu", {"cpu"}, false},
      {"/sys/fs/cgroup/pids/shipyard", "/sys/fs/cgroup/pids", {"pids"}, false},
  };
  f.seccomp = true;
  f.proc_mask_files = {"kcore", "keys"};
  f.proc_mask_dirs = {"acpi"};
  f.proc_readonly_dirs = {"sys"};
  f.slirp4netns = "/usr/bin/slirp4netns";
  f.outbound_unavailable.clear();
  return f;
}

ProcessDriverConfig config() {
  ProcessDriverConfig c;
  c.ship_app_dir = "/opt/shipyard/app";
  c.bwrap = "/usr/bin/bwrap";
  c.uid_base = 200000;
  c.uid_count = 1000;
  return c;
}

SessionSpec typical_spec() {
  SessionSpec s;
  s.session_id = "sess-abc123";
  s.sandbox_id = "sbx-1";
  s.profile.id = "python-default";
  s.profile.resources.cpus = 0.5;
  s.profile.resources.memory = "128m";
  s.profile.resources.memory_bytes = 128ull << 20;
  s.profile.pids_limit = 64;
  s.profile.tmp_size_bytes = 64ull << 20;
  s.cargo_id = "cargo-1";
  s.cargo_path = "/var/lib/bay/cargos/cargo-1";
  s.cargo_uid = 200007;
  s.env = {{"BAY_SANDBOX_ID", "sbx-1"},
           {"BAY_SESSION_ID", "sess-abc123"},
           {"BAY_WORKSPACE_PATH", "/workspace"},
           {"BAY_PROFILE_ENV", "{\"API_KEY\":\"secret\"}"},
           {"API_KEY", "secret"}};
  s.instance_id = "bay-test";
  return s;
}

SandboxPlan plan_ok(const SessionSpec& s, const HostFacts& f) {
  auto p = plan_session(s, config(), f);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : SandboxPlan{};
}

bool has_adjacent(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
  return std::search(v.begin(), v.end(), seq.begin(), seq.end()) != v.end();
}

// The complete bwrap command line of a typical session on a cgroup v1 host: namespaces,
// identity, read-only system, curated /etc, generated files, the binds, and Ship.
TEST(SandboxPlan, ExactBwrapArgvForATypicalSession) {
  auto plan = plan_ok(typical_spec(), v1_host());
  using V = std::vector<std::string>;
  EXPECT_EQ(plan.full_argv(), V({"/usr/bin/bwrap",
                                 "--unshare-user",
                                 "--unshare-pid",
                                 "--unshare-ipc",
                                 "--unshare-uts",
                                 "--unshare-net",
                                 "--unshare-cgroup-try",
                                 "--disable-userns",
                                 "--uid",
                                 "1000",
                                 "--gid",
                                 "1000",
                                 "--cap-drop",
                                 "ALL",
                                 "--hostname",
                                 "sandbox",
                                 "--new-session",
                                 "--info-fd",
                                 "3",
                                 "--seccomp",
                                 "9",  //
                                 "--block-fd",
                                 "10",  //
                                 "--ro-bind",
                                 "/usr",
                                 "/usr",  //
                                 "--symlink",
                                 "usr/bin",
                                 "/bin",
                                 "--symlink",
                                 "usr/lib",
                                 "/lib",  //
                                 "--symlink",
                                 "usr/lib64",
                                 "/lib64",
                                 "--symlink",
                                 "usr/sbin",
                                 "/sbin",
                                 "--proc",
                                 "/proc",
                                 "--dev",
                                 "/dev",  //
                                 "--ro-bind",
                                 "/dev/null",
                                 "/proc/kcore",
                                 "--ro-bind",
                                 "/dev/null",
                                 "/proc/keys",
                                 "--perms",
                                 "0555",
                                 "--size",
                                 "4096",
                                 "--tmpfs",
                                 "/proc/acpi",
                                 "--remount-ro",
                                 "/proc/acpi",
                                 "--ro-bind",
                                 "/proc/sys",
                                 "/proc/sys",  //
                                 "--perms",
                                 "1777",
                                 "--size",
                                 "67108864",
                                 "--tmpfs",
                                 "/tmp",
                                 "--perms",
                                 "1777",
                                 "--size",
                                 "67108864",
                                 "--tmpfs",
                                 "/dev/shm",  //
                                 "--remount-ro",
                                 "/dev",  //
                                 "--perms",
                                 "0755",
                                 "--dir",
                                 "/etc",  //
                                 "--ro-bind-try",
                                 "/etc/alternatives",
                                 "/etc/alternatives",  //
                                 "--ro-bind-try",
                                 "/etc/ld.so.cache",
                                 "/etc/ld.so.cache",  //
                                 "--ro-bind-try",
                                 "/etc/os-release",
                                 "/etc/os-release",  //
                                 "--ro-bind-try",
                                 "/etc/python3",
                                 "/etc/python3",  //
                                 "--ro-bind-try",
                                 "/etc/python3.11",
                                 "/etc/python3.11",  //
                                 "--ro-bind-try",
                                 "/etc/ssl",
                                 "/etc/ssl",  //
                                 "--perms",
                                 "0644",
                                 "--ro-bind-data",
                                 "5",
                                 "/etc/passwd",  //
                                 "--perms",
                                 "0644",
                                 "--ro-bind-data",
                                 "6",
                                 "/etc/group",  //
                                 "--perms",
                                 "0644",
                                 "--ro-bind-data",
                                 "7",
                                 "/etc/hosts",  //
                                 "--perms",
                                 "0644",
                                 "--ro-bind-data",
                                 "8",
                                 "/etc/hostname",  //
                                 "--ro-bind",
                                 "/opt/shipyard/app",
                                 "/app",  //
                                 "--perms",
                                 "0755",
                                 "--dir",
                                 "/run",  //
                                 "--bind",
                                 "/var/lib/bay/sessions/sess-abc123/run",
                                 "/run/ship",  //
                                 "--bind",
                                 "/var/lib/bay/cargos/cargo-1",
                                 "/workspace",  //
                                 "--perms",
                                 "0755",
                                 "--dir",
                                 "/sys",
                                 "--perms",
                                 "0755",
                                 "--dir",
                                 "/sys/fs",
                                 "--perms",
                                 "0755",
                                 "--dir",
                                 "/sys/fs/cgroup",  //
                                 "--ro-bind",
                                 "/sys/fs/cgroup/memory/shipyard/sess-abc123",
                                 "/sys/fs/cgroup/memory",
                                 "--ro-bind",
                                 "/sys/fs/cgroup/cpu/shipyard/sess-abc123",
                                 "/sys/fs/cgroup/cpu",
                                 "--ro-bind",
                                 "/sys/fs/cgroup/pids/shipyard/sess-abc123",
                                 "/sys/fs/cgroup/pids",
                                 "--remount-ro",
                                 "/",
                                 "--chdir",
                                 "/workspace",  //
                                 "--",          //
                                 "/app/bin/ship",
                                 "--workspace",
                                 "/workspace",
                                 "--unix",
                                 "/run/ship/ship.sock",
                                 "--listen",
                                 "127.0.0.1:8123",
                                 "--ready-fd",
                                 "11"}));
  // What is executed: the options travel through a descriptor, so neither host users
  // (world-readable command lines) nor the sandbox (its pid 1) see host paths.
  EXPECT_EQ(plan.exec_argv(),
            V({"bwrap", "--args", "4", "--", "/app/bin/ship", "--workspace", "/workspace", "--unix",
               "/run/ship/ship.sock", "--listen", "127.0.0.1:8123", "--ready-fd", "11"}));
  EXPECT_EQ(plan.info_fd, 3);
  EXPECT_EQ(plan.args_fd, 4);
  EXPECT_EQ(plan.seccomp_fd, 9);
  // Ship starts only after the execution step wrote to the block pipe (it joins the
  // cgroups in between) and reports readiness on its own descriptor.
  EXPECT_EQ(plan.block_fd, 10);
  EXPECT_EQ(plan.ready_fd, 11);
  EXPECT_FALSE(plan.outbound);
  EXPECT_EQ(plan.slirp_exit_fd, -1);
  EXPECT_EQ(plan.endpoint, "unix:/var/lib/bay/sessions/sess-abc123/run/ship.sock");
}

// Sessions must outlive Bay: no option ties the sandbox to its parent, and the whole /etc
// of the host is never exposed (only curated entries; secrets and identity stay out).
TEST(SandboxPlan, NoDieWithParentAndNoHostSecrets) {
  auto plan = plan_ok(typical_spec(), v1_host());
  auto argv = plan.full_argv();
  EXPECT_THAT(argv, Not(Contains("--die-with-parent")));
  EXPECT_THAT(argv, Not(Contains("--share-net")));
  EXPECT_FALSE(has_adjacent(argv, {"--ro-bind", "/etc", "/etc"}));
  for (const char* secret : {"/etc/shadow", "/etc/machine-id", "/etc/resolv.conf", "/etc/pip.conf",
                             "/etc/npmrc", "/etc/gitconfig", "/etc/sudoers"}) {
    EXPECT_THAT(argv, Not(Contains(secret))) << secret;
  }
  // The host's passwd and hosts are replaced by generated files.
  EXPECT_FALSE(has_adjacent(argv, {"--ro-bind-try", "/etc/passwd", "/etc/passwd"}));
  EXPECT_FALSE(has_adjacent(argv, {"--ro-bind-try", "/etc/hosts", "/etc/hosts"}));
}

// /etc/passwd and /etc/group contain root and shipyard (uid 1000, home /workspace,
// shell /bin/bash); /etc/hosts maps localhost to the sandbox's own loopback.
TEST(SandboxPlan, GeneratedIdentityFiles) {
  auto plan = plan_ok(typical_spec(), v1_host());
  ASSERT_EQ(plan.files.size(), 4u);
  EXPECT_EQ(plan.files[0].sandbox_path, "/etc/passwd");
  EXPECT_THAT(plan.files[0].content, HasSubstr("root:x:0:0:root:/root:/bin/bash\n"));
  EXPECT_THAT(plan.files[0].content, HasSubstr("shipyard:x:1000:1000::/workspace:/bin/bash\n"));
  EXPECT_EQ(plan.files[1].sandbox_path, "/etc/group");
  EXPECT_THAT(plan.files[1].content, HasSubstr("root:x:0:\n"));
  EXPECT_THAT(plan.files[1].content, HasSubstr("shipyard:x:1000:\n"));
  EXPECT_EQ(plan.files[2].sandbox_path, "/etc/hosts");
  EXPECT_THAT(plan.files[2].content, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_EQ(plan.files[0].child_fd, 5);
  EXPECT_EQ(plan.files[3].child_fd, 8);
}

// The environment: fixed identity variables, then Bay's and the profile's in order, a
// later value replacing an earlier one in place; nothing of it appears on command lines.
TEST(SandboxPlan, EnvironmentIsPassedOutsideTheCommandLine) {
  auto spec = typical_spec();
  spec.env.emplace_back("PATH", "/opt/tools/bin:/usr/bin:/bin");
  auto plan = plan_ok(spec, v1_host());
  EXPECT_EQ(plan.env, std::vector<std::string>(
                          {"HOME=/workspace", "USER=shipyard", "LOGNAME=shipyard",
                           "SHELL=/bin/bash", "PATH=/opt/tools/bin:/usr/bin:/bin", "LANG=C.UTF-8",
                           "SHIP_STATE_DIR=/tmp/.ship", "BAY_SANDBOX_ID=sbx-1",
                           "BAY_SESSION_ID=sess-abc123", "BAY_WORKSPACE_PATH=/workspace",
                           "BAY_PROFILE_ENV={\"API_KEY\":\"secret\"}", "API_KEY=secret"}));
  for (const auto& a : plan.full_argv()) {
    EXPECT_THAT(a, Not(HasSubstr("secret")));
    EXPECT_NE(a, "--setenv");
  }
  spec.env.emplace_back("BAD=NAME", "x");
  EXPECT_EQ(plan_session(spec, config(), v1_host()).error().code, ErrorCode::kInvalidArgument);
}

// cgroup v1 limits: memory (and memory+swap, written after it), CFS quota from cpus, pids.
TEST(SandboxPlan, CgroupV1Limits) {
  auto plan = plan_ok(typical_spec(), v1_host());
  ASSERT_EQ(plan.cgroups.size(), 3u);
  EXPECT_EQ(plan.cgroups[0].path, "/sys/fs/cgroup/memory/shipyard/sess-abc123");
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(plan.cgroups[0].settings, ElementsAre(P{"memory.limit_in_bytes", "134217728"},
                                                    P{"memory.memsw.limit_in_bytes", "134217728"}));
  EXPECT_THAT(plan.cgroups[1].settings,
              ElementsAre(P{"cpu.cfs_period_us", "100000"}, P{"cpu.cfs_quota_us", "50000"}));
  EXPECT_THAT(plan.cgroups[2].settings, ElementsAre(P{"pids.max", "64"}));
  // With cgroups the only rlimits are "no core files" and the open-file cap.
  ASSERT_EQ(plan.rlimits.size(), 2u);
  EXPECT_EQ(plan.rlimits[0].first, RLIMIT_CORE);
  EXPECT_EQ(plan.rlimits[1].first, RLIMIT_NOFILE);
  EXPECT_EQ(plan.rlimits[1].second.rlim_cur, 4096u);
  EXPECT_EQ(plan.rlimits[1].second.rlim_max, 4096u);
  EXPECT_EQ(session_cgroup_dirs(v1_host(), "sess-abc123"),
            (std::vector<std::string>{"/sys/fs/cgroup/memory/shipyard/sess-abc123",
                                      "/sys/fs/cgroup/cpu/shipyard/sess-abc123",
                                      "/sys/fs/cgroup/pids/shipyard/sess-abc123"}));
}

// cgroup v2: one directory with memory.max, no swap, cpu.max and pids.max, bound at
// /sys/fs/cgroup; a tiny cpus value still yields the kernel's minimum quota.
TEST(SandboxPlan, CgroupV2Limits) {
  auto facts = v1_host();
  facts.cgroups.mode = CgroupMode::kV2;
  facts.cgroups.hierarchies = {
      {"/sys/fs/cgroup/shipyard", "/sys/fs/cgroup", {"memory", "cpu", "pids"}, true}};
  auto spec = typical_spec();
  spec.profile.resources.cpus = 0.001;
  auto plan = plan_ok(spec, facts);
  ASSERT_EQ(plan.cgroups.size(), 1u);
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(plan.cgroups[0].settings,
              ElementsAre(P{"memory.max", "134217728"}, P{"memory.swap.max", "0"},
                          P{"cpu.max", "1000 100000"}, P{"pids.max", "64"}));
  EXPECT_TRUE(has_adjacent(plan.full_argv(),
                           {"--ro-bind", "/sys/fs/cgroup/shipyard/sess-abc123", "/sys/fs/cgroup"}));
}

// Root Bay runs the sandbox as the cargo's host uid, which must lie in the configured
// range (never 0, never an ordinary host user); the run directory is given to that uid.
TEST(SandboxPlan, CredentialsAreTheCargoUid) {
  auto plan = plan_ok(typical_spec(), v1_host());
  ASSERT_TRUE(plan.credentials.has_value());
  EXPECT_EQ(plan.credentials->first, 200007u);
  EXPECT_EQ(plan.credentials->second, 200007u);
  ASSERT_EQ(plan.directories.size(), 2u);
  EXPECT_EQ(plan.directories[0].path, "/var/lib/bay/sessions/sess-abc123");
  EXPECT_EQ(plan.directories[0].mode, 0711u);
  EXPECT_FALSE(plan.directories[0].owner.has_value());
  EXPECT_EQ(plan.directories[1].path, "/var/lib/bay/sessions/sess-abc123/run");
  EXPECT_EQ(plan.directories[1].owner, std::optional<std::uint32_t>(200007u));
  for (std::uint32_t uid : {0u, 1000u, 199999u, 201000u}) {
    auto spec = typical_spec();
    spec.cargo_uid = uid;
    auto r = plan_session(spec, config(), v1_host());
    ASSERT_FALSE(r.ok()) << uid;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

// Unprivileged Bay: no cgroups, no user switch; memory and process count fall back to
// per-process rlimits (degraded mode).
TEST(SandboxPlan, DegradedModeUsesRlimits) {
  auto facts = v1_host();
  facts.root = false;
  facts.own_uid = 1234;
  facts.cgroups = CgroupFacts{};
  auto spec = typical_spec();
  spec.cargo_uid = 5;  // irrelevant without root
  auto plan = plan_ok(spec, facts);
  EXPECT_FALSE(plan.credentials.has_value());
  EXPECT_TRUE(plan.cgroups.empty());
  EXPECT_FALSE(plan.directories[1].owner.has_value());
  std::vector<int> kinds;
  for (const auto& [k, l] : plan.rlimits) kinds.push_back(k);
  EXPECT_THAT(kinds, ElementsAre(RLIMIT_CORE, RLIMIT_NOFILE, RLIMIT_AS, RLIMIT_NPROC));
  EXPECT_EQ(plan.rlimits[2].second.rlim_cur, 128ull << 20);
  EXPECT_EQ(plan.rlimits[3].second.rlim_cur, 64u);
  EXPECT_THAT(plan.full_argv(), Not(Contains("/sys/fs/cgroup")));
}

// A split-/usr host binds its top-level system directories read-only instead of
// symlinking them; an old bwrap without --size/--perms gets no such options.
TEST(SandboxPlan, SplitUsrAndOldBwrap) {
  auto facts = v1_host();
  facts.usr_symlinks.clear();
  facts.usr_split_dirs = {"bin", "lib"};
  facts.bwrap_size = facts.bwrap_perms = facts.bwrap_disable_userns = false;
  auto argv = plan_ok(typical_spec(), facts).full_argv();
  EXPECT_TRUE(has_adjacent(argv, {"--ro-bind", "/bin", "/bin"}));
  EXPECT_TRUE(has_adjacent(argv, {"--ro-bind", "/lib", "/lib"}));
  EXPECT_THAT(argv, Not(Contains("--symlink")));
  EXPECT_THAT(argv, Not(Contains("--size")));
  EXPECT_THAT(argv, Not(Contains("--perms")));
  EXPECT_THAT(argv, Not(Contains("--disable-userns")));
}

// Specs the driver cannot honour are refused before anything happens.
TEST(SandboxPlan, RefusesInvalidSpecs) {
  auto check = [](SessionSpec s, const char* what) -> std::string {
    auto r = plan_session(s, config(), v1_host());
    EXPECT_FALSE(r.ok()) << what;
    if (r.ok()) return {};
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << what;
    return r.error().message;
  };
  auto s = typical_spec();
  s.profile.network = "host";
  EXPECT_THAT(check(s, "host network"), HasSubstr("unknown network mode"));
  s = typical_spec();
  s.session_id = "../etc";
  check(s, "session id");
  s = typical_spec();
  s.cargo_path = "relative/cargo";
  check(s, "relative cargo");
  s = typical_spec();
  s.cargo_path = "/var/lib/bay/cargos/../../etc";
  check(s, "dotdot cargo");
  s = typical_spec();
  s.profile.runtime_port = 0;
  check(s, "port");
}

// Every sandbox gets the seccomp program, and none is started without it (fail closed).
TEST(SandboxPlan, SeccompIsRequired) {
  auto facts = v1_host();
  facts.seccomp = false;
  auto r = plan_session(typical_spec(), config(), facts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, HasSubstr("seccomp"));
}

// Only the kernel interfaces the probe found are masked: bwrap cannot mount over
// entries that do not exist, and an old bwrap gets no --size for the masking tmpfs.
TEST(SandboxPlan, ProcMasksFollowTheProbe) {
  auto facts = v1_host();
  facts.proc_mask_files = {"kallsyms"};
  facts.proc_mask_dirs.clear();
  facts.proc_readonly_dirs = {"irq", "bus"};
  auto argv = plan_ok(typical_spec(), facts).full_argv();
  EXPECT_TRUE(has_adjacent(argv, {"--ro-bind", "/dev/null", "/proc/kallsyms"}));
  EXPECT_FALSE(has_adjacent(argv, {"--ro-bind", "/dev/null", "/proc/kcore"}));
  EXPECT_TRUE(has_adjacent(argv, {"--ro-bind", "/proc/irq", "/proc/irq"}));
  EXPECT_TRUE(has_adjacent(argv, {"--ro-bind", "/proc/bus", "/proc/bus"}));
  EXPECT_THAT(argv, Not(Contains("/proc/acpi")));
  // The lists cover Docker's masked and read-only paths.
  for (const char* f :
       {"kcore", "keys", "timer_list", "sched_debug", "sysrq-trigger", "kallsyms"}) {
    EXPECT_THAT(proc_masked_files(), Contains(f));
  }
  for (const char* d : {"acpi", "asound", "scsi"}) EXPECT_THAT(proc_masked_dirs(), Contains(d));
  for (const char* d : {"sys", "irq", "bus", "fs"}) EXPECT_THAT(proc_readonly_dirs(), Contains(d));
}

// Network "outbound" keeps the sandbox's own network namespace (--unshare-net stays),
// adds a resolver pointing at slirp4netns and a descriptor whose last close stops it.
TEST(SandboxPlan, OutboundNetwork) {
  auto spec = typical_spec();
  spec.profile.network = "outbound";
  auto plan = plan_ok(spec, v1_host());
  EXPECT_TRUE(plan.outbound);
  auto argv = plan.full_argv();
  EXPECT_THAT(argv, Contains("--unshare-net"));
  EXPECT_THAT(argv, Not(Contains("--share-net")));
  ASSERT_EQ(plan.files.size(), 5u);
  EXPECT_EQ(plan.files[4].sandbox_path, "/etc/resolv.conf");
  EXPECT_EQ(plan.files[4].content, "nameserver 10.0.2.3\n");
  EXPECT_EQ(plan.files[4].child_fd, 9);
  EXPECT_EQ(plan.seccomp_fd, 10);
  EXPECT_EQ(plan.block_fd, 11);
  EXPECT_EQ(plan.ready_fd, 12);
  EXPECT_EQ(plan.slirp_exit_fd, 13);
  EXPECT_TRUE(has_adjacent(argv, {"--seccomp", "10"}));
  EXPECT_EQ(slirp_argv(v1_host(), 3, 4, 5, 6),
            (std::vector<std::string>{"/usr/bin/slirp4netns", "--configure", "--mtu=65520",
                                      "--disable-host-loopback", "--enable-seccomp",
                                      "--userns-path=/proc/self/fd/3", "--netns-type=path",
                                      "--ready-fd=5", "--exit-fd=6", "/proc/self/fd/4", "tap0"}));
  // "none" has no resolver at all.
  auto none = plan_ok(typical_spec(), v1_host());
  for (const auto& f : none.files) EXPECT_NE(f.sandbox_path, "/etc/resolv.conf");
}

// Without slirp4netns (or a usable tun device) outbound sandboxes are refused with the
// reason in the log context, never started with a different network.
TEST(SandboxPlan, OutboundUnavailable) {
  auto facts = v1_host();
  facts.outbound_unavailable = "slirp4netns is not installed";
  auto spec = typical_spec();
  spec.profile.network = "outbound";
  auto r = plan_session(spec, config(), facts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, HasSubstr("not available on this host"));
  EXPECT_EQ(r.error().context, "slirp4netns is not installed");
}

// The curated /etc list matches exact names and the documented prefixes only.
TEST(SandboxPlan, CuratedEtcEntries) {
  for (const char* yes : {"ssl", "ca-certificates", "os-release", "ld.so.cache", "ld.so.conf",
                          "ld.so.conf.d", "localtime", "mime.types", "fonts", "nsswitch.conf",
                          "alternatives", "python3", "python3.11", "java-17-openjdk"}) {
    EXPECT_TRUE(is_curated_etc_entry(yes)) << yes;
  }
  for (const char* no : {"passwd", "shadow", "group", "gshadow", "hosts", "resolv.conf",
                         "machine-id", "sudoers", "ssh", "pip.conf", "..", "ssl/private"}) {
    EXPECT_FALSE(is_curated_etc_entry(no)) << no;
  }
}

// Ids usable as one path component.
TEST(SandboxPlan, SafeIds) {
  EXPECT_TRUE(is_safe_id("sess-0123abc"));
  EXPECT_TRUE(is_safe_id("a.b_c-D"));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "a:b"}) EXPECT_FALSE(is_safe_id(bad));
  EXPECT_FALSE(is_safe_id(std::string(129, 'a')));
}

}  // namespace
}  // namespace shipyard::bay
