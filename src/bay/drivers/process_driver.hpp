// The embedded default driver (DESIGN.md §3): one Ship per session under bubblewrap,
// limited by cgroups (v1 or v2) or, degraded, by rlimits, running as the cargo's host
// uid. Sessions outlive Bay: nothing ties them to Bay's lifetime, and a restarted Bay
// finds them again through their runtime ids and the records in <data>/sessions.
//
// Layout on the host:
//   <cargo_root>/<cargo_id>/            the cargo, 0700, owned by its host uid
//   <data>/sessions/<session_id>/       Bay's: runtime.json, ship.log (0711, never mounted)
//   <data>/sessions/<session_id>/run/   the sandbox's /run/ship: Ship's unix socket
//
// Threading: every method is called on the I/O executor given to the constructor (the
// object is not thread-safe); blocking work runs on a small pool owned by the driver.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <string>

#include "bay/config/config.hpp"
#include "bay/drivers/cargo_images.hpp"
#include "bay/drivers/driver.hpp"
#include "bay/drivers/host_probe.hpp"
#include "bay/drivers/sandbox_plan.hpp"
#include "common/process/spawn.hpp"

namespace shipyard::bay {

class ProcessDriver final : public Driver {
 public:
  // Probes the host and prepares the directories and cgroup parents. Blocking (a few
  // milliseconds): construct it before serving. `cargo_root` defaults to
  // <data_dir>/cargos; relative paths are made absolute.
  ProcessDriver(boost::asio::any_io_executor io, ProcessDriverConfig cfg, std::string data_dir,
                std::string cargo_root = {});
  ~ProcessDriver() override;

  boost::asio::awaitable<Result<std::string>> create_cargo_storage(
      std::string cargo_id, std::uint32_t host_uid, std::int64_t size_limit_mb) override;
  boost::asio::awaitable<Status> delete_cargo_storage(std::string storage_path) override;
  boost::asio::awaitable<Result<std::vector<std::pair<std::string, std::string>>>>
  list_cargo_storage() override;
  boost::asio::awaitable<Result<RuntimeHandle>> start(SessionSpec spec) override;
  boost::asio::awaitable<Status> destroy(RuntimeHandle handle) override;
  bool alive(const RuntimeHandle& handle) override;
  boost::asio::awaitable<void> wait_started(
      RuntimeHandle handle, std::chrono::steady_clock::time_point deadline) override;
  boost::asio::awaitable<Result<std::vector<RuntimeInfo>>> list_runtimes(
      std::string instance_id) override;
  std::string describe() const override;

  // Sets up cargo size enforcement (cargo_images.hpp); blocking, call before serving.
  // Fails only when `mode` is "image" and images cannot be used.
  Status enable_size_limits(const std::string& mode);

  const HostFacts& facts() const { return probe_.facts; }
  const std::string& sessions_dir() const { return sessions_dir_; }
  const std::string& cargo_root() const { return cargo_root_; }

 private:
  struct Launched;
  struct Teardown;

  // Blocking halves, run on pool_.
  Result<Launched> launch(const SandboxPlan& plan, const SessionSpec& spec);
  std::shared_ptr<Teardown> begin_teardown(const std::string& runtime_id);
  Status finish_teardown(const Teardown& t);
  void cleanup_failed_launch(const SandboxPlan& plan, pid_t init_pid);
  // Network "outbound": starts slirp4netns for the sandbox whose init is `init_pid`
  // and waits until the tap is configured.
  Result<std::unique_ptr<process::ChildProcess>> start_slirp(const SandboxPlan& plan,
                                                             pid_t init_pid, int log_fd,
                                                             const UniqueFd& exit_fd);
  bool facts_root() const { return probe_.facts.root; }

  boost::asio::any_io_executor io_;
  ProcessDriverConfig cfg_;
  std::string data_dir_;
  std::string sessions_dir_;
  std::string cargo_root_;
  ProbeResult probe_;
  CargoImages images_;
  // Outer bwrap processes started by this Bay, by runtime id, so that they are reaped.
  // Runtimes re-attached after a restart are children of init instead.
  std::map<std::string, std::unique_ptr<process::ChildProcess>> children_;
  // slirp4netns processes of outbound sandboxes started by this Bay, by runtime id.
  std::map<std::string, std::unique_ptr<process::ChildProcess>> slirps_;
  // Read ends of Ship's --ready-fd of runtimes started by this Bay and not yet waited
  // for, by runtime id.
  std::map<std::string, UniqueFd> readiness_;
  std::string seccomp_bpf_;  // the BPF program every sandbox is started with
  // Launches and teardowns mostly wait (mkfs, a cgroup migration's RCU grace period,
  // bwrap's start-up), so there are more threads than cores: a burst of creates starts
  // sandboxes side by side instead of two at a time. Last member: joined before the rest
  // is destroyed.
  boost::asio::thread_pool pool_{8};
};

}  // namespace shipyard::bay
