// Session lifecycle rules of bay-api-v1.md §6.10 against a FakeDriver.
#include <boost/asio/steady_timer.hpp>

#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {
namespace asio = boost::asio;
using State = SessionView::State;

asio::awaitable<Result<std::string>> acquire_session_id(SandboxService& s, CallTarget t) {
  auto lease = co_await s.ensure_session(t);
  if (!lease) co_return std::move(lease).error();
  co_return (*lease)->session_id();
}

// Creating a sandbox starts no compute; its status is idle.
TEST_F(DomainTest, CreateIsLazy) {
  auto sb = create();
  EXPECT_EQ(sb.status, "idle");
  EXPECT_EQ(driver->starts, 0);
  EXPECT_FALSE(sb.session.idle_expires_at.has_value());
}

// Concurrent first calls share exactly one session start.
TEST_F(DomainTest, SingleStartUnderConcurrentCalls) {
  driver->start_delay = std::chrono::milliseconds(200);
  auto t = target(create().sandbox.id);
  std::vector<std::optional<Result<std::string>>> results(8);
  for (auto& r : results) {
    asio::co_spawn(io, detail::store_result(acquire_session_id(*sandboxes, t), &r), asio::detached);
  }
  ASSERT_TRUE(run_until(io, [&] {
    return std::all_of(results.begin(), results.end(), [](auto& r) { return r.has_value(); });
  }));
  EXPECT_EQ(driver->starts, 1);
  for (auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->error().message;
    EXPECT_EQ(**r, **results[0]);
  }
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "ready");
}

// A failed start reads `failed` and the next call retries from scratch.
TEST_F(DomainTest, FailedStartThenRetry) {
  auto t = target(create().sandbox.id);
  driver->fail_next_start = true;
  auto first = run(io, acquire_session_id(*sandboxes, t));
  EXPECT_FALSE(first.ok());
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "failed");
  auto second = run(io, acquire_session_id(*sandboxes, t));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(driver->starts, 2);
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "ready");
}

// Stop during a start does not wait for it: waiting calls fail, the runtime is torn down.
TEST_F(DomainTest, StopCancelsStart) {
  driver->start_delay = std::chrono::milliseconds(400);
  auto t = target(create().sandbox.id);
  std::optional<Result<std::string>> waiting;
  asio::co_spawn(io, detail::store_result(acquire_session_id(*sandboxes, t), &waiting),
                 asio::detached);
  run_until(io, [&] { return driver->starts == 1; });
  auto t0 = std::chrono::steady_clock::now();
  auto s = run(io, sessions->stop(t.sandbox.id));
  EXPECT_TRUE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  EXPECT_EQ(sessions->view(t.sandbox.id).state, State::kNone);
  ASSERT_TRUE(run_until(io, [&] { return waiting.has_value(); }));
  EXPECT_FALSE(waiting->ok());
  EXPECT_EQ(waiting->error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE(run_until(io, [&] { return driver->destroys == 1 && driver->running() == 0; }));
}

// A runtime that died is noticed on the next call and replaced by a new session.
TEST_F(DomainTest, DeadRuntimeReplaced) {
  auto t = target(create().sandbox.id);
  auto first = run(io, acquire_session_id(*sandboxes, t));
  ASSERT_TRUE(first.ok());
  auto active = run(io, store->active_session(t.sandbox.id));
  ASSERT_TRUE(active.ok() && active->has_value());
  driver->crash((*active)->runtime_id);
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  auto second = run(io, acquire_session_id(*sandboxes, t));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_NE(*first, *second);
  EXPECT_EQ(driver->starts, 2);
}

// A runtime that never becomes healthy fails the start within the readiness budget.
TEST_F(DomainTest, NeverHealthyRuntimeFails) {
  settings.ready_timeout = std::chrono::milliseconds(500);
  make_services();
  driver->start_broken_runtime = true;
  auto t = target(create().sandbox.id);
  auto r = run(io, acquire_session_id(*sandboxes, t));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().details.at("sandbox_id").as_string(), t.sandbox.id);
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "failed");
}

// A new SessionManager (a restarted Bay) re-attaches to a live session with its state.
TEST_F(DomainTest, RecoverReattaches) {
  auto t = target(create().sandbox.id);
  ExecRequest req;
  req.code = "survivor = 41";
  ASSERT_TRUE(run(io, capabilities->python(t, req)).ok());
  auto before = sessions->view(t.sandbox.id).session_id;
  make_services();
  EXPECT_EQ(sessions->view(t.sandbox.id).state, State::kNone);
  run(io, sessions->recover());
  EXPECT_EQ(sessions->view(t.sandbox.id).state, State::kReady);
  EXPECT_EQ(sessions->view(t.sandbox.id).session_id, before);
  req.code = "survivor + 1";
  auto r = run(io, capabilities->python(target(t.sandbox.id), req));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("output"), "42");
  EXPECT_EQ(driver->starts, 1);
}

// Recovery ends sessions whose runtime is gone, so the sandbox reads idle.
TEST_F(DomainTest, RecoverEndsDeadSessions) {
  auto t = target(create().sandbox.id);
  ASSERT_TRUE(run(io, acquire_session_id(*sandboxes, t)).ok());
  auto active = run(io, store->active_session(t.sandbox.id));
  driver->crash((*active)->runtime_id);
  ASSERT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  make_services();
  run(io, sessions->recover());
  EXPECT_EQ(sandboxes->state_of(t.sandbox).status, "idle");
  auto after = run(io, store->active_session(t.sandbox.id));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

// Idle expiry is set by calls, left alone by reads, refreshed by keepalive, cleared by stop.
TEST_F(DomainTest, IdleExpiry) {
  auto t = target(create().sandbox.id);
  ASSERT_TRUE(run(io, acquire_session_id(*sandboxes, t)).ok());
  auto v = sessions->view(t.sandbox.id);
  ASSERT_TRUE(v.idle_expires_at.has_value());
  EXPECT_EQ(*v.idle_expires_at, clock.now() + std::chrono::seconds(t.profile->idle_timeout));
  clock.advance(std::chrono::seconds(10));
  EXPECT_EQ(sessions->view(t.sandbox.id).idle_expires_at, v.idle_expires_at);
  ASSERT_TRUE(run(io, sandboxes->keepalive("alice", t.sandbox.id)).ok());
  EXPECT_EQ(*sessions->view(t.sandbox.id).idle_expires_at,
            clock.now() + std::chrono::seconds(t.profile->idle_timeout));
  ASSERT_TRUE(run(io, sandboxes->stop("alice", t.sandbox.id)).ok());
  EXPECT_FALSE(sessions->view(t.sandbox.id).idle_expires_at.has_value());
}

}  // namespace
}  // namespace shipyard::bay::testing
