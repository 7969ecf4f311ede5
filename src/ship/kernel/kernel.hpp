// One Python kernel: a driver process (driver/shipyard_kernel.py) spoken to over two
// pipes with the framed protocol of protocol.hpp.
//
// Calls are queued in arrival order and run one at a time; every result is matched to
// its request by id. A time-out interrupts the cell with SIGINT and keeps the
// interpreter; a kernel that does not answer within the grace period after SIGINT is
// killed. A kernel whose process dies or violates the protocol is dead for good: its
// owner (KernelManager) replaces it on the next call.
//
// Threading: every member function must be called on the executor passed to the
// constructor (Ship's I/O thread). Owned through shared_ptr: running coroutines keep
// the kernel alive.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/async_event.hpp"
#include "common/process/spawn.hpp"
#include "ship/kernel/protocol.hpp"

namespace shipyard::ship::kernel {

struct KernelOptions {
  std::string python = "/usr/bin/python3";
  std::string driver;                   // path of shipyard_kernel.py
  std::size_t output_limit = 1u << 20;  // captured text per cell
  std::chrono::milliseconds interrupt_grace{2000};
  std::chrono::milliseconds start_timeout{60000};
};

enum class KernelState { kStarting, kReady, kDead };

class Kernel : public std::enable_shared_from_this<Kernel> {
 public:
  Kernel(boost::asio::any_io_executor ex, KernelOptions opts, std::string id, std::string cwd,
         std::vector<std::string> env);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // Spawns the driver. The kernel becomes ready asynchronously.
  Status start();

  const std::string& id() const { return id_; }
  const std::string& cwd() const { return cwd_; }
  KernelState state() const { return state_; }
  // Why the kernel died (empty while alive).
  const std::string& death_reason() const { return death_reason_; }
  bool busy() const { return busy_; }

  // Runs a cell. `timeout` counts from this call, queueing included.
  boost::asio::awaitable<Result<ExecOutcome>> execute(std::string code, bool silent,
                                                      std::chrono::seconds timeout);
  // Waits until the kernel is ready (true) or dead / the deadline passed (false).
  boost::asio::awaitable<bool> wait_ready(std::chrono::steady_clock::time_point deadline);
  // Kills the process group now; the call in flight fails with `reason`.
  void kill(std::string reason);

 private:
  struct Inflight {
    explicit Inflight(boost::asio::any_io_executor ex, std::uint64_t i) : id(i), done(ex) {}
    std::uint64_t id;
    AsyncEvent done;
    std::optional<json::object> result;
  };
  struct Waiter {
    explicit Waiter(boost::asio::any_io_executor ex) : granted(ex) {}
    AsyncEvent granted;
  };

  boost::asio::awaitable<void> read_loop(std::shared_ptr<Kernel> self);
  boost::asio::awaitable<bool> acquire(std::chrono::steady_clock::time_point deadline);
  void release();
  void mark_dead(std::string reason);
  std::string death_message() const;

  boost::asio::any_io_executor ex_;
  KernelOptions opts_;
  std::string id_;
  std::string cwd_;
  std::vector<std::string> env_;
  std::optional<process::ChildProcess> child_;
  std::optional<boost::asio::posix::stream_descriptor> to_kernel_;
  std::optional<boost::asio::posix::stream_descriptor> from_kernel_;
  KernelState state_ = KernelState::kStarting;
  std::string death_reason_;
  AsyncEvent ready_or_dead_;
  std::shared_ptr<Inflight> inflight_;
  std::deque<std::shared_ptr<Waiter>> queue_;
  bool busy_ = false;
  bool ever_ready_ = false;
  std::chrono::steady_clock::time_point spawned_at_{};
  std::uint64_t next_id_ = 0;
};

}  // namespace shipyard::ship::kernel
