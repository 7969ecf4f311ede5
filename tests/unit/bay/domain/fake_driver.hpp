// A Driver for domain tests: runs the real `ship` binary directly (no namespaces, no
// cgroups) on the cargo directory, with knobs to make starts fail, hang or die.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "bay/drivers/driver.hpp"
#include "common/process/spawn.hpp"

namespace shipyard::bay::testing {

class FakeDriver final : public Driver {
 public:
  FakeDriver(boost::asio::any_io_executor ex, std::string ship_bin, std::string root)
      : ex_(std::move(ex)), ship_bin_(std::move(ship_bin)), root_(std::move(root)) {
    std::filesystem::create_directories(root_ + "/cargos");
    std::filesystem::create_directories(root_ + "/sessions");
  }
  ~FakeDriver() override {
    for (auto& [id, child] : children_) child.signal(SIGKILL);
  }

  // Knobs.
  int starts = 0;
  int destroys = 0;
  bool fail_next_start = false;
  std::chrono::milliseconds start_delay{0};
  bool start_broken_runtime = false;  // launches something that never becomes healthy

  boost::asio::awaitable<Result<std::string>> create_cargo_storage(std::string cargo_id,
                                                                   std::uint32_t,
                                                                   std::int64_t) override {
    std::string p = root_ + "/cargos/" + cargo_id;
    std::filesystem::create_directories(p);
    co_return p;
  }
  boost::asio::awaitable<Status> delete_cargo_storage(std::string path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    co_return Status{};
  }

  boost::asio::awaitable<Result<RuntimeHandle>> start(SessionSpec spec) override {
    ++starts;
    if (start_delay.count() > 0) {
      boost::asio::steady_timer t(ex_, start_delay);
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    if (fail_next_start) {
      fail_next_start = false;
      co_return Error(ErrorCode::kInternal, "injected start failure");
    }
    std::string dir = root_ + "/sessions/" + spec.session_id;
    std::filesystem::create_directories(dir);
    process::SpawnSpec s;
    s.executable = start_broken_runtime ? "/bin/sleep" : ship_bin_;
    if (start_broken_runtime) {
      s.argv = {"sleep", "1000"};
    } else {
      s.argv = {ship_bin_,          "--workspace", spec.cargo_path, "--unix",
                dir + "/ship.sock", "--listen",    "127.0.0.1:0",   "--state-dir",
                dir + "/state",     "--log-level", "warn",          "--no-eager-kernel"};
    }
    for (const auto& [k, v] : spec.env) s.env.push_back(k + "=" + v);
    s.env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
    s.fds = {{1, 2}, {2, 2}};
    auto child = process::spawn(ex_, s);
    if (!child) co_return std::move(child).error();
    RuntimeHandle h{"fake:" + std::to_string(child->pid()) + ":" + spec.session_id,
                    "unix:" + dir + "/ship.sock"};
    children_.emplace(h.runtime_id, std::move(*child));
    instances_[h.runtime_id] = spec.instance_id;
    sandboxes_[h.runtime_id] = spec.sandbox_id;
    co_return h;
  }

  boost::asio::awaitable<Status> destroy(RuntimeHandle h) override {
    ++destroys;
    auto it = children_.find(h.runtime_id);
    if (it != children_.end()) {
      it->second.signal_group(SIGKILL);
      it->second.signal(SIGKILL);
      co_await it->second.wait();
      children_.erase(it);
    }
    co_return Status{};
  }

  bool alive(const RuntimeHandle& h) override {
    auto it = children_.find(h.runtime_id);
    return it != children_.end() && !it->second.try_wait();
  }

  boost::asio::awaitable<Result<std::vector<RuntimeInfo>>> list_runtimes(
      std::string instance_id) override {
    std::vector<RuntimeInfo> out;
    for (auto& [id, child] : children_) {
      if (instances_[id] != instance_id || child.try_wait()) continue;
      out.push_back(RuntimeInfo{RuntimeHandle{id, ""}, id.substr(id.rfind(':') + 1), instance_id,
                                sandboxes_[id]});
    }
    co_return out;
  }

  std::string describe() const override { return "fake driver (no isolation)"; }

  // Kills a runtime behind Bay's back (simulated crash).
  void crash(const std::string& runtime_id) {
    auto it = children_.find(runtime_id);
    if (it != children_.end()) it->second.signal(SIGKILL);
  }
  std::size_t running() {
    std::size_t n = 0;
    for (auto& [id, c] : children_) n += c.try_wait() ? 0 : 1;
    return n;
  }

 private:
  boost::asio::any_io_executor ex_;
  std::string ship_bin_;
  std::string root_;
  std::map<std::string, process::ChildProcess> children_;
  std::map<std::string, std::string> instances_;
  std::map<std::string, std::string> sandboxes_;
};

}  // namespace shipyard::bay::testing
