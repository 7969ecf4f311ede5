// Owns Ship's Python kernels: the default kernel (kernel_id "default", rooted at the
// workspace) and one per X-SESSION-ID (legacy clients, rooted at the session
// directory). A dead kernel is replaced on the next call.
//
// Threading: all functions run on Ship's I/O executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ship/kernel/kernel.hpp"
#include "ship/shell/environment.hpp"

namespace shipyard::ship {

struct KernelRef {
  std::string id;    // "default" or the session id
  std::string root;  // working directory (display path == real path inside the sandbox)
};

class KernelManager {
 public:
  KernelManager(boost::asio::any_io_executor ex, kernel::KernelOptions opts,
                shell::EnvironmentBase env, std::size_t max_kernels = 64);
  ~KernelManager();

  // Starts the kernel if it does not run yet (used for the eager default kernel).
  Status ensure_started(const KernelRef& ref);

  boost::asio::awaitable<Result<kernel::ExecOutcome>> execute(const KernelRef& ref,
                                                              std::string code, bool silent,
                                                              std::chrono::seconds timeout);

  // "alive", "dead" or "not_started".
  std::string status(const KernelRef& ref) const;
  // Replaces the kernel with a fresh one and waits until it is ready.
  boost::asio::awaitable<Status> restart(const KernelRef& ref);
  // Shuts the kernel down; kNotFound if there is none.
  Status shutdown(const KernelRef& ref);

  struct Listing {
    std::string id;
    std::string status;
  };
  std::vector<Listing> list() const;
  void shutdown_all();

  // The environment future kernels start with (running kernels keep theirs).
  shell::EnvironmentBase& mutable_environment() { return env_; }

 private:
  Result<std::shared_ptr<kernel::Kernel>> get_or_start(const KernelRef& ref);
  Result<std::shared_ptr<kernel::Kernel>> spawn(const KernelRef& ref);

  boost::asio::any_io_executor ex_;
  kernel::KernelOptions opts_;
  shell::EnvironmentBase env_;
  std::size_t max_kernels_;
  std::map<std::string, std::shared_ptr<kernel::Kernel>> kernels_;
};

}  // namespace shipyard::ship
