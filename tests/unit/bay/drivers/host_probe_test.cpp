#include "bay/drivers/host_probe.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "bay/drivers/host_io.hpp"
#include "bay/drivers/runtime_record.hpp"

namespace shipyard::bay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The development host: cgroup v1 controllers each on its own mount plus an empty
// cgroup2 mount at /sys/fs/cgroup/unified (a "hybrid" layout).
constexpr const char* kHybridMountinfo =
    "23 1 0:21 / / rw,relatime - overlay overlay rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// mountinfo lines become entries (optional fields and escaped paths included).
TEST(HostProbe, ParsesMountinfo) {
  auto m = parse_mountinfo(
      "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root "
      "rw,errors=continue\n"
      "garbage line\n");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].root, "/mnt1");
  EXPECT_EQ(m[0].mount_point, "/mnt/with space");
  EXPECT_EQ(m[0].fstype, "ext3");
  EXPECT_THAT(m[0].super_options, ElementsAre("rw", "errors=continue"));
}

// v1 controllers are found by their super options; cpu co-mounted with cpuacct counts.
TEST(HostProbe, FindsCgroupMounts) {
  auto mounts = find_cgroup_mounts(parse_mountinfo(kHybridMountinfo));
  ASSERT_TRUE(mounts.unified.has_value());
  EXPECT_EQ(*mounts.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mounts.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts.v1.at("cpu"), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(mounts.v1.at("pids"), "/sys/fs/cgroup/pids");

  auto comounted = find_cgroup_mounts(parse_mountinfo(
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"));
  EXPECT_EQ(comounted.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_FALSE(comounted.unified.has_value());

  auto pure_v2 = find_cgroup_mounts(
      parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"));
  EXPECT_EQ(pure_v2.unified, std::optional<std::string>("/sys/fs/cgroup"));
  EXPECT_TRUE(pure_v2.v1.empty());
}

// The configured parent is a path from each hierarchy's root; unsafe parts are refused.
TEST(HostProbe, CgroupParentSetting) {
  EXPECT_THAT(*split_cgroup_parent(""), ElementsAre("shipyard"));
  EXPECT_THAT(*split_cgroup_parent("shipyard"), ElementsAre("shipyard"));
  EXPECT_THAT(*split_cgroup_parent("/system.slice/bay/"), ElementsAre("system.slice", "bay"));
  EXPECT_FALSE(split_cgroup_parent("a/../b").has_value());
  EXPECT_FALSE(split_cgroup_parent("a//b").has_value());
}

// Only the controllers Bay uses are picked from a cgroup.controllers line, in a fixed
// order.
TEST(HostProbe, WantedControllers) {
  EXPECT_THAT(wanted_controllers("cpuset cpu io memory hugetlb pids rdma misc\n"),
              ElementsAre("memory", "cpu", "pids"));
  EXPECT_TRUE(wanted_controllers("").empty());
}

// bwrap's optional features are recognised from its --help text.
TEST(HostProbe, BwrapFeatures) {
  auto f = parse_bwrap_help(
      "    --perms OCTAL                Set permissions\n"
      "    --size BYTES                 Set size of next argument (only for --tmpfs)\n");
  EXPECT_TRUE(f.size);
  EXPECT_TRUE(f.perms);
  EXPECT_FALSE(f.disable_userns);
  EXPECT_FALSE(parse_bwrap_help("    --sizeable\n").size);
}

// /proc/<pid>/stat parsing survives command names with spaces and parentheses.
TEST(HostIo, ParsesProcStat) {
  auto st = parse_proc_stat(
      "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 "
      "10 18446744073709551615\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->start_time, 987654u);
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2").has_value());
  auto self = read_proc_stat(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_TRUE(process_matches(::getpid(), self->start_time));
  EXPECT_FALSE(process_matches(::getpid(), self->start_time + 1));
}

// Runtime ids round-trip and foreign or malformed ids are rejected.
TEST(RuntimeRecord, RuntimeIdRoundTrip) {
  ProcRuntimeId id{4242, 123456, 4243, 123460, "sess-abc"};
  std::string text = format_runtime_id(id);
  EXPECT_EQ(text, "proc:4242:123456:4243:123460:sess-abc");
  auto back = parse_runtime_id(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->init_start_time, 123460u);
  EXPECT_EQ(back->session_id, "sess-abc");
  for (const char* bad : {"fake:1:sess", "proc:1:2:3:4", "proc:x:2:3:4:s", "proc:1:2:3:4:../x",
                          "proc:0:2:3:4:s", "proc:1:2:3:4:a:b"}) {
    EXPECT_FALSE(parse_runtime_id(bad).has_value()) << bad;
  }
}

// The session record round-trips through JSON.
TEST(RuntimeRecord, RecordRoundTrip) {
  RuntimeRecord r{"sess-1",
                  "sbx-1",
                  "bay-a",
                  "proc:1:2:3:4:sess-1",
                  "unix:/x/ship.sock",
                  {"/sys/fs/cgroup/memory/shipyard/sess-1"},
                  1700000000};
  auto back = parse_runtime_record(to_json_text(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->instance_id, "bay-a");
  EXPECT_EQ(back->endpoint, "unix:/x/ship.sock");
  EXPECT_THAT(back->cgroups, ElementsAre("/sys/fs/cgroup/memory/shipyard/sess-1"));
  EXPECT_EQ(back->started_at, 1700000000);
  EXPECT_FALSE(parse_runtime_record("{\"session_id\": 1}").has_value());
  EXPECT_FALSE(parse_runtime_record("not json").has_value());
}

// bwrap's --info-fd JSON yields the sandbox init's pid once complete.
TEST(RuntimeRecord, BwrapInfo) {
  EXPECT_FALSE(parse_bwrap_child_pid("{\n    \"child-pid\": 12").has_value());
  EXPECT_EQ(parse_bwrap_child_pid("{\n    \"child-pid\": 12880,\n    \"mnt-namespace\": "
                                  "4026532178\n}\n"),
            std::optional<pid_t>(12880));
}

}  // namespace
}  // namespace shipyard::bay
