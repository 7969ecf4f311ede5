// Real sandboxes: the process driver starts the release Ship under bubblewrap with
// cgroups, and the tests check from inside what code in a sandbox observes
// (bay-api-v1.md §14). They need root, bwrap and a built Ship tree (build/release/app
// or $SHIPYARD_APP_DIR) and skip with a message otherwise.
#include "bay/drivers/process_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "bay/drivers/host_io.hpp"
#include "bay/drivers/runtime_record.hpp"
#include "common/strings.hpp"
#include "driver_test_support.hpp"

namespace shipyard::bay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run;
using testing::ship_shell;
using ::testing::StartsWith;
using testing::unix_http;
using testing::wait_healthy;

std::string app_dir() {
  if (const char* e = std::getenv("SHIPYARD_APP_DIR"); e != nullptr && *e != '\0') return e;
  return SHIPYARD_DEFAULT_APP_DIR;
}

struct Session {
  RuntimeHandle handle;
  std::string socket;
  std::string cargo;
  std::uint32_t uid = 0;
  std::string session_id;
};

class ProcessDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "real-sandbox tests need root (cgroups, setuid)";
    if (::access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bwrap is not installed";
    if (::access((app_dir() + "/bin/ship").c_str(), X_OK) != 0) {
      GTEST_SKIP() << "no Ship at " << app_dir()
                   << "/bin/ship: run ./scripts/build.sh release or set SHIPYARD_APP_DIR";
    }
    char tmpl[] = "/tmp/bay-pd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    data_ = tmpl;
    ::chmod(data_.c_str(), 0711);
    cfg_.ship_app_dir = app_dir();
    cfg_.bwrap = "/usr/bin/bwrap";
    cfg_.uid_base = 300000 + static_cast<std::uint32_t>(::getpid() % 1000) * 100;
    cfg_.uid_count = 100;
    cfg_.cgroup_parent = "shipyard-test-" + std::to_string(::getpid());
    driver_ = std::make_unique<ProcessDriver>(io_.get_executor(), cfg_, data_);
    std::printf("%s\n", driver_->describe().c_str());
  }

  void TearDown() override {
    if (!driver_) return;
    for (const auto& s : started_) (void)run(io_, driver_->destroy(s.handle));
    for (const auto& h : driver_->facts().cgroups.hierarchies) ::rmdir(h.parent.c_str());
    driver_.reset();
    io_.restart();
    io_.poll();
    std::error_code ec;
    fs::remove_all(data_, ec);
  }

  Profile profile(std::uint64_t memory, int pids) {
    Profile p;
    p.id = "test";
    p.resources.cpus = 1;
    p.resources.memory_bytes = memory;
    p.pids_limit = pids;
    p.tmp_size_bytes = 64ull << 20;
    return p;
  }

  Session start(const std::string& name, const Profile& p) {
    Session s;
    s.session_id = "sess-" + name;
    s.uid = cfg_.uid_base + static_cast<std::uint32_t>(started_.size());
    auto cargo = run(io_, driver_->create_cargo_storage("cargo-" + name, s.uid, 0));
    EXPECT_TRUE(cargo.ok()) << cargo.error().context;
    if (!cargo.ok()) return s;
    s.cargo = *cargo;
    SessionSpec spec;
    spec.session_id = s.session_id;
    spec.sandbox_id = "sbx-" + name;
    spec.profile = p;
    spec.cargo_id = "cargo-" + name;
    spec.cargo_path = s.cargo;
    spec.cargo_uid = s.uid;
    spec.env = {{"BAY_SANDBOX_ID", spec.sandbox_id},
                {"BAY_SESSION_ID", spec.session_id},
                {"BAY_WORKSPACE_PATH", "/workspace"}};
    spec.instance_id = "bay-test";
    auto h = run(io_, driver_->start(spec));
    EXPECT_TRUE(h.ok()) << h.error().message << " | " << h.error().context;
    if (!h.ok()) return s;
    s.handle = *h;
    s.socket = h->endpoint.substr(std::string("unix:").size());
    started_.push_back(s);
    return s;
  }

  void forget(const Session& s) {
    std::erase_if(started_, [&](const Session& x) { return x.session_id == s.session_id; });
  }

  // Ship's last output, to explain a failed health wait.
  std::string ship_log(const Session& s) {
    auto log = read_file(driver_->sessions_dir() + "/" + s.session_id + "/ship.log");
    return log ? *log : "(no log)";
  }

  boost::asio::io_context io_;
  std::string data_;
  ProcessDriverConfig cfg_;
  std::unique_ptr<ProcessDriver> driver_;
  std::vector<Session> started_;
};

// Everything code in a sandbox observes (bay-api-v1.md §14): identity, filesystem,
// isolation, its own loopback with Ship on it, and enforced memory and pids limits;
// destroy removes processes, cgroups and the session directory but keeps the cargo.
// Driver::wait_started as a value-returning coroutine for run().
boost::asio::awaitable<bool> started(Driver& driver, RuntimeHandle handle) {
  co_await driver.wait_started(handle, std::chrono::steady_clock::now() + std::chrono::seconds(20));
  co_return true;
}

TEST_F(ProcessDriverTest, SandboxAsSeenFromInside) {
  auto s = start("inside", profile(128ull << 20, 64));
  ASSERT_FALSE(s.socket.empty());
  // Ship says when it serves (--ready-fd): /health answers on the first request.
  ASSERT_TRUE(run(io_, started(*driver_, s.handle)));
  EXPECT_EQ(unix_http(s.socket, "GET", "/health").status, 200) << ship_log(s);
  ASSERT_TRUE(wait_healthy(s.socket)) << ship_log(s);
  EXPECT_TRUE(driver_->alive(s.handle));
  auto sh = [&](const std::string& cmd) { return ship_shell(s.socket, cmd); };

  auto id = sh("id; whoami");
  EXPECT_TRUE(id.success) << id.raw;
  EXPECT_THAT(id.stdout_text, StartsWith("uid=1000(shipyard) gid=1000(shipyard)"));
  EXPECT_THAT(id.stdout_text, HasSubstr("\nshipyard"));
  EXPECT_EQ(sh("echo $HOME; pwd; hostname").stdout_text, "/workspace\n/workspace\nsandbox");
  auto passwd = sh("cat /etc/passwd /etc/group");
  EXPECT_THAT(passwd.stdout_text, HasSubstr("root:x:0:0:"));
  EXPECT_THAT(passwd.stdout_text, HasSubstr("shipyard:x:1000:1000::/workspace:/bin/bash"));
  EXPECT_THAT(sh("cat /etc/os-release").stdout_text, HasSubstr("ID="));
  EXPECT_EQ(sh("echo $BAY_SESSION_ID $BAY_SANDBOX_ID").stdout_text, "sess-inside sbx-inside");

  // System directories are read-only; /workspace and /tmp are writable.
  for (const char* path : {"/etc/x", "/usr/x", "/x", "/dev/x", "/app/x"}) {
    auto w = sh(std::string("touch ") + path);
    EXPECT_FALSE(w.success) << path;
    EXPECT_THAT(w.stderr_text, ::testing::AnyOf(HasSubstr("Read-only file system"),
                                                HasSubstr("Permission denied")))
        << path;
  }
  auto ws =
      sh("echo hello > /workspace/probe.txt && stat -c %U /workspace/probe.txt && "
         "touch /tmp/t /dev/shm/t && echo ok");
  EXPECT_EQ(ws.stdout_text, "shipyard\nok") << ws.raw;
  struct stat st {};
  ASSERT_EQ(::stat((s.cargo + "/probe.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, s.uid);

  // Process isolation: a private pid namespace whose init is bwrap, not the host's.
  auto ps = sh("ps aux");
  EXPECT_TRUE(ps.success) << ps.raw;
  EXPECT_THAT(ps.stdout_text, HasSubstr("/app/bin/ship"));
  EXPECT_THAT(ps.stdout_text, Not(HasSubstr("bay_drivers_test")));
  EXPECT_LT(std::count(ps.stdout_text.begin(), ps.stdout_text.end(), '\n'), 12) << ps.stdout_text;
  auto init = sh("tr '\\0' ' ' < /proc/1/cmdline");
  EXPECT_THAT(init.stdout_text, StartsWith("bwrap --args"));
  EXPECT_THAT(init.stdout_text, Not(HasSubstr(data_)));  // no host paths visible

  // Network: only a private loopback, on which Ship answers.
  auto dev = sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
  EXPECT_EQ(dev.stdout_text, "lo");
  auto curl = sh("curl -s --max-time 5 http://127.0.0.1:8123/health");
  EXPECT_THAT(curl.stdout_text, HasSubstr("\"version\"")) << curl.raw;
  EXPECT_EQ(sh("test -e /var/run/docker.sock || echo absent").stdout_text, "absent");

  // No privileges: no capabilities, no_new_privs, no nested user namespaces.
  auto caps = sh("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status");
  EXPECT_THAT(caps.stdout_text, HasSubstr("CapEff:\t0000000000000000"));
  EXPECT_THAT(caps.stdout_text, HasSubstr("NoNewPrivs:\t1"));
  if (driver_->facts().bwrap_disable_userns) {
    EXPECT_FALSE(sh("unshare -U true").success);
  }

  // Limits are visible inside and enforced.
  const auto mode = driver_->facts().cgroups.mode;
  if (mode == CgroupMode::kV1) {
    EXPECT_EQ(sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes").stdout_text, "134217728");
    EXPECT_EQ(sh("cat /sys/fs/cgroup/pids/pids.max").stdout_text, "64");
  } else if (mode == CgroupMode::kV2) {
    EXPECT_EQ(sh("cat /sys/fs/cgroup/memory.max").stdout_text, "134217728");
    EXPECT_EQ(sh("cat /sys/fs/cgroup/pids.max").stdout_text, "64");
  }
  auto oom = sh("python3 -c \"x = b'x' * (300 << 20); print('survived')\"");
  EXPECT_FALSE(oom.success) << oom.raw;
  EXPECT_TRUE(oom.return_code == -9 || oom.return_code == 137) << oom.raw;  // SIGKILLed
  EXPECT_THAT(oom.stdout_text, Not(HasSubstr("survived")));
  if (mode == CgroupMode::kV1) {  // the kill was the cgroup's OOM killer, not a MemoryError
    EXPECT_EQ(sh("grep oom_kill /sys/fs/cgroup/memory/memory.oom_control").stdout_text,
              "oom_kill_disable 0\noom_kill 1");
  } else if (mode == CgroupMode::kV2) {
    EXPECT_EQ(sh("grep oom_kill /sys/fs/cgroup/memory.events").stdout_text, "oom_kill 1");
  }
  EXPECT_EQ(unix_http(s.socket, "GET", "/health").status, 200);
  EXPECT_EQ(sh("echo still-here").stdout_text, "still-here");
  auto forks =
      sh("python3 -c \"\nimport os, time\npids = []\ntry:\n    for i in range(200):\n"
         "        pid = os.fork()\n        if pid == 0:\n            time.sleep(30)\n"
         "            os._exit(0)\n        pids.append(pid)\n    print('unlimited')\n"
         "except BlockingIOError:\n    print('EAGAIN')\nfinally:\n    for p in pids:\n"
         "        os.kill(p, 9)\n        os.waitpid(p, 0)\n\"");
  EXPECT_EQ(forks.stdout_text, "EAGAIN") << forks.raw;
  EXPECT_TRUE(driver_->alive(s.handle));

  // Seen from the host: the sandbox runs as the cargo's uid, inside the session cgroups.
  auto rid = parse_runtime_id(s.handle.runtime_id);
  ASSERT_TRUE(rid.has_value());
  auto status = read_file("/proc/" + std::to_string(rid->init_pid) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(*status, HasSubstr("\nUid:\t" + std::to_string(s.uid) + "\t"));
  auto cgroups = session_cgroup_dirs(driver_->facts(), s.session_id);
  // Every process of the sandbox: both bwraps (moved in by the driver while bwrap was
  // blocked) and Ship with everything it started (inherited).
  auto children = read_file("/proc/" + std::to_string(rid->init_pid) + "/task/" +
                            std::to_string(rid->init_pid) + "/children");
  ASSERT_TRUE(children.ok());
  std::string ship_pid = std::string(trim(*children));
  ASSERT_FALSE(ship_pid.empty());
  ASSERT_EQ(ship_pid.find(' '), std::string::npos) << *children;  // init's only child: Ship
  for (const auto& cg : cgroups) {
    auto procs = read_file(cg + "/cgroup.procs");
    ASSERT_TRUE(procs.ok()) << cg;
    for (const auto& pid : {std::to_string(rid->pid), std::to_string(rid->init_pid), ship_pid}) {
      EXPECT_THAT("\n" + *procs, HasSubstr("\n" + pid + "\n")) << cg;
    }
  }

  // Destroy: everything of the session is gone, the cargo stays.
  auto d = run(io_, driver_->destroy(s.handle));
  ASSERT_TRUE(d.ok()) << d.error().context;
  forget(s);
  EXPECT_FALSE(driver_->alive(s.handle));
  EXPECT_FALSE(process_matches(rid->init_pid, rid->init_start_time));
  for (const auto& cg : cgroups) EXPECT_FALSE(fs::exists(cg)) << cg;
  EXPECT_FALSE(fs::exists(driver_->sessions_dir() + "/" + s.session_id));
  EXPECT_TRUE(fs::exists(s.cargo + "/probe.txt"));
  // Destroying again succeeds.
  EXPECT_TRUE(run(io_, driver_->destroy(s.handle)).ok());
}

// Two sessions run side by side, each with its own Ship on its own 127.0.0.1:8123 and
// without sight of the other's processes; Python venvs and Node work inside.
TEST_F(ProcessDriverTest, TwoSessionsAreIsolated) {
  auto a = start("alpha", profile(512ull << 20, 256));
  auto b = start("beta", profile(512ull << 20, 256));
  ASSERT_TRUE(wait_healthy(a.socket)) << ship_log(a);
  ASSERT_TRUE(wait_healthy(b.socket)) << ship_log(b);
  const std::string via_loopback =
      "curl -s --max-time 10 -X POST http://127.0.0.1:8123/shell/exec "
      "-H 'Content-Type: application/json' -d '{\"command\": \"echo $BAY_SESSION_ID\"}'";
  EXPECT_THAT(ship_shell(a.socket, via_loopback).stdout_text, HasSubstr("sess-alpha"));
  EXPECT_THAT(ship_shell(b.socket, via_loopback).stdout_text, HasSubstr("sess-beta"));

  auto bg = ship_shell(b.socket, "nohup sleep 4321 >/dev/null 2>&1 &");
  EXPECT_TRUE(bg.success) << bg.raw;
  EXPECT_EQ(ship_shell(b.socket, "pgrep -fc 'sleep 4321'").stdout_text, "1");
  EXPECT_EQ(ship_shell(a.socket, "pgrep -fc 'sleep 4321'").stdout_text, "0");

  auto venv = ship_shell(a.socket,
                         "python3 -m venv /workspace/.venv && test -x /workspace/.venv/bin/python "
                         "&& test -f /workspace/.venv/bin/activate && echo venv-ok",
                         90);
  EXPECT_EQ(venv.stdout_text, "venv-ok") << venv.raw;
  EXPECT_THAT(ship_shell(a.socket, "node --version").stdout_text, StartsWith("v"));

  // Destroying one leaves the other running.
  ASSERT_TRUE(run(io_, driver_->destroy(a.handle)).ok());
  forget(a);
  EXPECT_FALSE(driver_->alive(a.handle));
  EXPECT_TRUE(driver_->alive(b.handle));
  EXPECT_EQ(unix_http(b.socket, "GET", "/health").status, 200);
}

// A session outlives the driver (Bay restart): a new driver instance finds it by its
// instance tag, sees it alive from the runtime id alone, and destroys it.
TEST_F(ProcessDriverTest, SurvivesBayRestart) {
  auto s = start("restart", profile(256ull << 20, 128));
  ASSERT_TRUE(wait_healthy(s.socket)) << ship_log(s);
  driver_ = std::make_unique<ProcessDriver>(io_.get_executor(), cfg_, data_);
  EXPECT_TRUE(driver_->alive(s.handle));
  EXPECT_EQ(unix_http(s.socket, "GET", "/health").status, 200);

  auto found = run(io_, driver_->list_runtimes("bay-test"));
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].session_id, s.session_id);
  EXPECT_EQ((*found)[0].handle.runtime_id, s.handle.runtime_id);
  EXPECT_EQ((*found)[0].handle.endpoint, s.handle.endpoint);
  auto other = run(io_, driver_->list_runtimes("another-bay"));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());

  ASSERT_TRUE(run(io_, driver_->destroy(s.handle)).ok());
  forget(s);
  EXPECT_FALSE(driver_->alive(s.handle));
  auto after = run(io_, driver_->list_runtimes("bay-test"));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

// A sandbox that dies on its own (here: Ship killed from inside) is reported dead, and
// destroy still cleans up everything.
TEST_F(ProcessDriverTest, DeadSandboxIsDetectedAndCleanedUp) {
  auto s = start("dies", profile(256ull << 20, 128));
  ASSERT_TRUE(wait_healthy(s.socket)) << ship_log(s);
  auto rid = parse_runtime_id(s.handle.runtime_id);
  ASSERT_TRUE(rid.has_value());
  ::kill(rid->init_pid, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (driver_->alive(s.handle) && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(driver_->alive(s.handle));
  ASSERT_TRUE(run(io_, driver_->destroy(s.handle)).ok());
  forget(s);
  EXPECT_FALSE(fs::exists(driver_->sessions_dir() + "/" + s.session_id));
  for (const auto& cg : session_cgroup_dirs(driver_->facts(), s.session_id)) {
    EXPECT_FALSE(fs::exists(cg)) << cg;
  }
}

// Cargo storage: a 0700 directory owned by the cargo uid; deletion removes what the
// sandbox put there without following its symlinks, and never leaves the cargo root.
TEST_F(ProcessDriverTest, CargoStorage) {
  auto path = run(io_, driver_->create_cargo_storage("cargo-files", cfg_.uid_base + 50, 0));
  ASSERT_TRUE(path.ok()) << path.error().context;
  struct stat st {};
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, cfg_.uid_base + 50);
  EXPECT_EQ(st.st_gid, cfg_.uid_base + 50);

  std::string outside = data_ + "/outside.txt";
  { std::ofstream(outside) << "keep"; }
  fs::create_directories(*path + "/a/b");
  { std::ofstream(*path + "/a/b/f") << "x"; }
  fs::create_symlink(outside, *path + "/a/link");
  fs::create_directory_symlink(data_, *path + "/a/dirlink");
  ASSERT_TRUE(run(io_, driver_->delete_cargo_storage(*path)).ok());
  EXPECT_FALSE(fs::exists(*path));
  EXPECT_TRUE(fs::exists(outside));
  EXPECT_TRUE(run(io_, driver_->delete_cargo_storage(*path)).ok());  // missing is fine

  auto bad = run(io_, driver_->delete_cargo_storage(data_));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(outside));
  EXPECT_FALSE(run(io_, driver_->create_cargo_storage("../evil", cfg_.uid_base, 0)).ok());
  EXPECT_FALSE(run(io_, driver_->create_cargo_storage("cargo-root", 0, 0)).ok());
}

// describe() states what is enforced on this host (the plan of a typical session is
// printed as well, for the record).
TEST_F(ProcessDriverTest, DescribesEnforcement) {
  SessionSpec spec;
  spec.session_id = "sess-example";
  spec.cargo_path = driver_->cargo_root() + "/cargo-example";
  spec.cargo_uid = cfg_.uid_base;
  spec.profile = profile(1ull << 30, 512);
  auto plan = plan_session(spec, cfg_, driver_->facts());
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  std::string line;
  for (const auto& a : plan->full_argv()) line += (line.empty() ? "" : " ") + a;
  std::printf("typical session: %s\n", line.c_str());
  auto d = driver_->describe();
  EXPECT_THAT(d, HasSubstr("process driver: bubblewrap"));
  if (driver_->facts().cgroups.mode == CgroupMode::kNone) {
    EXPECT_THAT(d, HasSubstr("DEGRADED"));
  } else {
    EXPECT_THAT(d, HasSubstr("memory"));
  }
}

// Degraded mode (Bay not root): no cgroups, no user switch; the sandbox still gets all
// namespaces, and memory and process count are limited per process by rlimits. Runs
// only unprivileged; as root, RunsDegradedAsUnprivilegedUser re-runs it that way.
TEST(DegradedProcessDriverTest, SandboxWithRlimitsOnly) {
  if (::geteuid() == 0) GTEST_SKIP() << "tests the unprivileged mode";
  if (::access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bwrap is not installed";
  if (::access((app_dir() + "/bin/ship").c_str(), X_OK) != 0) GTEST_SKIP() << "no Ship";
  char tmpl[] = "/tmp/bay-pd-degraded-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string data = tmpl;
  boost::asio::io_context io;
  ProcessDriverConfig cfg;
  cfg.ship_app_dir = app_dir();
  auto driver = std::make_unique<ProcessDriver>(io.get_executor(), cfg, data);
  std::printf("%s\n", driver->describe().c_str());
  EXPECT_THAT(driver->describe(), HasSubstr("DEGRADED: no cgroups (Bay is not running as root)"));
  EXPECT_EQ(driver->facts().cgroups.mode, CgroupMode::kNone);

  auto cargo = run(io, driver->create_cargo_storage("cargo-d", 12345, 0));
  ASSERT_TRUE(cargo.ok()) << cargo.error().context;
  SessionSpec spec;
  spec.session_id = "sess-degraded";
  spec.sandbox_id = "sbx-d";
  spec.profile.resources.memory_bytes = 1ull << 30;
  spec.profile.pids_limit = 256;
  spec.cargo_path = *cargo;
  spec.cargo_uid = 12345;  // ignored: the sandbox runs as Bay's uid
  spec.instance_id = "bay-degraded";
  auto h = run(io, driver->start(spec));
  ASSERT_TRUE(h.ok()) << h.error().message << " | " << h.error().context;
  std::string socket = h->endpoint.substr(5);
  bool healthy = wait_healthy(socket);
  EXPECT_TRUE(healthy) << *read_file(driver->sessions_dir() + "/sess-degraded/ship.log");
  if (healthy) {
    auto id = ship_shell(socket, "id -u; ulimit -v; ulimit -u");
    EXPECT_EQ(id.stdout_text, "1000\n1048576\n256") << id.raw;
    EXPECT_EQ(ship_shell(socket, "touch /etc/x").success, false);
    EXPECT_THAT(ship_shell(socket, "cat /proc/net/dev").stdout_text, Not(HasSubstr("eth")));
  }
  ASSERT_TRUE(run(io, driver->destroy(*h)).ok());
  EXPECT_FALSE(driver->alive(*h));
  EXPECT_TRUE(run(io, driver->delete_cargo_storage(*cargo)).ok());
  driver.reset();
  std::error_code ec;
  fs::remove_all(data, ec);
}

// As root, the degraded-mode test is re-run as an unprivileged user.
TEST(DegradedProcessDriverTest, RunsDegradedAsUnprivilegedUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "SandboxWithRlimitsOnly runs directly";
  if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv is missing";
  if (::access((app_dir() + "/bin/ship").c_str(), X_OK) != 0) GTEST_SKIP() << "no Ship";
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  // The test binary must be reachable by the unprivileged uid.
  std::string uid = std::to_string(60000 + ::getpid() % 1000);
  std::string cmd = "cd / && SHIPYARD_APP_DIR=" + app_dir() + " setpriv --reuid " + uid +
                    " --regid " + uid + " --clear-groups " + std::string(self) +
                    " --gtest_filter=DegradedProcessDriverTest.SandboxWithRlimitsOnly 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t got = std::fread(buf, 1, sizeof buf, p)) out.append(buf, got);
  int status = ::pclose(p);
  if (out.find("Permission denied") != std::string::npos && status != 0 &&
      out.find("[ RUN") == std::string::npos) {
    GTEST_SKIP() << "the test binary is not executable by uid " << uid << ": " << out;
  }
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("[       OK ] DegradedProcessDriverTest.SandboxWithRlimitsOnly"))
      << out;
}

}  // namespace
}  // namespace shipyard::bay
