// Per-owner quotas (limits.max_sandboxes_per_owner, max_sessions_per_owner,
// max_cargos_per_owner): 429 quota_exceeded beyond them, exact under concurrency.
#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bay/domain/cargo_service.hpp"
#include "bay/domain/keyed_lock.hpp"
#include "domain_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

namespace asio = boost::asio;

template <typename T>
asio::awaitable<void> store_into(asio::awaitable<T> a, std::optional<T>* out) {
  out->emplace(co_await std::move(a));
}

// Starts every awaitable at once on `io` and drives them all to completion.
template <typename T>
std::vector<T> run_concurrently(asio::io_context& io, std::vector<asio::awaitable<T>> work) {
  std::vector<std::optional<T>> out(work.size());
  for (std::size_t i = 0; i < work.size(); ++i) {
    asio::co_spawn(io, store_into(std::move(work[i]), &out[i]), asio::detached);
  }
  bool done = run_until(
      io,
      [&] { return std::all_of(out.begin(), out.end(), [](auto& o) { return o.has_value(); }); },
      std::chrono::milliseconds(60000));
  EXPECT_TRUE(done);
  std::vector<T> results;
  for (auto& o : out) {
    if (o) results.push_back(std::move(*o));
  }
  return results;
}

template <typename T>
int count_ok(const std::vector<Result<T>>& rs) {
  return static_cast<int>(std::count_if(rs.begin(), rs.end(), [](auto& r) { return r.ok(); }));
}

template <typename T>
int count_code(const std::vector<Result<T>>& rs, ErrorCode code) {
  return static_cast<int>(std::count_if(
      rs.begin(), rs.end(), [&](auto& r) { return !r.ok() && r.error().code == code; }));
}

// 20 concurrent creates of one owner against a limit of 5 yield exactly 5 sandboxes; the
// rest are 429 with details, and another owner is not affected.
TEST_F(DomainTest, SandboxQuotaIsExactUnderConcurrency) {
  config.max_sandboxes_per_owner = 5;
  std::vector<asio::awaitable<Result<SandboxState>>> work;
  for (int i = 0; i < 20; ++i) work.push_back(sandboxes->create("alice", {}));
  for (int i = 0; i < 3; ++i) work.push_back(sandboxes->create("bob", {}));
  auto rs = run_concurrently(io, std::move(work));
  ASSERT_EQ(rs.size(), 23u);
  std::vector<Result<SandboxState>> alice(rs.begin(), rs.begin() + 20);
  std::vector<Result<SandboxState>> bob(rs.begin() + 20, rs.end());
  EXPECT_EQ(count_ok(alice), 5);
  EXPECT_EQ(count_code(alice, ErrorCode::kQuotaExceeded), 15);
  EXPECT_EQ(count_ok(bob), 3);
  EXPECT_EQ(*run(io, store->count_live_sandboxes("alice")), 5);
  for (const auto& r : alice) {
    if (r.ok()) continue;
    EXPECT_EQ(r.error().details.at("resource").as_string(), "sandboxes");
    EXPECT_EQ(r.error().details.at("limit").as_int64(), 5);
    EXPECT_NE(r.error().message.find("quota"), std::string::npos);
  }
  // The refused creates left no cargo storage behind: 5 + 3 managed cargos.
  std::size_t dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/cargos")) {
    (void)e;
    ++dirs;
  }
  EXPECT_EQ(dirs, 8u);
}

// Deleting a sandbox frees its quota slot at once.
TEST_F(DomainTest, SandboxQuotaFreedByDelete) {
  config.max_sandboxes_per_owner = 2;
  auto a = create("alice");
  create("alice");
  EXPECT_EQ(run(io, sandboxes->create("alice", {})).error().code, ErrorCode::kQuotaExceeded);
  ASSERT_TRUE(run(io, sandboxes->remove("alice", a.sandbox.id)).ok());
  EXPECT_TRUE(run(io, sandboxes->create("alice", {})).ok());
}

// 0 means unlimited.
TEST_F(DomainTest, ZeroQuotaIsUnlimited) {
  config.max_sandboxes_per_owner = 0;
  std::vector<asio::awaitable<Result<SandboxState>>> work;
  for (int i = 0; i < 12; ++i) work.push_back(sandboxes->create("alice", {}));
  auto rs = run_concurrently(io, std::move(work));
  EXPECT_EQ(count_ok(rs), 12);
}

// Concurrent first calls on more sandboxes than the session quota allows start exactly
// that many sessions; the others get 429 without starting anything. Stopping one frees
// its slot; another owner has its own quota.
TEST_F(DomainTest, SessionQuotaIsExactUnderConcurrency) {
  config.max_sessions_per_owner = 2;
  driver->start_delay = std::chrono::milliseconds(100);
  std::vector<CallTarget> targets;
  for (int i = 0; i < 5; ++i) targets.push_back(target(create("alice").sandbox.id));
  auto bob = target(create("bob").sandbox.id, "bob");
  std::vector<asio::awaitable<Result<std::unique_ptr<SessionLease>>>> work;
  for (const auto& t : targets) work.push_back(sandboxes->ensure_session(t));
  auto rs = run_concurrently(io, std::move(work));
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(count_ok(rs), 2);
  EXPECT_EQ(count_code(rs, ErrorCode::kQuotaExceeded), 3);
  EXPECT_EQ(driver->starts, 2);
  EXPECT_EQ(sessions->running_sessions("alice"), 2);
  for (const auto& r : rs) {
    if (!r.ok()) {
      EXPECT_EQ(r.error().details.at("resource").as_string(), "sessions");
    }
  }
  // A sandbox that already has a session keeps being served at the limit.
  std::size_t first_ok = 0;
  while (!rs[first_ok].ok()) ++first_ok;
  rs.clear();
  EXPECT_TRUE(run(io, sandboxes->ensure_session(targets[first_ok])).ok());
  EXPECT_TRUE(run(io, sandboxes->ensure_session(bob)).ok());
  // Stopping one frees a slot for a sandbox that was refused.
  ASSERT_TRUE(run(io, sessions->stop(targets[first_ok].sandbox.id)).ok());
  std::size_t refused = 0;
  while (sessions->view(targets[refused].sandbox.id).state != SessionView::State::kNone ||
         refused == first_ok) {
    ++refused;
  }
  EXPECT_TRUE(run(io, sandboxes->ensure_session(targets[refused])).ok());
  EXPECT_EQ(run(io, sandboxes->ensure_session(targets[first_ok])).error().code,
            ErrorCode::kQuotaExceeded);
}

// External cargos: exact under concurrency too; managed cargos do not count.
TEST_F(DomainTest, CargoQuotaIsExactUnderConcurrency) {
  config.max_cargos_per_owner = 3;
  CargoService cargos(*store, *driver, config, clock);
  create("alice");  // a managed cargo
  std::vector<asio::awaitable<Result<Cargo>>> work;
  for (int i = 0; i < 10; ++i) work.push_back(cargos.create("alice", std::nullopt));
  auto rs = run_concurrently(io, std::move(work));
  EXPECT_EQ(count_ok(rs), 3);
  EXPECT_EQ(count_code(rs, ErrorCode::kQuotaExceeded), 7);
  EXPECT_TRUE(run(io, cargos.create("bob", std::nullopt)).ok());
}

asio::awaitable<void> hold(KeyedLock& lock, std::string key, std::vector<std::string>* log,
                           std::string name, std::chrono::milliseconds d) {
  auto g = co_await lock.lock(key);
  log->push_back(name + "+");
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  log->push_back(name + "-");
}

// The keyed lock serialises holders of one key in arrival order and leaves other keys
// free; it is released when the last holder leaves.
TEST(KeyedLockTest, SerialisesPerKeyInOrder) {
  asio::io_context io;
  KeyedLock lock;
  std::vector<std::string> log;
  asio::co_spawn(io, hold(lock, "a", &log, "a1", std::chrono::milliseconds(30)), asio::detached);
  asio::co_spawn(io, hold(lock, "a", &log, "a2", std::chrono::milliseconds(1)), asio::detached);
  asio::co_spawn(io, hold(lock, "b", &log, "b1", std::chrono::milliseconds(1)), asio::detached);
  io.run();
  ASSERT_EQ(log.size(), 6u);
  auto pos = [&](const std::string& s) {
    return std::find(log.begin(), log.end(), s) - log.begin();
  };
  EXPECT_LT(pos("a1-"), pos("a2+"));
  EXPECT_LT(pos("b1-"), pos("a1-"));  // "b" never waited for "a"
  EXPECT_FALSE(lock.held("a"));
  EXPECT_FALSE(lock.held("b"));
}

}  // namespace
}  // namespace shipyard::bay::testing
