#include "bay/drivers/seccomp_filter.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "common/unique_fd.hpp"

namespace shipyard::bay {

namespace {

// Denied with EPERM whatever their arguments. Docker's default profile refuses these
// (most of them by requiring a capability the sandbox never has); a few more are
// refused outright because nothing a sandbox runs needs them and each has a history of
// kernel bugs or cross-process reach:
//   ptrace, process_vm_*, kcmp, pidfd_getfd: reading or steering another process
//     (Ship shares the sandbox uid; a debugger inside a sandbox is not supported);
//   io_uring_*: a second system-call path that seccomp cannot see into;
//   the new mount API (fsopen, move_mount, ...), like mount itself.
const char* const kAlwaysDenied[] = {
    // filesystems and mounts
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "open_by_handle_at",
    "name_to_handle_at",
    "quotactl",
    "quotactl_fd",
    "swapon",
    "swapoff",
    "nfsservctl",
    "sysfs",
    "ustat",
    "uselib",
    "_sysctl",
    "lookup_dcookie",
    "fanotify_init",
    // kernel, modules, machine state
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "reboot",
    "acct",
    "syslog",
    "iopl",
    "ioperm",
    "vhangup",
    "settimeofday",
    "stime",
    "clock_settime",
    "clock_adjtime",
    "sethostname",
    "setdomainname",
    "modify_ldt",
    "vm86",
    "vm86old",
    // kernel facilities with a history of exploitable bugs
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // reaching into other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
};

const char* const kNamespaceCalls[] = {"setns"};

// clone() carries the exit signal in its low byte, so CLONE_NEWTIME (0x80) is only
// checked for unshare().
constexpr std::uint64_t kCloneNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
                                                  CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
                                                  CLONE_NEWNET};
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// personality() flags that weaken the address space (executable data, no ASLR, a page
// at address 0, legacy layouts). libseccomp cannot express Docker's exact allow list
// (it compares an argument once per rule), so the flags are refused one by one; the
// personas themselves (Linux, Linux32, UNAME26) stay available. The all-ones query has
// every bit set and is refused with them.
constexpr std::uint64_t kDeniedPersonalityFlags[] = {
    0x0400000,  // READ_IMPLIES_EXEC
    0x0040000,  // ADDR_NO_RANDOMIZE
    0x0100000,  // MMAP_PAGE_ZERO
    0x0200000,  // ADDR_COMPAT_LAYOUT
    0x0800000,  // ADDR_LIMIT_32BIT
    0x8000000,  // ADDR_LIMIT_3GB
    0x0080000,  // FDPIC_FUNCPTRS
    0x1000000,  // SHORT_INODE
    0x2000000,  // WHOLE_SECONDS
    0x4000000,  // STICKY_TIMEOUTS
};

struct CtxDeleter {
  void operator()(scmp_filter_ctx c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Error seccomp_error(const std::string& what, int rc) {
  Error e(ErrorCode::kInternal, "the sandbox seccomp filter could not be built");
  e.context = what + ": " + std::string(std::strerror(-rc));
  return e;
}

}  // namespace

const std::vector<std::string>& seccomp_denied_syscalls(const SeccompOptions& options) {
  static const std::vector<std::string> kStrict = [] {
    std::vector<std::string> v(std::begin(kAlwaysDenied), std::end(kAlwaysDenied));
    v.insert(v.end(), std::begin(kNamespaceCalls), std::end(kNamespaceCalls));
    return v;
  }();
  static const std::vector<std::string> kWithNamespaces(std::begin(kAlwaysDenied),
                                                        std::end(kAlwaysDenied));
  return options.allow_namespaces ? kWithNamespaces : kStrict;
}

Result<std::string> build_seccomp_bpf(const SeccompOptions& options) {
  const std::uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return seccomp_error("seccomp_init", -ENOMEM);
  // Only the native ABI: i386 (int 0x80) and x32 system calls would bypass a filter
  // written for x86-64 numbers. libseccomp routes both to the "bad arch" action.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, eperm); rc != 0) {
    return seccomp_error("setting the bad-arch action", rc);
  }

  for (const auto& name : seccomp_denied_syscalls(options)) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR || nr < 0) continue;  // not a system call on this architecture
    if (int rc = seccomp_rule_add(ctx.get(), eperm, nr, 0); rc != 0) {
      return seccomp_error("denying " + name, rc);
    }
  }

  if (!options.allow_namespaces) {
    for (std::uint64_t flag : kCloneNamespaceFlags) {
      int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(clone), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
      if (rc == 0) {
        rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(unshare), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
      }
      if (rc != 0) return seccomp_error("filtering namespace flags", rc);
    }
    if (int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(unshare), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWTIME, CLONE_NEWTIME));
        rc != 0) {
      return seccomp_error("filtering CLONE_NEWTIME", rc);
    }
  }
  // clone3 passes its flags in memory: refuse it so that libc falls back to clone().
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc != 0) {
    return seccomp_error("refusing clone3", rc);
  }

  for (std::uint64_t flag : kDeniedPersonalityFlags) {
    int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc != 0) return seccomp_error("filtering personality", rc);
  }

  // Terminal input injection into whatever terminal a descriptor refers to.
  for (std::uint64_t req : {std::uint64_t{TIOCSTI}, std::uint64_t{TIOCLINUX}}) {
    int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, req));
    if (rc != 0) return seccomp_error("filtering ioctl", rc);
  }

  UniqueFd fd(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
  if (!fd) return system_error("memfd_create", errno);
  if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc != 0) {
    return seccomp_error("exporting the filter", rc);
  }
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size <= 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) return system_error("lseek", errno);
  std::string program(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < program.size()) {
    ssize_t n = ::read(fd.get(), program.data() + done, program.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return system_error("reading the exported filter", n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  return program;
}

}  // namespace shipyard::bay
