// Garbage collection (bay-api-v1.md §13): idle sessions, expired sandboxes, orphan
// cargos and orphan runtimes; run on a schedule and on demand, one cycle at a time.
// Threading: Bay's I/O executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/domain/cargo_service.hpp"
#include "bay/domain/sandbox_service.hpp"
#include "bay/domain/session_manager.hpp"

namespace shipyard::bay {

inline const std::vector<std::string> kGcTasks{"idle_session", "expired_sandbox", "orphan_cargo",
                                               "orphan_container"};

struct GcTaskResult {
  std::string task_name;
  std::int64_t cleaned_count = 0;
  std::int64_t skipped_count = 0;
  std::vector<std::string> errors;
};

struct GcReport {
  std::vector<GcTaskResult> results;
  std::int64_t duration_ms = 0;
};

class GcService {
 public:
  GcService(boost::asio::any_io_executor io, Store& store, Driver& driver, SessionManager& sessions,
            SandboxService& sandboxes, CargoService& cargos, const BayConfig& config,
            const Clock& clock);

  // Runs the named tasks (canonical order; unknown names ignored) or, with nullopt, the
  // tasks enabled in the configuration. kLocked while another cycle runs.
  boost::asio::awaitable<Result<GcReport>> run(std::optional<std::vector<std::string>> tasks);

  bool running() const { return running_; }

  // Starts the automatic schedule (and the start-up cycle) when configured.
  void start_scheduler();
  void stop_scheduler();

 private:
  boost::asio::awaitable<GcTaskResult> idle_sessions();
  boost::asio::awaitable<GcTaskResult> expired_sandboxes();
  boost::asio::awaitable<GcTaskResult> orphan_cargos();
  boost::asio::awaitable<GcTaskResult> orphan_runtimes();
  boost::asio::awaitable<void> schedule_loop();

  boost::asio::any_io_executor io_;
  Store& store_;
  Driver& driver_;
  SessionManager& sessions_;
  SandboxService& sandboxes_;
  CargoService& cargos_;
  const BayConfig& config_;
  const Clock& clock_;
  bool running_ = false;
  bool scheduled_ = false;
  std::optional<boost::asio::steady_timer> timer_;
};

}  // namespace shipyard::bay
