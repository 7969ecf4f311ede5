// Deleting directory trees whose contents a sandbox controlled (cargos, session run
// directories). Everything is resolved relative to directory descriptors: symlinks are
// removed, never followed; mount points are never crossed; depth is unbounded (no
// recursion, a bounded number of open descriptors). Blocking: run it off the I/O thread.
#pragma once

#include <string>

#include "common/error.hpp"

namespace shipyard::bay {

// Removes `name` (a file, symlink or directory tree) inside the directory `dir_fd`.
// A missing entry is success. Entries that cannot be removed (a mount point inside the
// tree, EPERM) make it fail after removing everything else it can.
Status remove_tree_at(int dir_fd, const std::string& name);

// Removes the absolute `path`; its parent directory is opened normally (it is Bay's).
Status remove_tree(const std::string& path);

}  // namespace shipyard::bay
