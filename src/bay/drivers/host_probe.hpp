// Detection of what the host offers the process driver: privileges, the /usr layout,
// /etc entries, bwrap's features and the cgroup layout (v2 unified with controllers,
// v1 per-controller mounts, hybrids, or none). The parsers are pure and unit-tested;
// probe_host() reads the system and prepares the cgroup parents once at start-up.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/drivers/sandbox_plan.hpp"

namespace shipyard::bay {

struct MountInfoEntry {
  std::string root;         // the mounted subtree of the filesystem
  std::string mount_point;  // unescaped
  std::string fstype;
  std::vector<std::string> super_options;
};

// Parses /proc/self/mountinfo; malformed lines are skipped.
std::vector<MountInfoEntry> parse_mountinfo(std::string_view text);

struct CgroupMounts {
  std::optional<std::string> unified;     // the cgroup2 mount point
  std::map<std::string, std::string> v1;  // controller → v1 mount point
};

// The first mount of each v1 controller of interest (memory, cpu, pids) and the first
// cgroup2 mount.
CgroupMounts find_cgroup_mounts(const std::vector<MountInfoEntry>& mounts);

// "shipyard", "/a/b/" → the components; nullopt if a component is empty, "." or "..".
// An empty setting means "shipyard". The parent is a path from the root of each
// hierarchy (as Docker's cgroupfs driver does with /docker).
std::optional<std::vector<std::string>> split_cgroup_parent(const std::string& setting);

// The controllers Bay uses ("memory", "cpu", "pids") that appear in a
// cgroup.controllers / cgroup.subtree_control line.
std::vector<std::string> wanted_controllers(std::string_view controllers_line);

struct BwrapFeatures {
  bool size = false;
  bool perms = false;
  bool disable_userns = false;
};
BwrapFeatures parse_bwrap_help(std::string_view help);

struct ProbeResult {
  HostFacts facts;
  std::string bwrap_version;          // e.g. "bubblewrap 0.8.0"; empty if bwrap is unusable
  std::vector<std::string> warnings;  // problems that will make sessions fail
  std::string seccomp_bpf;            // the sandboxes' filter (empty: could not be built)
};

// The facts about network "outbound": the slirp4netns executable found on `search_path`
// and whether sandbox uids can open /dev/net/tun; fills facts.slirp4netns and
// facts.outbound_unavailable.
void probe_outbound(HostFacts& facts, const std::string& search_path);

// Reads the host (blocking; call before serving or from a worker thread). When Bay is
// root it also creates the cgroup parents and, for v2, enables the controllers on the
// path down to them; a failure there degrades to "no cgroups" with the reason recorded.
ProbeResult probe_host(const ProcessDriverConfig& cfg, const std::string& sessions_dir);

// One line for the start-up log: what is enforced, or that the driver is degraded.
std::string describe_probe(const ProbeResult& probe, const ProcessDriverConfig& cfg);

}  // namespace shipyard::bay
