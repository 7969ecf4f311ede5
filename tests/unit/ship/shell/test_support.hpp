// Helpers shared by the shell tests: driving an io_context until a coroutine is done or
// a condition holds (with deadlines), temporary directories, process liveness.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/types.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "ship/shell/process_tree.hpp"

namespace shipyard::ship::shell::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs `ioc` until `aw` completes (rethrowing its exception) or `limit` passes (test
// failure). Other work left on the context (lingering drains) stays pending.
template <typename T>
T run_sync(asio::io_context& ioc, asio::awaitable<T> aw, std::chrono::milliseconds limit = 20s) {
  std::optional<T> value;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) value.emplace(std::move(v));
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
  if (!done) throw std::runtime_error("coroutine did not complete in time");
  if (error) std::rethrow_exception(error);
  return std::move(*value);
}

inline void run_sync(asio::io_context& ioc, asio::awaitable<void> aw,
                     std::chrono::milliseconds limit = 20s) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(10ms);
  }
  if (!done) throw std::runtime_error("coroutine did not complete in time");
  if (error) std::rethrow_exception(error);
}

// Runs `ioc` until `pred` holds; false if `limit` passed first.
inline bool run_until(asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(5ms);
  }
  return true;
}

// Runs `ioc` for `d` (lets time pass where a rule is about elapsed time).
inline void run_for(asio::io_context& ioc, std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(5ms);
  }
}

// True when no live process has this pid (gone, or a zombie nobody reaped yet).
inline bool process_dead(pid_t pid) {
  auto st = read_proc_stat(pid);
  return !st || !st->alive();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ship-shell-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

}  // namespace shipyard::ship::shell::testing
