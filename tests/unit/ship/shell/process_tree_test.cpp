#include "ship/shell/process_tree.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

namespace shipyard::ship::shell {
namespace {

using ::testing::UnorderedElementsAre;

// Fields are counted after the last ')', so a command name with spaces and
// parentheses does not shift them.
TEST(ProcStat, ParsesStatLine) {
  auto st = parse_proc_stat(
      "4242 (a) b (c)) S 17 4242 99 34816 4242 4194304 100 0 0 0 1 2 0 0 20 0 1 0 "
      "123456 8000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 17);
  EXPECT_EQ(st->pgrp, 4242);
  EXPECT_EQ(st->session, 99);
  EXPECT_EQ(st->start_time, 123456u);
  EXPECT_TRUE(st->alive());
  EXPECT_FALSE(parse_proc_stat("garbage").has_value());
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2").has_value());
}

// The live /proc scan sees this process with its real ids.
TEST(ProcStat, ScanFindsSelf) {
  auto all = scan_processes();
  auto self =
      std::find_if(all.begin(), all.end(), [](const ProcStat& p) { return p.pid == ::getpid(); });
  ASSERT_NE(self, all.end());
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_EQ(self->pgrp, ::getpgrp());
  EXPECT_EQ(self->session, ::getsid(0));
}

ProcStat proc(pid_t pid, pid_t ppid, pid_t pgrp, pid_t session, char state = 'S',
              unsigned long long start = 0) {
  ProcStat p;
  p.pid = pid;
  p.ppid = ppid;
  p.pgrp = pgrp;
  p.session = session;
  p.state = state;
  p.start_time = start != 0 ? start : static_cast<unsigned long long>(pid) * 10;
  return p;
}

std::vector<pid_t> pids(const std::vector<ProcStat>& v) {
  std::vector<pid_t> out;
  for (const auto& p : v) out.push_back(p.pid);
  return out;
}

// Ship is pid 100 (group 100) in session 50 led by its parent shell 50.
TreeSeed ship_seed(pid_t root) {
  TreeSeed seed;
  seed.root = root;
  seed.own_pid = 100;
  seed.own_pgrp = 100;
  seed.own_session = 50;
  return seed;
}

// The tree is the root's descendants plus members of groups and sessions they created
// (orphans included); Ship, its ancestors, its group, other commands and kernel threads
// are not.
TEST(SelectTree, DescendantsGroupsAndSessions) {
  std::vector<ProcStat> snap = {
      proc(1, 0, 1, 1),             // init
      proc(2, 0, 0, 0),             // kthreadd
      proc(3, 2, 0, 0),             // a kernel thread
      proc(50, 1, 50, 50),          // Ship's parent shell (session leader)
      proc(100, 50, 100, 50),       // Ship
      proc(101, 100, 100, 50),      // another child of Ship in Ship's group
      proc(200, 100, 200, 50),      // the command's bash (root)
      proc(201, 200, 200, 50),      // `sleep &`
      proc(202, 200, 202, 202),     // `setsid sleep &`
      proc(203, 202, 202, 202),     // its child
      proc(204, 1, 200, 50),        // orphan left in the root's group
      proc(205, 1, 205, 202),       // orphan in a new group of the setsid session
      proc(206, 200, 50, 50),       // a child that joined the ancestor's group
      proc(207, 206, 50, 50, 'Z'),  // a zombie child of it
      proc(300, 1, 300, 300),       // unrelated
      proc(400, 100, 400, 50),      // another command of Ship
  };
  TreeSeed seed = ship_seed(200);
  auto tree = select_tree(snap, seed);
  EXPECT_THAT(pids(tree), UnorderedElementsAre(200, 201, 202, 203, 204, 205, 206, 207));
  EXPECT_EQ(seed.groups, (std::set<pid_t>{200, 202, 205}));
  EXPECT_EQ(seed.sessions, (std::set<pid_t>{202}));
}

// A later sweep still finds known processes whose parent died (by identity) and their
// new children, but not a process that reuses a known pid.
TEST(SelectTree, LaterSweepAfterRootReaped) {
  TreeSeed seed = ship_seed(200);
  std::vector<ProcStat> first = {proc(100, 50, 100, 50), proc(200, 100, 200, 50),
                                 proc(201, 200, 201, 50), proc(202, 200, 200, 50)};
  auto tree = select_tree(first, seed);
  ASSERT_THAT(pids(tree), UnorderedElementsAre(200, 201, 202));

  seed.root_unreaped = false;
  std::vector<ProcStat> second = {
      proc(100, 50, 100, 50),
      proc(200, 1, 900, 900, 'S', 77),  // root's pid reused by an unrelated process
      proc(201, 1, 201, 50),            // reparented, own group: found by identity
      proc(202, 1, 555, 555, 'S', 99),  // pid reused (different start time)
      proc(210, 201, 201, 50),          // a child forked after the first sweep
      proc(211, 1, 201, 50),            // an orphan in a known group
  };
  tree = select_tree(second, seed);
  EXPECT_THAT(pids(tree), UnorderedElementsAre(201, 210, 211));
}

}  // namespace
}  // namespace shipyard::ship::shell
