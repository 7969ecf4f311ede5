// The warm pool over the FakeDriver (real Ship processes): filling, claiming at create,
// invisibility until the first call, binding, dead slots, failures and shutdown.
#include "bay/domain/warm_pool.hpp"

#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

class WarmPoolTest : public DomainTest {
 protected:
  void SetUp() override {
    DomainTest::SetUp();
    config.profiles.front().warm_pool_size = 2;
    pool =
        std::make_unique<WarmPool>(io.get_executor(), *store, *driver, *sessions, config, settings);
    sandboxes->set_warm_pool(pool.get());
  }
  void TearDown() override {
    if (pool) run(io, pool->shutdown());
    pool.reset();
    DomainTest::TearDown();
  }
  bool filled(std::size_t n = 2) {
    return run_until(io, [&] { return pool->ready("python-default") == n; });
  }
  std::string shell_output(const std::string& sandbox_id, std::string cmd) {
    ExecRequest req;
    req.code = std::move(cmd);
    auto r = run(io, capabilities->shell(target(sandbox_id), req));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return "";
    const auto* out = r->if_contains("output");
    return out && out->is_string() ? std::string(out->as_string()) : json::serialize(*r);
  }
  std::unique_ptr<WarmPool> pool;
};

// Start fills every pool to its size, one runtime per slot.
TEST_F(WarmPoolTest, FillsToSize) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  EXPECT_EQ(driver->starts, 2);
  EXPECT_EQ(driver->running(), 2u);
  EXPECT_EQ(pool->ready("python-only"), 0u);
}

// A create takes a slot: the sandbox reads idle with no session until its first call,
// which adopts the warm runtime without a start; the pool refills meanwhile.
TEST_F(WarmPoolTest, ClaimIsInvisibleUntilFirstCall) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  auto sb = create();
  EXPECT_EQ(sb.status, "idle");
  EXPECT_EQ(sessions->view(sb.sandbox.id).state, SessionView::State::kNone);
  EXPECT_FALSE(run(io, sessions->keepalive(sb.sandbox.id, config.profiles.front())));
  ASSERT_TRUE(filled());  // refilled
  const int starts = driver->starts;
  EXPECT_EQ(starts, 3);
  EXPECT_EQ(shell_output(sb.sandbox.id, "echo $BAY_SANDBOX_ID; pwd"),
            sb.sandbox.id + "\n" + root_ + "/cargos/" + sb.sandbox.cargo_id);
  EXPECT_EQ(driver->starts, starts);  // adopted, not started
  EXPECT_EQ(sessions->view(sb.sandbox.id).state, SessionView::State::kReady);
  // The slot's storage is the sandbox's managed cargo.
  auto cargo = run(io, store->find_cargo(sb.sandbox.cargo_id));
  ASSERT_TRUE(cargo.ok() && cargo->has_value());
  EXPECT_TRUE((*cargo)->managed);
  EXPECT_EQ((*cargo)->storage_path, root_ + "/cargos/" + sb.sandbox.cargo_id);
}

// Deleting a sandbox that never ran a call destroys its parked runtime and storage.
TEST_F(WarmPoolTest, DeleteBeforeFirstCallDestroysParkedRuntime) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  auto sb = create();
  ASSERT_TRUE(filled());
  EXPECT_EQ(driver->running(), 3u);
  ASSERT_TRUE(run(io, sandboxes->remove("alice", sb.sandbox.id)).ok());
  EXPECT_TRUE(run_until(io, [&] { return driver->running() == 2; }));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/cargos/" + sb.sandbox.cargo_id));
}

// A parked runtime that died is noticed at the first call, which then starts cold.
TEST_F(WarmPoolTest, DeadParkedRuntimeStartsCold) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  auto sb = create();
  ASSERT_TRUE(filled());
  // Every runtime dies (the parked one and the pool's).
  auto runtimes = run(io, driver->list_runtimes("test"));
  ASSERT_TRUE(runtimes.ok());
  for (auto& rt : *runtimes) driver->crash(rt.handle.runtime_id);
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  const int starts = driver->starts;
  EXPECT_EQ(shell_output(sb.sandbox.id, "echo $BAY_SANDBOX_ID"), sb.sandbox.id);
  EXPECT_EQ(driver->starts, starts + 1);  // one cold start, for this sandbox
  // The next create skips the dead slots instead of handing one out.
  auto sb2 = create();
  EXPECT_EQ(shell_output(sb2.sandbox.id, "echo $BAY_SANDBOX_ID"), sb2.sandbox.id);
}

// Sandboxes with an external cargo, or of a profile without a pool, start cold.
TEST_F(WarmPoolTest, ExternalCargoAndOtherProfilesStartCold) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  CreateSandboxRequest req;
  req.profile = "python-only";
  auto sb = create("alice", req);
  EXPECT_EQ(pool->ready("python-default"), 2u);
  ExecRequest py;
  py.code = "import os; print(os.environ['BAY_SANDBOX_ID'])";
  auto r = run(io, capabilities->python(target(sb.sandbox.id), py));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(driver->starts, 3);
}

// An empty pool never makes a create wait: it falls back to the cold path.
TEST_F(WarmPoolTest, EmptyPoolFallsBackToCold) {
  driver->start_delay = std::chrono::milliseconds(300);
  run(io, pool->start());
  auto sb = create();  // the pool is still filling
  EXPECT_EQ(shell_output(sb.sandbox.id, "echo $BAY_SANDBOX_ID"), sb.sandbox.id);
}

// Failed fills back off and are retried until the pool is full.
TEST_F(WarmPoolTest, FailedFillIsRetried) {
  driver->fail_next_start = true;
  run(io, pool->start());
  EXPECT_TRUE(run_until(
      io, [&] { return pool->ready("python-default") == 2; }, std::chrono::milliseconds(15000)));
  EXPECT_EQ(driver->starts, 3);
}

// A store failure while creating (whichever write it hits: the insert, or a refill's uid
// allocation) leaves no runtime or storage that no sandbox or slot owns.
TEST_F(WarmPoolTest, CreateFaultLeavesNothingBehind) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  int failures = 0;
  for (int n = 0; n < 4; ++n) {
    store->fail_writes_after(n);
    auto r = run(io, sandboxes->create("alice", {}));
    store->fail_writes_after(-1);
    failures += r.ok() ? 0 : 1;
    ASSERT_TRUE(filled()) << "n=" << n;
    auto listed = run(io, store->list_sandboxes("alice", std::nullopt, 100));
    ASSERT_TRUE(listed.ok());
    const std::size_t owned = listed->size() + 2;  // parked runtimes + the pool
    EXPECT_TRUE(run_until(io, [&] { return driver->running() == owned; })) << "n=" << n;
    std::size_t dirs = 0;
    for (auto& e : std::filesystem::directory_iterator(root_ + "/cargos")) dirs += e.is_directory();
    EXPECT_EQ(dirs, owned) << "n=" << n;
  }
  EXPECT_GT(failures, 0);
}

// Shutdown destroys the ready slots with their storage.
TEST_F(WarmPoolTest, ShutdownDestroysSlots) {
  run(io, pool->start());
  ASSERT_TRUE(filled());
  run(io, pool->shutdown());
  EXPECT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  std::size_t dirs = 0;
  for (auto& e : std::filesystem::directory_iterator(root_ + "/cargos")) dirs += e.is_directory();
  EXPECT_EQ(dirs, 0u);
}

}  // namespace
}  // namespace shipyard::bay::testing
