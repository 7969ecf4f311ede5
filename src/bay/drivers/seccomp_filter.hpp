// The seccomp filter every sandbox runs under: a deny list at least as strict as
// Docker's default profile, built with libseccomp and exported as the raw BPF program
// bwrap loads with `--seccomp FD` right before it executes Ship (after no_new_privs and
// dropping capabilities). Everything Ship and user code start inherits it.
//
// Denied calls fail with EPERM rather than killing the caller, so programs that probe
// for a feature (mount, unshare, keyctl, ...) see an ordinary error and carry on.
// clone3 fails with ENOSYS instead: its flags live in memory a filter cannot inspect,
// and ENOSYS is what makes glibc fall back to clone(), whose flags are checked.
// System calls of other ABIs (i386 through int 0x80, x32) fail with EPERM too.
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"

namespace shipyard::bay {

struct SeccompOptions {
  // Allows unshare/clone with namespace flags and setns (no profile asks for this yet;
  // nested user namespaces are also refused by bwrap's --disable-userns).
  bool allow_namespaces = false;
};

// The BPF program (an array of struct sock_filter, host byte order) for the host's
// native architecture. Fails only if libseccomp cannot build it.
Result<std::string> build_seccomp_bpf(const SeccompOptions& options = {});

// The system calls denied unconditionally with EPERM (names, for docs and tests). Calls
// that are filtered by argument (clone, unshare, personality, ioctl) are not listed.
const std::vector<std::string>& seccomp_denied_syscalls(const SeccompOptions& options = {});

}  // namespace shipyard::bay
