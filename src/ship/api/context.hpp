// Everything the Ship handlers share. Owned by main; lives for the whole process.
//
// Threading: the HTTP server, the shell runner, the process registry and the session
// cache all belong to the single I/O thread. Blocking filesystem work is offloaded to
// `blocking` (a small thread pool) and touches only thread-safe state (Workspace fds).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "common/http/server.hpp"
#include "ship/config.hpp"
#include "ship/fs/workspace.hpp"
#include "ship/shell/process_registry.hpp"
#include "ship/shell/runner.hpp"
#include "ship/startup/skills.hpp"

namespace shipyard::ship {

class KernelManager;

// The workspace root a request works in (ship-api.md §3.1).
struct RequestScope {
  std::shared_ptr<const fs::Workspace> ws;
  std::optional<std::string> session;  // the X-SESSION-ID, when present
};

class ShipContext {
 public:
  ShipContext(ShipConfig config, fs::Workspace root, boost::asio::any_io_executor io,
              shell::EnvironmentBase env);
  ~ShipContext();

  const ShipConfig& config() const { return config_; }
  const fs::Workspace& root() const { return *root_; }
  shell::Runner& runner() { return runner_; }
  shell::ProcessRegistry& processes() { return processes_; }
  boost::asio::thread_pool& blocking() { return blocking_; }
  const shell::EnvironmentBase& environment() const { return env_; }
  std::string env_file_path() const;

  // Resolves X-SESSION-ID (absent: the root; invalid: 400; else the session root,
  // created on first use). Session roots are cached (bounded, least recently used).
  Result<RequestScope> scope(const http::Exchange& ex);

  void set_kernels(KernelManager* k) { kernels_ = k; }
  KernelManager* kernels() { return kernels_; }

  // A pre-started (warm pool) Ship may be bound to its sandbox exactly once, before any
  // user code runs (docs/warm-pool.md). bind_var updates every environment copy; the
  // running kernels are updated by the caller.
  bool bindable() const { return bindable_ && !bound_; }
  void set_bindable(bool b) { bindable_ = b; }
  void mark_bound() { bound_ = true; }
  void bind_var(std::string_view name, std::string_view value);

 private:
  ShipConfig config_;
  std::shared_ptr<const fs::Workspace> root_;
  shell::EnvironmentBase env_;
  boost::asio::thread_pool blocking_{2};
  shell::Runner runner_;
  shell::ProcessRegistry processes_;
  KernelManager* kernels_ = nullptr;
  bool bindable_ = false;
  bool bound_ = false;
  std::list<std::string> lru_;
  std::map<std::string,
           std::pair<std::shared_ptr<const fs::Workspace>, std::list<std::string>::iterator>>
      sessions_;
};

namespace detail {
// A coroutine *function* (not a capturing lambda): GCC 12 mishandles captures of
// lambda coroutines that are moved into co_spawn, while parameters are copied into
// the frame correctly.
template <typename F, typename R = std::invoke_result_t<F&>>
boost::asio::awaitable<std::optional<R>> call_wrapped(F f) {
  co_return std::optional<R>(f());
}
}  // namespace detail

// Runs `f` on the blocking pool and resumes the caller on its own executor.
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(ShipContext& ctx, F f) {
  // co_spawn needs a default-constructible result; Result<T> is not, so wrap it.
  auto out = co_await boost::asio::co_spawn(ctx.blocking().get_executor(),
                                            detail::call_wrapped(std::move(f)),
                                            boost::asio::use_awaitable);
  co_return std::move(*out);
}

}  // namespace shipyard::ship
