// Per-session cgroup directories: creating them with their limits, killing what is in
// them, removing them. Blocking cgroupfs I/O: run on the driver's worker threads.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "bay/drivers/sandbox_plan.hpp"
#include "common/error.hpp"

namespace shipyard::bay {

// Creates every cgroup of the plan and writes its limits in order. On failure the
// cgroups created so far are removed again.
Status create_cgroups(const std::vector<PlannedCgroup>& cgroups);

// Moves process `pid` (not its existing children) into the cgroup: its cgroup.procs.
Status move_into_cgroup(const std::string& dir, pid_t pid);

// SIGKILLs every process in the cgroup (cgroup.kill on v2, else each member through a
// pidfd whose membership is re-checked after opening, so a recycled pid is never hit).
void kill_cgroup_members(const std::string& dir);

// No process left in the cgroup (a missing cgroup is empty).
bool cgroup_empty(const std::string& dir);

// rmdir; a missing cgroup is success.
Status remove_cgroup(const std::string& dir);

}  // namespace shipyard::bay
