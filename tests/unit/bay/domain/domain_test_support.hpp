// Shared fixture for Bay domain tests: an io_context driven by the test thread, an
// in-memory SQLite store, a FakeDriver running real Ship processes, a manual clock.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <optional>

#include "bay/domain/capability_service.hpp"
#include "bay/domain/sandbox_service.hpp"
#include "bay/domain/session_manager.hpp"
#include "bay/store/sqlite_store.hpp"
#include "fake_driver.hpp"

namespace shipyard::bay::testing {

namespace detail {
template <typename T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> a, std::optional<T>* out) {
  out->emplace(co_await std::move(a));
}
}  // namespace detail

// Runs `a` on `io` until it completes (the test fails after `limit`).
template <typename T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> a,
      std::chrono::seconds limit = std::chrono::seconds(60)) {
  std::optional<T> out;
  boost::asio::co_spawn(io, detail::store_result(std::move(a), &out), boost::asio::detached);
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!out && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  if (!out) throw std::runtime_error("coroutine did not complete in time");
  return std::move(*out);
}

inline void run(boost::asio::io_context& io, boost::asio::awaitable<void> a,
                std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto wrap = [](boost::asio::awaitable<void> inner) -> boost::asio::awaitable<bool> {
    co_await std::move(inner);
    co_return true;
  };
  run(io, wrap(std::move(a)), limit);
}

// Drives the io_context until `pred` holds or `limit` passes.
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred pred,
               std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class DomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bay-domain-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    config.profiles = builtin_profiles();
    Profile only = config.profiles.front();
    only.id = "python-only";
    only.capabilities = {"python"};
    config.profiles.push_back(only);
    config.data_dir = root_;
    auto s = SqliteStore::open(":memory:", io.get_executor());
    ASSERT_TRUE(s.ok()) << s.error().context;
    store = std::move(*s);
    driver = std::make_unique<FakeDriver>(io.get_executor(), SHIPYARD_SHIP_BIN, root_);
    settings.instance_id = "test";
    settings.ready_timeout = std::chrono::milliseconds(10000);
    make_services();
  }
  void TearDown() override {
    capabilities.reset();
    sandboxes.reset();
    sessions.reset();
    driver.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void make_services() {
    capabilities.reset();
    sandboxes.reset();
    sessions =
        std::make_unique<SessionManager>(io.get_executor(), *store, *driver, clock, settings);
    sandboxes = std::make_unique<SandboxService>(*store, *sessions, *driver, config, clock);
    capabilities = std::make_unique<CapabilityService>(*store, *sandboxes, clock);
  }

  SandboxState create(std::string owner = "alice", CreateSandboxRequest req = {}) {
    auto r = run(io, sandboxes->create(owner, req));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return *r;
  }
  CallTarget target(const std::string& id, std::string owner = "alice") {
    return *run(io, sandboxes->lookup(owner, id));
  }

  boost::asio::io_context io;
  std::string root_;
  ManualClock clock{TimePoint(Micros(1'770'000'000'000'000))};
  BayConfig config;
  SessionSettings settings;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<FakeDriver> driver;
  std::unique_ptr<SessionManager> sessions;
  std::unique_ptr<SandboxService> sandboxes;
  std::unique_ptr<CapabilityService> capabilities;
};

}  // namespace shipyard::bay::testing
