#include "bay/domain/gc_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

namespace shipyard::bay {
namespace asio = boost::asio;

namespace {
std::string describe(const Error& e) {
  return e.context.empty() ? e.message : e.message + " (" + e.context + ")";
}
}  // namespace

GcService::GcService(asio::any_io_executor io, Store& store, Driver& driver,
                     SessionManager& sessions, SandboxService& sandboxes, CargoService& cargos,
                     const BayConfig& config, const Clock& clock)
    : io_(std::move(io)),
      store_(store),
      driver_(driver),
      sessions_(sessions),
      sandboxes_(sandboxes),
      cargos_(cargos),
      config_(config),
      clock_(clock) {}

asio::awaitable<Result<GcReport>> GcService::run(std::optional<std::vector<std::string>> tasks) {
  if (running_) {
    Error e(ErrorCode::kLocked, "A garbage collection cycle is already running");
    co_return e;
  }
  running_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{running_};
  auto enabled = [&](const std::string& t) {
    if (tasks) return std::find(tasks->begin(), tasks->end(), t) != tasks->end();
    if (t == "idle_session") return config_.gc.idle_session.enabled;
    if (t == "expired_sandbox") return config_.gc.expired_sandbox.enabled;
    if (t == "orphan_cargo") return config_.gc.orphan_cargo.enabled;
    return config_.gc.orphan_container.enabled;
  };
  const auto t0 = std::chrono::steady_clock::now();
  GcReport report;
  // Canonical order: reclaiming and deleting first frees what the orphan tasks then find.
  if (enabled("idle_session")) report.results.push_back(co_await idle_sessions());
  if (enabled("expired_sandbox")) report.results.push_back(co_await expired_sandboxes());
  if (enabled("orphan_cargo")) report.results.push_back(co_await orphan_cargos());
  if (enabled("orphan_container")) report.results.push_back(co_await orphan_runtimes());
  // Expired idempotency keys go with every cycle; they are bookkeeping, not a task.
  if (auto p = co_await store_.purge_idempotency(clock_.now()); !p) {
    spdlog::warn("gc: purging idempotency keys: {}", describe(p.error()));
  }
  report.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::int64_t cleaned = 0;
  for (const auto& r : report.results) cleaned += r.cleaned_count;
  if (cleaned > 0) spdlog::info("gc: cleaned {} item(s) in {} ms", cleaned, report.duration_ms);
  co_return report;
}

asio::awaitable<GcTaskResult> GcService::idle_sessions() {
  GcTaskResult r;
  r.task_name = "idle_session";
  for (const auto& id : sessions_.sandboxes_with_sessions()) {
    auto sb = co_await store_.find_sandbox(id);
    if (!sb) {
      r.errors.push_back(id + ": " + describe(sb.error()));
      continue;
    }
    // Sandboxes backing legacy ships are never reclaimed for idleness (§6.3).
    if (*sb && (*sb)->legacy) {
      ++r.skipped_count;
      continue;
    }
    if (co_await sessions_.reclaim_if_idle(id, clock_.now())) {
      ++r.cleaned_count;
    } else {
      ++r.skipped_count;
    }
  }
  co_return r;
}

asio::awaitable<GcTaskResult> GcService::expired_sandboxes() {
  GcTaskResult r;
  r.task_name = "expired_sandbox";
  auto live = co_await store_.list_live_sandboxes();
  if (!live) {
    r.errors.push_back(describe(live.error()));
    co_return r;
  }
  for (const auto& candidate : *live) {
    if (!candidate.expires_at || *candidate.expires_at >= clock_.now()) continue;
    // Re-read right before acting: an extend_ttl may have moved it meanwhile.
    auto fresh = co_await store_.find_sandbox(candidate.id);
    if (!fresh || !*fresh || (*fresh)->deleted_at || !(*fresh)->expires_at ||
        *(*fresh)->expires_at >= clock_.now()) {
      ++r.skipped_count;
      continue;
    }
    auto s = co_await sandboxes_.destroy(**fresh);
    if (s) {
      ++r.cleaned_count;
    } else {
      r.errors.push_back(candidate.id + ": " + describe(s.error()));
    }
  }
  co_return r;
}

asio::awaitable<GcTaskResult> GcService::orphan_cargos() {
  GcTaskResult r;
  r.task_name = "orphan_cargo";
  auto orphans = co_await store_.list_orphan_cargos();
  if (!orphans) {
    r.errors.push_back(describe(orphans.error()));
    co_return r;
  }
  for (const auto& c : *orphans) {
    auto guard = co_await cargo_binding_lock().lock(c.id);
    // Still mounted by a running runtime (the sandbox was deleted moments ago and its
    // session is being torn down): leave it for the next cycle.
    auto users = co_await store_.cargo_users(c.id);
    if (!users || !users->empty()) {
      ++r.skipped_count;
      continue;
    }
    auto s = co_await cargos_.destroy(c);
    if (s) {
      ++r.cleaned_count;
    } else {
      r.errors.push_back(c.id + ": " + describe(s.error()));
    }
  }
  co_return r;
}

asio::awaitable<GcTaskResult> GcService::orphan_runtimes() {
  GcTaskResult r;
  r.task_name = "orphan_container";
  auto runtimes = co_await driver_.list_runtimes(config_.gc.instance_id);
  if (!runtimes) {
    r.errors.push_back(describe(runtimes.error()));
    co_return r;
  }
  auto active = co_await store_.list_active_sessions();
  if (!active) {
    r.errors.push_back(describe(active.error()));
    co_return r;
  }
  std::set<std::string> known;
  for (const auto& s : *active) known.insert(s.id);
  for (const auto& rt : *runtimes) {
    if (known.contains(rt.session_id) || sessions_.knows_session(rt.session_id)) {
      ++r.skipped_count;
      continue;
    }
    spdlog::info("gc: destroying orphan runtime of session {}", rt.session_id);
    auto s = co_await driver_.destroy(rt.handle);
    if (s) {
      ++r.cleaned_count;
    } else {
      r.errors.push_back(rt.session_id + ": " + describe(s.error()));
    }
  }
  co_return r;
}

void GcService::start_scheduler() {
  if (!config_.gc.enabled || scheduled_) return;
  scheduled_ = true;
  timer_.emplace(io_);
  asio::co_spawn(io_, schedule_loop(), asio::detached);
}

void GcService::stop_scheduler() {
  scheduled_ = false;
  if (timer_) timer_->cancel();
}

asio::awaitable<void> GcService::schedule_loop() {
  bool first = true;
  while (scheduled_) {
    if (!(first && config_.gc.run_on_startup)) {
      timer_->expires_after(std::chrono::seconds(config_.gc.interval_seconds));
      auto [ec] = co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || !scheduled_) co_return;
    }
    first = false;
    auto report = co_await run(std::nullopt);
    if (!report && report.error().code != ErrorCode::kLocked) {
      spdlog::error("gc: {}", describe(report.error()));
    }
  }
}

}  // namespace shipyard::bay
