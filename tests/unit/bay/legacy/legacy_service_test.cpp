// The legacy /ship domain (legacy-api.md §5-§8) over the real core: in-memory store,
// FakeDriver running real Ship processes, and a manual clock for the lifetime rules.
#include "bay/legacy/legacy_service.hpp"

#include <filesystem>
#include <fstream>

#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

namespace asio = boost::asio;
using legacy::LegacyService;
using legacy::ShipRequest;
using legacy::ShipView;
using std::chrono::seconds;

template <typename T>
asio::awaitable<void> keep_result(asio::awaitable<T> a, std::shared_ptr<std::optional<T>> out) {
  out->emplace(co_await std::move(a));
}

class LegacyTest : public DomainTest {
 protected:
  void SetUp() override {
    DomainTest::SetUp();
    config.legacy.max_ship_num = 2;
    config.legacy.ship_ready_timeout = 10;
    config.legacy.max_wait_seconds = 30;
    make_legacy();
  }
  void TearDown() override {
    legacy.reset();
    DomainTest::TearDown();
  }
  void make_legacy() {
    legacy.reset();
    legacy = std::make_unique<LegacyService>(io.get_executor(), *store, *store, *sandboxes,
                                             *sessions, config, clock);
  }

  static ShipRequest request(std::string session, std::int64_t ttl = 60,
                             std::int64_t max_sessions = 1) {
    ShipRequest r;
    r.session_id = std::move(session);
    r.ttl = ttl;
    r.max_session_num = max_sessions;
    return r;
  }
  Result<ShipView> allocate(ShipRequest r) { return run(io, legacy->allocate(std::move(r), {})); }
  ShipView ship(ShipRequest r) {
    auto v = allocate(std::move(r));
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message + " " + v.error().context);
    return v.ok() ? *v : ShipView{};
  }
  // Starts an allocation without waiting for it.
  std::shared_ptr<std::optional<Result<ShipView>>> start(
      ShipRequest r, std::shared_ptr<AsyncEvent> abandon = nullptr) {
    auto out = std::make_shared<std::optional<Result<ShipView>>>();
    asio::co_spawn(io, keep_result(legacy->allocate(std::move(r), std::move(abandon)), out),
                   asio::detached);
    return out;
  }
  Result<json::value> exec(const std::string& id, const std::string& session, std::string type,
                           json::object payload = {}) {
    return run(io, legacy->exec(id, session, std::move(type), std::move(payload)));
  }
  std::string shell(const std::string& id, const std::string& session, const std::string& cmd) {
    json::object payload{{"command", cmd}};
    auto r = exec(id, session, "shell/exec", payload);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return {};
    return std::string(r->as_object().at("stdout").as_string());
  }
  std::string cargo_path(const std::string& ship_id) {
    auto sb = run(io, store->find_sandbox(ship_id));
    auto cargo = run(io, store->find_cargo((*sb)->cargo_id));
    return (*cargo)->storage_path;
  }

  std::unique_ptr<LegacyService> legacy;
};

// A new ship runs when allocate returns: a legacy sandbox of the legacy owner, the
// requested ttl, one session, and the session's workspace directory already there.
TEST_F(LegacyTest, CreateStartsALegacySandbox) {
  const TimePoint t0 = clock.now();
  auto v = ship(request("chat-1", 600));
  EXPECT_EQ(v.ship.status, 1);
  EXPECT_EQ(v.ship.ttl, 600);
  EXPECT_EQ(v.current_session_num, 1);
  EXPECT_EQ(v.ship.max_session_num, 1);
  EXPECT_EQ(v.ship.expires_at, t0 + seconds(600));
  ASSERT_TRUE(v.container_id.has_value());
  ASSERT_TRUE(v.ip_address.has_value());
  auto sb = run(io, store->find_sandbox(v.ship.id));
  ASSERT_TRUE(sb.ok() && sb->has_value());
  EXPECT_TRUE((*sb)->legacy);
  EXPECT_EQ((*sb)->owner, "legacy");
  EXPECT_FALSE((*sb)->expires_at.has_value());
  EXPECT_TRUE(std::filesystem::is_directory(cargo_path(v.ship.id) + "/chat-1"));
  EXPECT_EQ(legacy->slots_in_use(), 1);
}

// The same session gets its running ship back unchanged; sessions attach up to
// max_session_num, and the next one gets a new ship.
TEST_F(LegacyTest, SessionReuseAndSharingLimit) {
  auto a = ship(request("a", 60, 2));
  auto again = ship(request("a", 999, 5));
  EXPECT_EQ(again.ship.id, a.ship.id);
  EXPECT_EQ(again.ship.ttl, 60);
  EXPECT_EQ(again.current_session_num, 1);
  clock.advance(seconds(10));
  auto b = ship(request("b", 120));
  EXPECT_EQ(b.ship.id, a.ship.id);
  EXPECT_EQ(b.current_session_num, 2);
  // b's expiry (t+130) is now the latest: the ship's expiry follows, ttl counts from now.
  EXPECT_EQ(b.ship.expires_at, *a.ship.expires_at + seconds(70));
  EXPECT_EQ(b.ship.ttl, 120);
  auto c = ship(request("c"));
  EXPECT_NE(c.ship.id, a.ship.id);
  EXPECT_EQ(legacy->slots_in_use(), 2);
}

// Per-session workspaces and interpreters inside one ship.
TEST_F(LegacyTest, SessionsAreIsolated) {
  auto a = ship(request("a", 60, 2));
  ship(request("b", 60));
  json::object set{{"code", "secret = 42"}};
  ASSERT_TRUE(exec(a.ship.id, "a", "ipython/exec", set).ok());
  json::object get{{"code", "print(secret)"}};
  auto ra = exec(a.ship.id, "a", "ipython/exec", get);
  auto rb = exec(a.ship.id, "b", "ipython/exec", get);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->at("output").at("text").as_string(), "42");
  EXPECT_FALSE(rb->at("success").as_bool());
  // (FakeDriver runs Ship on the cargo directory itself, not at /workspace.)
  EXPECT_EQ(shell(a.ship.id, "a", "echo mine > f.txt; pwd"), cargo_path(a.ship.id) + "/a");
  EXPECT_EQ(shell(a.ship.id, "b", "ls"), "");
}

// Exec checks the ship, then the session, then the type, each with its own 400 message.
TEST_F(LegacyTest, ExecChecks) {
  auto a = ship(request("a"));
  auto e = exec("sandbox-000000000000", "a", "shell/cwd");
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.error().message, "Ship not found or not running");
  e = exec(a.ship.id, "stranger", "shell/cwd");
  EXPECT_EQ(e.error().message, "Session does not have access to this ship");
  e = exec(a.ship.id, "a", "fs/format_disk");
  EXPECT_EQ(e.error().message, "Unsupported operation type: fs/format_disk");
  json::object missing{{"path", "nope.txt"}};
  e = exec(a.ship.id, "a", "fs/read_file", missing);
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.error().message.rfind("Ship returned 404: ", 0), 0u) << e.error().message;
  auto cwd = exec(a.ship.id, "a", "shell/cwd");
  ASSERT_TRUE(cwd.ok());
}

// A successful operation slides the caller's session expiry and the ship expiry with it.
TEST_F(LegacyTest, OperationsSlideTheExpiry) {
  auto a = ship(request("a", 60));
  clock.advance(seconds(40));
  ASSERT_TRUE(exec(a.ship.id, "a", "shell/cwd").ok());
  auto v = run(io, legacy->get(a.ship.id));
  EXPECT_EQ(v->ship.expires_at, *a.ship.expires_at + seconds(40));
  EXPECT_EQ(v->ship.ttl, 60);
  // A failed forward does not.
  clock.advance(seconds(10));
  json::object missing{{"path", "nope.txt"}};
  ASSERT_FALSE(exec(a.ship.id, "a", "fs/read_file", missing).ok());
  EXPECT_EQ(run(io, legacy->get(a.ship.id))->ship.expires_at, v->ship.expires_at);
}

// extend-ttl sets ttl and expires_at = now + ttl; unknown ships are 404.
TEST_F(LegacyTest, ExtendTtl) {
  auto a = ship(request("a", 60));
  clock.advance(seconds(5));
  auto v = run(io, legacy->extend(a.ship.id, 10));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ship.ttl, 10);
  EXPECT_EQ(v->ship.expires_at, clock.now() + seconds(10));
  EXPECT_EQ(run(io, legacy->extend("sandbox-000000000000", 10)).error().message, "Ship not found");
}

// At expiry the ship is stopped (runtime gone, status 0, no expiry, slot freed) but keeps
// its files and sessions; a POST /ship of one of its sessions restores it.
TEST_F(LegacyTest, ExpiryStopsAndRestoreBringsBack) {
  auto a = ship(request("a", 60, 2));
  ship(request("b", 60));
  EXPECT_EQ(shell(a.ship.id, "a", "echo kept > f.txt"), "");
  clock.advance(seconds(59));
  EXPECT_EQ(run(io, legacy->sweep()), 0);
  clock.advance(seconds(1));
  EXPECT_EQ(run(io, legacy->sweep()), 1);
  auto stopped = run(io, legacy->get(a.ship.id));
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->ship.status, 0);
  EXPECT_FALSE(stopped->ship.expires_at.has_value());
  EXPECT_FALSE(stopped->container_id.has_value());
  EXPECT_EQ(stopped->current_session_num, 2);
  EXPECT_EQ(legacy->slots_in_use(), 0);
  EXPECT_TRUE(run_until(io, [&] { return driver->running() == 0; }));
  EXPECT_TRUE(run(io, legacy->list_running())->empty());
  EXPECT_EQ(exec(a.ship.id, "a", "shell/cwd").error().message, "Ship not found or not running");

  auto back = ship(request("b", 30));
  EXPECT_EQ(back.ship.id, a.ship.id);
  EXPECT_EQ(back.ship.status, 1);
  EXPECT_EQ(back.ship.ttl, 30);
  EXPECT_EQ(back.ship.expires_at, clock.now() + seconds(30));
  EXPECT_EQ(back.current_session_num, 2);
  EXPECT_EQ(shell(a.ship.id, "a", "cat f.txt"), "kept");
  EXPECT_EQ(legacy->slots_in_use(), 1);
}

// reject: at MAX_SHIP_NUM running ships a new ship is refused at once; a stopped or
// deleted ship frees its slot.
TEST_F(LegacyTest, RejectAtCapacity) {
  auto a = ship(request("a"));
  ship(request("b"));
  auto r = allocate(request("c"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message, "Maximum number of ships reached");
  ASSERT_TRUE(run(io, legacy->remove(a.ship.id)).ok());
  EXPECT_EQ(run(io, legacy->get(a.ship.id)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run(io, legacy->remove(a.ship.id)).error().code, ErrorCode::kNotFound);
  ship(request("c"));
  // a's session was detached with its ship: it now needs a new ship and there is none.
  EXPECT_FALSE(allocate(request("a")).ok());
}

// wait: requests beyond the limit queue and are served in arrival order as ships are
// released (by delete and by expiry); a wait that outlives MAX_SHIP_WAIT_SECONDS is 408.
TEST_F(LegacyTest, WaitServesInOrder) {
  config.legacy.behavior_after_max_ship = "wait";
  make_legacy();
  auto a = ship(request("a", 60));
  auto b = ship(request("b", 3600));
  auto w1 = start(request("w1", 3600));
  auto w2 = start(request("w2", 3600));
  ASSERT_TRUE(run_until(io, [&] { return legacy->waiting() == 2; }));
  ASSERT_TRUE(run(io, legacy->remove(b.ship.id)).ok());
  ASSERT_TRUE(run_until(
      io, [&] { return w1->has_value(); }, std::chrono::seconds(30)));
  ASSERT_TRUE((*w1)->ok()) << (*w1)->error().message;
  EXPECT_FALSE(w2->has_value());
  clock.advance(seconds(60));
  EXPECT_EQ(run(io, legacy->sweep()), 1);  // a expires: w2 gets its slot
  ASSERT_TRUE(run_until(
      io, [&] { return w2->has_value(); }, std::chrono::seconds(30)));
  ASSERT_TRUE((*w2)->ok()) << (*w2)->error().message;
  EXPECT_EQ(legacy->slots_in_use(), 2);

  config.legacy.max_wait_seconds = 0;
  auto late = allocate(request("late"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(late.error().message, "Timeout waiting for available ship slot");
}

// A waiting request whose client went away leaves the queue; the one behind it is served.
TEST_F(LegacyTest, AbandonedWaiterLeaves) {
  config.legacy.behavior_after_max_ship = "wait";
  make_legacy();
  auto a = ship(request("a"));
  ship(request("b"));
  auto gone = std::make_shared<AsyncEvent>(io.get_executor());
  auto w1 = start(request("w1"), gone);
  auto w2 = start(request("w2"));
  ASSERT_TRUE(run_until(io, [&] { return legacy->waiting() == 2; }));
  gone->set();
  ASSERT_TRUE(run_until(io, [&] { return w1->has_value(); }));
  EXPECT_FALSE((*w1)->ok());
  EXPECT_EQ(legacy->waiting(), 1u);
  ASSERT_TRUE(run(io, legacy->remove(a.ship.id)).ok());
  ASSERT_TRUE(run_until(
      io, [&] { return w2->has_value(); }, std::chrono::seconds(30)));
  EXPECT_TRUE((*w2)->ok());
}

// Concurrent allocations by one session produce one ship.
TEST_F(LegacyTest, ConcurrentSameSessionGetsOneShip) {
  auto r1 = start(request("same"));
  auto r2 = start(request("same"));
  ASSERT_TRUE(run_until(
      io, [&] { return r1->has_value() && r2->has_value(); }, std::chrono::seconds(30)));
  ASSERT_TRUE((*r1)->ok() && (*r2)->ok());
  EXPECT_EQ((**r1)->ship.id, (**r2)->ship.id);
  EXPECT_EQ(legacy->slots_in_use(), 1);
}

// A ship that cannot start answers 500 with the reason and leaves nothing behind.
TEST_F(LegacyTest, FailedStartCleansUp) {
  driver->fail_next_start = true;
  auto r = allocate(request("a"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().message, "injected start failure");
  EXPECT_EQ(legacy->slots_in_use(), 0);
  auto live = run(io, store->list_live_sandboxes());
  EXPECT_TRUE(live->empty());
  EXPECT_TRUE(run(io, store->list_legacy_ships())->empty());

  config.legacy.ship_ready_timeout = 1;
  driver->start_broken_runtime = true;
  r = allocate(request("a"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "Ship failed to become ready within 1 seconds");
  EXPECT_TRUE(run(io, store->list_live_sandboxes())->empty());
  driver->start_broken_runtime = false;
  EXPECT_TRUE(allocate(request("a")).ok());
}

// Ships, their lifetimes and session attachments survive a restart of the service.
TEST_F(LegacyTest, StateSurvivesRestart) {
  auto a = ship(request("a", 60, 2));
  ship(request("b", 90));
  auto other = ship(request("c", 30));
  clock.advance(seconds(30));
  ASSERT_EQ(run(io, legacy->sweep()), 1);  // c's ship stopped
  make_legacy();
  run(io, legacy->recover());
  auto v = run(io, legacy->get(a.ship.id));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ship.status, 1);
  EXPECT_EQ(v->current_session_num, 2);
  EXPECT_EQ(v->ship.expires_at, *a.ship.expires_at + seconds(30));
  EXPECT_EQ(legacy->slots_in_use(), 1);
  EXPECT_EQ(run(io, legacy->get(other.ship.id))->ship.status, 0);
  EXPECT_EQ(ship(request("b")).ship.id, a.ship.id);
  EXPECT_TRUE(exec(a.ship.id, "b", "shell/cwd").ok());
  EXPECT_EQ(ship(request("c", 10)).ship.id, other.ship.id);  // restored
}

// A ship whose sandbox is deleted through /v1 is forgotten and frees its slot.
TEST_F(LegacyTest, V1DeleteIsNoticed) {
  auto a = ship(request("a"));
  ship(request("b"));
  ASSERT_TRUE(run(io, sandboxes->remove("legacy", a.ship.id)).ok());
  EXPECT_EQ(run(io, legacy->get(a.ship.id)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(legacy->slots_in_use(), 1);
  EXPECT_TRUE(allocate(request("c")).ok());
}

// The ship's logs come from its runtime while it runs and from the last one once stopped.
TEST_F(LegacyTest, Logs) {
  std::string seen;
  legacy = std::make_unique<LegacyService>(io.get_executor(), *store, *store, *sandboxes, *sessions,
                                           config, clock, [&seen](const std::string& sid) {
                                             seen = sid;
                                             return "log of " + sid;
                                           });
  auto a = ship(request("a", 10));
  auto logs = run(io, legacy->logs(a.ship.id));
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(*logs, "log of " + seen);
  clock.advance(seconds(10));
  ASSERT_EQ(run(io, legacy->sweep()), 1);
  EXPECT_EQ(*run(io, legacy->logs(a.ship.id)), "log of " + seen);
  EXPECT_EQ(run(io, legacy->logs("sandbox-000000000000")).error().message, "Ship not found");
}

}  // namespace
}  // namespace shipyard::bay::testing
