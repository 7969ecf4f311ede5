// GC rules of bay-api-v1.md §13 and fault injection around cargos and sessions.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "bay/domain/cargo_service.hpp"
#include "bay/domain/gc_service.hpp"
#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {
namespace asio = boost::asio;

class GcTest : public DomainTest {
 protected:
  void SetUp() override {
    DomainTest::SetUp();
    cargos = std::make_unique<CargoService>(*store, *driver, config, clock);
    gc = std::make_unique<GcService>(io.get_executor(), *store, *driver, *sessions, *sandboxes,
                                     *cargos, config, clock);
  }
  void TearDown() override {
    gc.reset();
    cargos.reset();
    DomainTest::TearDown();
  }
  const GcTaskResult& task(const GcReport& r, const std::string& name) {
    for (const auto& t : r.results) {
      if (t.task_name == name) return t;
    }
    throw std::runtime_error("task not in report: " + name);
  }
  std::size_t cargo_dirs() {
    std::size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(root_ + "/cargos")) {
      (void)e;
      ++n;
    }
    return n;
  }

  std::unique_ptr<CargoService> cargos;
  std::unique_ptr<GcService> gc;
};

// A second cycle while one runs is refused with kLocked (HTTP 423).
TEST_F(GcTest, OneCycleAtATime) {
  std::optional<Result<GcReport>> first;
  asio::co_spawn(io, detail::store_result(gc->run(std::nullopt), &first), asio::detached);
  io.restart();
  io.poll_one();  // the first cycle is now suspended inside a store call
  ASSERT_TRUE(gc->running());
  auto second = run(io, gc->run(std::nullopt));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kLocked);
  ASSERT_TRUE(run_until(io, [&] { return first.has_value(); }));
  EXPECT_TRUE(first->ok());
  EXPECT_FALSE(gc->running());
}

// Expired sandboxes are deleted with their managed cargo; live ones are untouched.
TEST_F(GcTest, ExpiredSandboxes) {
  CreateSandboxRequest short_ttl;
  short_ttl.ttl = 5;
  auto doomed = create("alice", short_ttl);
  auto kept = create("alice");
  clock.advance(std::chrono::seconds(6));
  auto r = run(io, gc->run(std::vector<std::string>{"expired_sandbox"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(task(*r, "expired_sandbox").cleaned_count, 1);
  EXPECT_EQ(run(io, sandboxes->lookup("alice", doomed.sandbox.id)).error().code,
            ErrorCode::kNotFound);
  EXPECT_TRUE(run(io, sandboxes->lookup("alice", kept.sandbox.id)).ok());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/cargos/" + doomed.sandbox.cargo_id));
}

// Idle reclaim skips a session with a call in flight, and reclaims it once idle.
TEST_F(GcTest, IdleReclaimSkipsInflight) {
  auto t = target(create().sandbox.id);
  auto lease = run(io, sandboxes->ensure_session(t));
  ASSERT_TRUE(lease.ok());
  clock.advance(std::chrono::seconds(t.profile->idle_timeout + 1));
  auto busy = run(io, gc->run(std::vector<std::string>{"idle_session"}));
  EXPECT_EQ(task(*busy, "idle_session").cleaned_count, 0);
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "ready");
  lease->reset();  // the call completes (and refreshes the idle deadline)
  clock.advance(std::chrono::seconds(t.profile->idle_timeout + 1));
  auto idle = run(io, gc->run(std::vector<std::string>{"idle_session"}));
  EXPECT_EQ(task(*idle, "idle_session").cleaned_count, 1);
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "idle");
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
}

// Expiry GC racing a running execution ends consistent: sandbox gone, no runtime left,
// the call fails instead of resurrecting the session.
TEST_F(GcTest, ExpiryDuringExecution) {
  CreateSandboxRequest req;
  req.ttl = 60;
  auto t = target(create("alice", req).sandbox.id);
  ExecRequest warm;
  warm.code = "1";
  ASSERT_TRUE(run(io, capabilities->python(t, warm)).ok());
  ExecRequest slow;
  slow.code = "import time; time.sleep(30)";
  slow.timeout = 60;
  std::optional<Result<json::object>> call;
  asio::co_spawn(io, detail::store_result(capabilities->python(t, slow), &call), asio::detached);
  run_until(
      io, [] { return false; }, std::chrono::milliseconds(300));
  clock.advance(std::chrono::seconds(61));
  auto r = run(io, gc->run(std::vector<std::string>{"expired_sandbox"}));
  EXPECT_EQ(task(*r, "expired_sandbox").cleaned_count, 1);
  ASSERT_TRUE(run_until(io, [&] { return call.has_value(); }));
  EXPECT_FALSE(call->ok());
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  EXPECT_EQ(sessions->view(t.sandbox.id).state, SessionView::State::kNone);
}

// Orphan cargos (managed, sandbox gone) are removed; external cargos never.
TEST_F(GcTest, OrphanCargos) {
  auto external = run(io, cargos->create("alice", 5));
  ASSERT_TRUE(external.ok());
  Cargo orphan;
  orphan.id = "ws-0123456789ab";
  orphan.owner = "alice";
  orphan.managed = true;
  orphan.managed_by_sandbox_id = "sandbox-gone00000000";
  orphan.created_at = orphan.last_accessed_at = clock.now();
  orphan.host_uid = *run(io, store->allocate_uid(200000));
  orphan.storage_path = *run(io, driver->create_cargo_storage(orphan.id, orphan.host_uid, 5));
  ASSERT_TRUE(run(io, store->create_cargo(orphan)).ok());
  auto r = run(io, gc->run(std::vector<std::string>{"orphan_cargo"}));
  EXPECT_EQ(task(*r, "orphan_cargo").cleaned_count, 1);
  EXPECT_FALSE(std::filesystem::exists(orphan.storage_path));
  EXPECT_TRUE(run(io, cargos->get("alice", external->id)).ok());
}

// The N-th store write failing while creating a cargo leaves no storage and no record.
TEST_F(GcTest, CargoCreateFaultInjection) {
  for (int n = 0; n < 3; ++n) {
    store->fail_writes_after(n);
    auto r = run(io, cargos->create("alice", 5));
    store->fail_writes_after(-1);
    auto listed = run(io, store->list_cargos("alice", false, std::nullopt, 100));
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(cargo_dirs(), listed->size()) << "n=" << n;
    if (r.ok()) {
      EXPECT_EQ(listed->size(), 1u) << "n=" << n;
    }
    for (const auto& c : *listed) ASSERT_TRUE(run(io, cargos->remove("alice", c.id)).ok());
  }
}

// A store write failing during a session start leaves no runtime behind, and the next
// call starts cleanly.
TEST_F(GcTest, SessionStartFaultInjection) {
  auto t = target(create().sandbox.id);
  for (int n = 0; n < 4; ++n) {
    store->fail_writes_after(n);
    auto lease = run(io, sandboxes->ensure_session(t));
    store->fail_writes_after(-1);
    lease = Result<std::unique_ptr<SessionLease>>(Error(ErrorCode::kInternal, "dropped"));
    ASSERT_TRUE(run(io, sessions->stop(t.sandbox.id)).ok());
    ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; })) << "n=" << n;
    auto active = run(io, store->active_session(t.sandbox.id));
    ASSERT_TRUE(active.ok());
    EXPECT_FALSE(active->has_value()) << "n=" << n;
  }
  auto ok = run(io, sandboxes->ensure_session(t));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
}

}  // namespace
}  // namespace shipyard::bay::testing
