// SqliteStore: concurrent callers, executor affinity, shutdown and the fault-injection hook.
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "store_test_support.hpp"

namespace shipyard::bay::testing {
namespace {

namespace asio = boost::asio;

using ConcurrencyTest = StoreTest;

struct Observed {
  bool done = false;
  std::string failure;  // first unexpected result, empty when all went well
  std::uint32_t uid = 0;
  std::string sandbox_id;
};

constexpr int kWorkers = 50;
constexpr int kExecsPerWorker = 20;
constexpr std::uint32_t kUidBase = 300000;

// One concurrent client: creates a sandbox, writes history while reading it back, uses
// settings, and deletes every other sandbox. A coroutine function, not a lambda (GCC 12).
asio::awaitable<void> worker(SqliteStore* store, int i, Observed* out) {
  auto fail = [out](std::string what) {
    if (out->failure.empty()) out->failure = std::move(what);
  };
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%012x", i);
  const std::string sandbox_id = std::string("sandbox-") + suffix;
  const std::string cargo_id = std::string("ws-") + suffix;
  auto uid = co_await store->allocate_uid(kUidBase);
  if (!uid) fail("allocate_uid: " + uid.error().context);
  out->uid = uid ? *uid : 0;
  Cargo cargo = make_cargo(cargo_id, "alice", at(i), sandbox_id);
  cargo.host_uid = out->uid;
  Sandbox sb = make_sandbox(sandbox_id, "alice", cargo_id, at(i));
  out->sandbox_id = sandbox_id;
  auto created = co_await store->create_sandbox(sb, std::move(cargo));
  if (!created) fail("create_sandbox: " + created.error().context);

  HistoryQuery q;
  q.owner = "alice";
  q.sandbox_id = sandbox_id;
  for (int k = 0; k < kExecsPerWorker; ++k) {
    char id[32];
    std::snprintf(id, sizeof id, "exec-%06x%06x", i, k);
    Execution e = make_exec(id, sandbox_id, at(k));
    e.tags = k % 2 == 0 ? std::optional<std::string>("even") : std::nullopt;
    auto ins = co_await store->insert_execution(std::move(e));
    if (!ins) fail("insert_execution: " + ins.error().context);
    // Each client reads its own writes: the total grows by exactly one per insert.
    auto page = co_await store->query_history(q);
    if (!page || page->total != k + 1 || page->entries.front().id != id) {
      fail("query_history after insert " + std::to_string(k));
    }
  }
  const std::string key = "worker-" + std::to_string(i);
  auto put = co_await store->put_setting(key, sandbox_id);
  if (!put) fail("put_setting");
  auto got = co_await store->get_setting(key);
  if (!got || *got != sandbox_id) fail("get_setting");
  if (i % 2 == 0) {
    auto del = co_await store->delete_sandbox(sandbox_id, at(1000 + i));
    if (!del || !del->has_value() || (*del)->id != cargo_id) fail("delete_sandbox");
  }
  out->done = true;
}

// 50 coroutines on four caller threads, all using one store at once, see their own writes
// and leave a consistent database: distinct consecutive uids, every history entry, the
// right live sandboxes, no orphans.
TEST_P(ConcurrencyTest, FiftyConcurrentClients) {
  std::vector<Observed> observed(kWorkers);
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  {
    asio::thread_pool callers(4);
    for (int i = 0; i < kWorkers; ++i) {
      asio::co_spawn(callers, worker(store.get(), i, &observed[static_cast<std::size_t>(i)]),
                     [&](std::exception_ptr) {
                       std::lock_guard lock(mu);
                       ++finished;
                       cv.notify_all();
                     });
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return finished == kWorkers; }));
    lock.unlock();
    callers.join();
  }
  std::set<std::uint32_t> uids;
  for (const auto& o : observed) {
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.failure, "") << o.sandbox_id;
    uids.insert(o.uid);
  }
  ASSERT_EQ(uids.size(), static_cast<std::size_t>(kWorkers));
  EXPECT_EQ(*uids.begin(), kUidBase);
  EXPECT_EQ(*uids.rbegin(), kUidBase + kWorkers - 1);

  EXPECT_EQ(*run(io, store->count_live_sandboxes("alice")), kWorkers / 2);
  EXPECT_TRUE(run(io, store->list_orphan_cargos())->empty());
  for (const auto& o : observed) {
    HistoryQuery q;
    q.owner = "alice";
    q.sandbox_id = o.sandbox_id;
    q.tags = {"EVEN"};
    EXPECT_EQ(run(io, store->query_history(q))->total, kExecsPerWorker / 2);
  }
  EXPECT_EQ(*run(io, store->allocate_uid(kUidBase)), kUidBase + kWorkers);
}

asio::awaitable<bool> resumes_on_caller_thread(SqliteStore* store) {
  const auto caller = std::this_thread::get_id();
  // Arguments are named locals: no temporaries inside co_await (GCC 12).
  std::string id = "sandbox-000000000001", key = "k", value = "v";
  auto a = co_await store->find_sandbox(id);
  bool same = a.ok() && std::this_thread::get_id() == caller;
  auto b = co_await store->put_setting(key, value);
  co_return same&& b.ok() && std::this_thread::get_id() == caller;
}

// A coroutine resumes on its own executor after every store call, never on the database
// thread.
TEST_P(ConcurrencyTest, ResumesOnCallerExecutor) {
  EXPECT_TRUE(run(io, resumes_on_caller_thread(store.get())));
}

asio::awaitable<void> insert_one(SqliteStore* store, int i) {
  char id[32];
  std::snprintf(id, sizeof id, "exec-%012x", i);
  Execution e = make_exec(id, "sandbox-000000000001", at(i));
  (void)co_await store->insert_execution(std::move(e));
}

// Destroying the store finishes the operations already queued on its thread before the
// database closes: nothing accepted is lost.
TEST_P(ConcurrencyTest, ShutdownFinishesQueuedWork) {
  if (!file_backed()) GTEST_SKIP() << "needs a database that outlives the store";
  {
    asio::io_context writers;
    for (int i = 0; i < 200; ++i)
      asio::co_spawn(writers, insert_one(store.get(), i), asio::detached);
    writers.poll();  // every writer is now queued on (or done by) the database thread
    store.reset();
  }  // the writers' suspended frames are destroyed without being resumed
  open_store();
  HistoryQuery q;
  q.owner = "alice";
  q.sandbox_id = "sandbox-000000000001";
  EXPECT_EQ(run(io, store->query_history(q))->total, 200);
}

using FaultTest = StoreTest;

// write_count counts mutating calls only; fail_writes_after(n) lets n writes through, fails
// the next one without touching the database, and then writes succeed again.
TEST_P(FaultTest, FailWritesAfter) {
  EXPECT_EQ(store->write_count(), 0);
  add_sandbox("sandbox-000000000001", "alice", at(1));
  (void)run(io, store->find_sandbox("sandbox-000000000001"));
  (void)run(io, store->list_sandboxes("alice", std::nullopt, 10));
  EXPECT_EQ(store->write_count(), 1);

  store->fail_writes_after(0);
  auto r = run(io, store->create_sandbox(
                       make_sandbox("sandbox-000000000002", "alice", "ws-000000000002", at(2)),
                       make_cargo("ws-000000000002", "alice", at(2), "sandbox-000000000002")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().message, "database error");
  EXPECT_FALSE(run(io, store->find_sandbox("sandbox-000000000002"))->has_value());
  EXPECT_FALSE(run(io, store->find_cargo("ws-000000000002"))->has_value());
  EXPECT_EQ(store->write_count(), 2);
  // One failure per arming.
  EXPECT_TRUE(run(io, store->put_setting("a", "1")).ok());

  store->fail_writes_after(2);
  EXPECT_EQ(*run(io, store->allocate_uid(10)), 10U);
  EXPECT_TRUE(run(io, store->touch_cargo("ws-000000000001", at(5))).ok());
  auto third = run(io, store->allocate_uid(10));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kInternal);
  EXPECT_EQ(*run(io, store->allocate_uid(10)), 11U);  // the failed call consumed nothing

  store->fail_writes_after(1);
  store->fail_writes_after(-1);  // disarmed
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(run(io, store->put_setting("b", "2")).ok());

  // Every mutating method honours the hook.
  store->fail_writes_after(0);
  EXPECT_FALSE(run(io, store->delete_sandbox("sandbox-000000000001", at(9))).ok());
  EXPECT_FALSE((*run(io, store->find_sandbox("sandbox-000000000001")))->deleted_at.has_value());
  store->fail_writes_after(0);
  EXPECT_FALSE(run(io, store->annotate_execution("alice", "s", "e", Annotation{})).ok());
  store->fail_writes_after(0);
  EXPECT_FALSE(run(io, store->end_session("sess-000000000001")).ok());
  store->fail_writes_after(0);
  EXPECT_FALSE(run(io, store->insert_executions({})).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, ConcurrencyTest,
                         ::testing::Values(Backend::kFile, Backend::kMemory), backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, FaultTest, ::testing::Values(Backend::kFile, Backend::kMemory),
                         backend_name);

}  // namespace
}  // namespace shipyard::bay::testing
