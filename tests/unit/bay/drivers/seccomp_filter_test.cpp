#include "bay/drivers/seccomp_filter.hpp"

#include <errno.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/strings.hpp"

namespace shipyard::bay {
namespace {

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

// The errno of a raw system call, or 0 when it succeeded.
int err_of(long rc) { return rc < 0 ? errno : 0; }

using Probe = std::pair<std::string, std::function<int()>>;

// Loads `program` in a forked child, runs every probe there and returns "name → errno"
// (0: the call succeeded). Each probe runs in the same filtered child, in order.
std::map<std::string, int> run_filtered(const std::string& program,
                                        const std::vector<Probe>& probes) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(program.size() / sizeof(sock_filter));
    prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()));
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      ::_exit(3);
    }
    std::string out;
    for (const auto& [name, fn] : probes) out += name + " " + std::to_string(fn()) + "\n";
    (void)!::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  std::map<std::string, int> out;
  for (auto line : split(text, '\n')) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    out[std::string(line.substr(0, sp))] = std::stoi(std::string(line.substr(sp + 1)));
  }
  return out;
}

std::string strict_program() {
  auto program = build_seccomp_bpf();
  EXPECT_TRUE(program.ok()) << (program.ok() ? "" : program.error().context);
  return program.ok() ? *program : std::string();
}

// A clone() with namespace flags; a child that was created anyway exits at once.
int clone_with(unsigned long flags) {
  long rc = ::syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (rc == 0) ::_exit(0);
  if (rc > 0) {
    ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
    return 0;
  }
  return errno;
}

// The exported program is a whole number of BPF instructions.
TEST(SeccompFilter, ExportsABpfProgram) {
  auto program = strict_program();
  ASSERT_FALSE(program.empty());
  EXPECT_EQ(program.size() % sizeof(sock_filter), 0u);
  EXPECT_LT(program.size() / sizeof(sock_filter), 4096u);  // BPF_MAXINSNS
}

// Everything on Docker's deny list (and the extra cross-process calls) fails with EPERM.
TEST(SeccompFilter, DeniedCallsFailWithEperm) {
  std::vector<Probe> probes = {
      {"mount", [] { return err_of(::syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr)); }},
      {"umount2", [] { return err_of(::syscall(SYS_umount2, "/", 0)); }},
      {"pivot_root", [] { return err_of(::syscall(SYS_pivot_root, "/", "/")); }},
      {"chroot", [] { return err_of(::syscall(SYS_chroot, "/")); }},
      {"setns", [] { return err_of(::syscall(SYS_setns, 0, 0)); }},
      {"keyctl", [] { return err_of(::syscall(SYS_keyctl, 0, -3, 0)); }},
      {"add_key", [] { return err_of(::syscall(SYS_add_key, "user", "x", "y", 1, -3)); }},
      {"request_key", [] { return err_of(::syscall(SYS_request_key, "user", "x", nullptr, 0)); }},
      {"bpf", [] { return err_of(::syscall(SYS_bpf, 0, nullptr, 0)); }},
      {"perf_event_open",
       [] { return err_of(::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0)); }},
      {"userfaultfd", [] { return err_of(::syscall(SYS_userfaultfd, 0)); }},
      {"ptrace", [] { return err_of(::syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0)); }},
      {"process_vm_readv",
       [] { return err_of(::syscall(SYS_process_vm_readv, 1, nullptr, 0, nullptr, 0, 0)); }},
      {"kcmp", [] { return err_of(::syscall(SYS_kcmp, 1, 1, 0, 0, 0)); }},
      {"kexec_load", [] { return err_of(::syscall(SYS_kexec_load, 0, 0, nullptr, 0)); }},
      {"init_module", [] { return err_of(::syscall(SYS_init_module, nullptr, 0, "")); }},
      {"finit_module", [] { return err_of(::syscall(SYS_finit_module, -1, "", 0)); }},
      {"delete_module", [] { return err_of(::syscall(SYS_delete_module, "x", 0)); }},
      {"reboot", [] { return err_of(::syscall(SYS_reboot, 0, 0, 0, nullptr)); }},
      {"swapon", [] { return err_of(::syscall(SYS_swapon, "/nonexistent", 0)); }},
      {"swapoff", [] { return err_of(::syscall(SYS_swapoff, "/nonexistent")); }},
      {"acct", [] { return err_of(::syscall(SYS_acct, nullptr)); }},
      {"settimeofday", [] { return err_of(::syscall(SYS_settimeofday, nullptr, nullptr)); }},
      {"clock_settime", [] { return err_of(::syscall(SYS_clock_settime, 0, nullptr)); }},
      {"open_by_handle_at",
       [] { return err_of(::syscall(SYS_open_by_handle_at, -1, nullptr, 0)); }},
      {"io_uring_setup", [] { return err_of(::syscall(SYS_io_uring_setup, 1, nullptr)); }},
      {"syslog", [] { return err_of(::syscall(SYS_syslog, 3, nullptr, 0)); }},
      {"unshare_user", [] { return err_of(::syscall(SYS_unshare, CLONE_NEWUSER)); }},
      {"unshare_net", [] { return err_of(::syscall(SYS_unshare, CLONE_NEWNET)); }},
      {"unshare_mnt", [] { return err_of(::syscall(SYS_unshare, CLONE_NEWNS)); }},
      {"unshare_time", [] { return err_of(::syscall(SYS_unshare, CLONE_NEWTIME)); }},
      {"clone_user", [] { return clone_with(CLONE_NEWUSER); }},
      {"clone_pid", [] { return clone_with(CLONE_NEWPID); }},
      {"personality_exec", [] { return err_of(::syscall(SYS_personality, READ_IMPLIES_EXEC)); }},
      {"personality_norandom",
       [] { return err_of(::syscall(SYS_personality, ADDR_NO_RANDOMIZE)); }},
      {"tiocsti",
       [] {
         char c = 'x';
         return err_of(::syscall(SYS_ioctl, 0, TIOCSTI, &c));
       }},
  };
  auto got = run_filtered(strict_program(), probes);
  for (const auto& [name, fn] : probes) {
    ASSERT_TRUE(got.contains(name)) << name;
    EXPECT_EQ(got[name], EPERM) << name << ": " << std::strerror(got[name]);
  }
}

// Ordinary calls work under the filter: processes, threads (clone3 reports ENOSYS so
// libc falls back to clone), files, sockets, harmless unshare flags and switching
// between the Linux personas.
TEST(SeccompFilter, OrdinaryCallsWork) {
  std::vector<Probe> probes = {
      {"getpid", [] { return err_of(::syscall(SYS_getpid)); }},
      {"open_read",
       [] {
         int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
         if (fd < 0) return errno;
         char b[64];
         int e = err_of(::read(fd, b, sizeof b));
         ::close(fd);
         return e;
       }},
      {"fork",
       [] {
         pid_t c = ::fork();
         if (c == 0) ::_exit(7);
         if (c < 0) return errno;
         int st = 0;
         ::waitpid(c, &st, 0);
         return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : -1;
       }},
      {"thread_clone",
       [] {
         // What pthread_create does after clone3 failed: clone with thread flags.
         return clone_with(CLONE_FILES | CLONE_FS);
       }},
      {"clone3_enosys",
       [] { return ::syscall(SYS_clone3, nullptr, 0) < 0 && errno == ENOSYS ? 0 : -1; }},
      {"socket",
       [] {
         int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
         if (s < 0) return errno;
         ::close(s);
         return 0;
       }},
      {"unshare_files", [] { return err_of(::syscall(SYS_unshare, CLONE_FILES)); }},
      {"personality_linux32", [] { return err_of(::syscall(SYS_personality, 0x8UL)); }},
      {"personality_linux", [] { return err_of(::syscall(SYS_personality, 0UL)); }},
      {"seccomp_more",
       [] {
         // Adding filters of one's own stays possible (they can only narrow).
         sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
         sock_fprog prog{1, &allow};
         return err_of(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
       }},
  };
  auto got = run_filtered(strict_program(), probes);
  for (const auto& [name, fn] : probes) {
    ASSERT_TRUE(got.contains(name)) << name;
    EXPECT_EQ(got[name], 0) << name << ": " << got[name];
  }
}

// System calls of the x32 ABI (native numbers with bit 30 set) are refused with EPERM.
TEST(SeccompFilter, X32CallsAreRefused) {
  std::vector<Probe> probes = {
      {"x32_getpid", [] { return err_of(::syscall(__X32_SYSCALL_BIT | SYS_getpid)); }},
  };
  auto got = run_filtered(strict_program(), probes);
  EXPECT_EQ(got["x32_getpid"], EPERM);
}

// i386 system calls (int 0x80) are refused with EPERM; on kernels without 32-bit
// emulation the instruction faults before any filter runs, which is just as closed.
TEST(SeccompFilter, I386CallsAreRefused) {
  std::vector<Probe> probes = {
      {"int80_getpid",
       [] {
         pid_t c = ::fork();
         if (c == 0) {
           long ret = 20;  // __NR_getpid on i386
           asm volatile("int $0x80" : "+a"(ret) : : "memory");
           ::_exit(ret == -EPERM ? 0 : 1);
         }
         int st = 0;
         ::waitpid(c, &st, 0);
         if (WIFEXITED(st)) return WEXITSTATUS(st) == 0 ? EPERM : -1;
         return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? EPERM : -2;
       }},
  };
  auto got = run_filtered(strict_program(), probes);
  EXPECT_EQ(got["int80_getpid"], EPERM);
}

// Allowing namespaces removes setns from the deny list and nothing else.
TEST(SeccompFilter, NamespaceOption) {
  const auto& strict = seccomp_denied_syscalls();
  const auto& relaxed = seccomp_denied_syscalls(SeccompOptions{true});
  EXPECT_THAT(strict, ::testing::Contains("setns"));
  EXPECT_THAT(relaxed, ::testing::Not(::testing::Contains("setns")));
  EXPECT_EQ(strict.size(), relaxed.size() + 1);
  auto program = build_seccomp_bpf(SeccompOptions{true});
  ASSERT_TRUE(program.ok());
  EXPECT_LT(program->size(), strict_program().size());
}

}  // namespace
}  // namespace shipyard::bay
