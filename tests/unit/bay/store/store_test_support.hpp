// Shared fixture for SqliteStore tests: an io_context driven by the test thread and a store
// that is either a file in a temporary directory or ":memory:" (parameterised, so every
// behaviour is checked on both).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "bay/store/sqlite_store.hpp"

namespace shipyard::bay::testing {

namespace detail {
template <typename T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> a, std::optional<T>* out) {
  out->emplace(co_await std::move(a));
}
}  // namespace detail

// Runs `a` on `io` until it completes (throws after `limit`).
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

// Drives `io` until `pred` holds or `limit` passes.
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred pred,
               std::chrono::milliseconds limit = std::chrono::milliseconds(30000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// A fixed, realistic epoch plus `us` microseconds.
inline TimePoint at(std::int64_t us) { return TimePoint(Micros(1'770'000'000'000'000 + us)); }

inline Cargo make_cargo(std::string id, std::string owner, TimePoint created,
                        std::optional<std::string> managed_by = std::nullopt) {
  Cargo c;
  c.id = std::move(id);
  c.owner = std::move(owner);
  c.managed = managed_by.has_value();
  c.managed_by_sandbox_id = std::move(managed_by);
  c.size_limit_mb = 2048;
  c.created_at = created;
  c.last_accessed_at = created;
  c.storage_path = "/data/cargos/" + c.id;
  c.host_uid = 200000;
  return c;
}

inline Sandbox make_sandbox(std::string id, std::string owner, std::string cargo_id,
                            TimePoint created) {
  Sandbox s;
  s.id = std::move(id);
  s.owner = std::move(owner);
  s.profile = "python-default";
  s.cargo_id = std::move(cargo_id);
  s.created_at = created;
  return s;
}

inline Execution make_exec(std::string id, std::string sandbox_id, TimePoint created,
                           std::string owner = "alice") {
  Execution e;
  e.id = std::move(id);
  e.owner = std::move(owner);
  e.sandbox_id = std::move(sandbox_id);
  e.exec_type = "python";
  e.code = "print(1)";
  e.success = true;
  e.created_at = created;
  return e;
}

enum class Backend { kFile, kMemory };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kFile ? "File" : "Memory";
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bay-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = GetParam() == Backend::kFile ? dir_ + "/bay.db" : std::string(":memory:");
    open_store();
  }
  void TearDown() override {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void open_store() {
    auto s = SqliteStore::open(path_, io.get_executor());
    ASSERT_TRUE(s.ok()) << s.error().message << ": " << s.error().context;
    store = std::move(*s);
  }
  // Closes and reopens the same database (a fresh, empty one for ":memory:").
  void reopen() {
    store.reset();
    open_store();
  }
  bool file_backed() const { return GetParam() == Backend::kFile; }

  // Inserts a sandbox with its managed cargo (cargo id "ws-" + suffix of the sandbox id).
  Sandbox add_sandbox(const std::string& id, const std::string& owner, TimePoint created) {
    std::string cargo_id = "ws-" + id.substr(id.find('-') + 1);
    Sandbox sb = make_sandbox(id, owner, cargo_id, created);
    auto r = run(io, store->create_sandbox(sb, make_cargo(cargo_id, owner, created, id)));
    EXPECT_TRUE(r.ok()) << r.error().context;
    return sb;
  }

  boost::asio::io_context io;
  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store;
};

}  // namespace shipyard::bay::testing
