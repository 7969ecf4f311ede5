// LegacyService: allocation (§5), lifetime and the reaper (§6), read/delete/list/extend
// (§7) and start-up recovery. Operations on a ship's runtime live in legacy_operations.cpp.
#include "bay/legacy/legacy_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "bay/legacy/lifetime.hpp"

namespace shipyard::bay::legacy {
namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kReaperPeriod = std::chrono::seconds(1);
// Every this many reaper ticks, ships whose sandbox was deleted through /v1 are forgotten.
constexpr int kReconcileEvery = 5;

// Waits until `ev` is set, `abandon` (may be null) is set or `deadline` passes. True when
// `ev` was set.
asio::awaitable<bool> wait_event(AsyncEvent& ev, AsyncEvent* abandon,
                                 SteadyClock::time_point deadline) {
  using namespace boost::asio::experimental::awaitable_operators;
  if (abandon != nullptr) {
    co_await (ev.wait_until(deadline) || abandon->wait_until(deadline));
  } else {
    co_await ev.wait_until(deadline);
  }
  co_return ev.is_set();
}

Error client_gone() {
  return Error(ErrorCode::kUnavailable, "The client went away while waiting for a ship");
}

}  // namespace

LegacyService::LegacyService(asio::any_io_executor io, LegacyStore& legacy_store, Store& store,
                             SandboxService& sandboxes, SessionManager& sessions,
                             const BayConfig& config, const Clock& clock, LogReader logs)
    : io_(io),
      legacy_store_(legacy_store),
      store_(store),
      sandboxes_(sandboxes),
      sessions_(sessions),
      config_(config),
      clock_(clock),
      logs_(std::move(logs)),
      capacity_(io, config.legacy.max_ship_num) {}

LegacyService::~LegacyService() { stop_reaper(); }

// ---------------------------------------------------------------- helpers

LegacyService::ShipPtr LegacyService::find_ship(const std::string& id) const {
  auto it = ships_.find(id);
  return it == ships_.end() ? nullptr : it->second;
}

std::vector<const LegacySession*> LegacyService::sessions_of(const std::string& ship_id) const {
  std::vector<const LegacySession*> out;
  for (const auto& [id, s] : attached_) {
    if (s.ship_id == ship_id) out.push_back(&s);
  }
  return out;
}

std::int64_t LegacyService::session_count(const std::string& ship_id) const {
  return static_cast<std::int64_t>(sessions_of(ship_id).size());
}

void LegacyService::release_slot(ShipState& ship) {
  if (!ship.holds_slot) return;
  ship.holds_slot = false;
  capacity_.release();
}

asio::awaitable<Status> LegacyService::persist(ShipPtr ship, std::string session_id) {
  if (ship->gone) co_return Status{};
  std::vector<LegacySession> sessions;
  if (auto it = attached_.find(session_id);
      !session_id.empty() && it != attached_.end() && it->second.ship_id == ship->rec.id) {
    sessions.push_back(it->second);
  }
  LegacyShip rec = ship->rec;
  auto s = co_await legacy_store_.save_legacy_ship(std::move(rec), std::move(sessions));
  if (!s) {
    spdlog::error("legacy: saving ship {}: {} ({})", ship->rec.id, s.error().message,
                  s.error().context);
  }
  co_return s;
}

asio::awaitable<ShipView> LegacyService::view(ShipPtr ship) {
  ShipView v;
  v.ship = ship->rec;
  v.ship.status = ship->phase == Phase::kRunning ? 1 : 0;
  v.current_session_num = session_count(ship->rec.id);
  if (ship->phase != Phase::kRunning ||
      sessions_.view(ship->rec.id).state != SessionView::State::kReady) {
    co_return v;
  }
  auto rec = co_await store_.active_session(ship->rec.id);
  if (rec && *rec && (*rec)->state == SessionState::kReady && !(*rec)->runtime_id.empty()) {
    v.container_id = (*rec)->runtime_id;
    const std::string& ep = (*rec)->endpoint;
    v.ip_address = ep.rfind("tcp:", 0) == 0 ? ep.substr(4) : ep;
  }
  co_return v;
}

// ---------------------------------------------------------------- start-up, reaper

asio::awaitable<void> LegacyService::recover() {
  auto ships = co_await legacy_store_.list_legacy_ships();
  auto sessions = co_await legacy_store_.list_legacy_sessions();
  if (!ships || !sessions) {
    const Error& e = !ships ? ships.error() : sessions.error();
    spdlog::error("legacy: loading ships: {} ({})", e.message, e.context);
    co_return;
  }
  std::int64_t running = 0;
  for (auto& rec : *ships) {
    auto sb = co_await store_.find_sandbox(rec.id);
    if (sb && (!*sb || (*sb)->deleted_at)) {
      // Deleted through /v1 while this Bay was down (or a crash between the two deletes).
      spdlog::info("legacy: ship {} lost its sandbox; forgetting it", rec.id);
      auto d = co_await legacy_store_.delete_legacy_ship(rec.id);
      if (!d) spdlog::error("legacy: deleting ship {}: {}", rec.id, d.error().context);
      continue;
    }
    auto ship = std::make_shared<ShipState>(io_);
    ship->rec = std::move(rec);
    ship->phase = ship->rec.status == 1 ? Phase::kRunning : Phase::kStopped;
    // A running ship whose runtime did not survive is restarted by its next operation
    // (§6, runtime death), so it keeps its slot.
    ship->holds_slot = ship->phase == Phase::kRunning;
    running += ship->holds_slot ? 1 : 0;
    ship->order = next_order_++;
    ship->settled.set();
    ships_[ship->rec.id] = ship;
  }
  std::size_t attached = 0;
  for (auto& s : *sessions) {
    if (!ships_.contains(s.ship_id)) continue;
    ++attached;
    attached_[s.id] = std::move(s);
  }
  capacity_.set_in_use(running);
  if (!ships_.empty()) {
    spdlog::info("legacy: {} ship(s) ({} running), {} session(s)", ships_.size(), running,
                 attached);
  }
}

void LegacyService::start_reaper() {
  if (reaping_) return;
  reaping_ = true;
  reaper_timer_.emplace(io_);
  asio::co_spawn(io_, reaper_loop(), asio::detached);
}

void LegacyService::stop_reaper() {
  reaping_ = false;
  if (reaper_timer_) reaper_timer_->cancel();
}

asio::awaitable<void> LegacyService::reaper_loop() {
  for (int tick = 1; reaping_; ++tick) {
    reaper_timer_->expires_after(kReaperPeriod);
    auto [ec] = co_await reaper_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || !reaping_) co_return;
    co_await sweep();
    if (tick % kReconcileEvery == 0) co_await reconcile();
  }
}

asio::awaitable<int> LegacyService::sweep() {
  const TimePoint now = clock_.now();
  std::vector<ShipPtr> due;
  for (const auto& [id, ship] : ships_) {
    if (ship->phase == Phase::kRunning && is_expired(ship->rec, now)) due.push_back(ship);
  }
  int stopped = 0;
  for (auto& ship : due) {
    // Re-checked: an earlier stop suspended, and extend-ttl may have moved this one.
    if (ship->gone || ship->phase != Phase::kRunning || !is_expired(ship->rec, clock_.now())) {
      continue;
    }
    co_await stop_ship(ship);
    ++stopped;
  }
  co_return stopped;
}

asio::awaitable<void> LegacyService::stop_ship(ShipPtr ship) {
  const std::string id = ship->rec.id;
  spdlog::info("legacy: ship {} expired; stopping it (cargo and sessions kept)", id);
  // The runtime's log disappears with it: keep its tail for GET /ship/logs.
  if (auto v = sessions_.view(id); logs_ && !v.session_id.empty()) {
    ship->last_logs = logs_(v.session_id);
  }
  // Observable at once; the slot goes to the oldest waiter, if any.
  mark_stopped(ship->rec, clock_.now());
  ship->phase = Phase::kStopped;
  release_slot(*ship);
  if (auto s = co_await sessions_.stop(id); !s) {
    spdlog::error("legacy: stopping ship {}: {}", id, s.error().context);
  }
  co_await persist(ship, std::string());
}

void LegacyService::drop(ShipPtr ship) {
  ship->gone = true;
  ships_.erase(ship->rec.id);
  for (auto it = attached_.begin(); it != attached_.end();) {
    it = it->second.ship_id == ship->rec.id ? attached_.erase(it) : std::next(it);
  }
  release_slot(*ship);
  ship->settled.set();
}

asio::awaitable<void> LegacyService::forget(ShipPtr ship) {
  drop(ship);
  auto d = co_await legacy_store_.delete_legacy_ship(ship->rec.id);
  if (!d) spdlog::error("legacy: deleting ship {}: {}", ship->rec.id, d.error().context);
}

asio::awaitable<Status> LegacyService::destroy_ship(ShipPtr ship) {
  drop(ship);
  const std::string id = ship->rec.id;
  auto sb = co_await store_.find_sandbox(id);
  if (!sb) co_return std::move(sb).error();
  if (*sb && !(*sb)->deleted_at) {
    if (auto s = co_await sandboxes_.destroy(**sb); !s) co_return s;
  }
  auto d = co_await legacy_store_.delete_legacy_ship(id);
  if (!d) co_return std::move(d).error();
  spdlog::info("legacy: deleted ship {}", id);
  co_return Status{};
}

asio::awaitable<void> LegacyService::reconcile() {
  // Only ships known before the query: one created meanwhile is not in its answer.
  std::vector<ShipPtr> known;
  for (const auto& [id, ship] : ships_) known.push_back(ship);
  if (known.empty()) co_return;
  auto live = co_await store_.list_live_sandboxes();
  if (!live) co_return;
  std::set<std::string> ids;
  for (const auto& sb : *live) ids.insert(sb.id);
  for (auto& ship : known) {
    if (ship->gone || ids.contains(ship->rec.id)) continue;
    spdlog::info("legacy: the sandbox of ship {} was deleted through /v1; forgetting the ship",
                 ship->rec.id);
    co_await forget(ship);
  }
}

// ---------------------------------------------------------------- allocation (§5)

asio::awaitable<LegacyService::SlotResult> LegacyService::take_slot(
    SteadyClock::time_point deadline, std::shared_ptr<AsyncEvent> abandon, bool first,
    std::string session_id) {
  if (capacity_.try_acquire()) co_return SlotResult::kAcquired;
  if (first) {
    // A ship deleted through /v1 still holds its slot until noticed: look before refusing.
    co_await reconcile();
    if (capacity_.try_acquire()) co_return SlotResult::kAcquired;
  }
  if (config_.legacy.behavior_after_max_ship != "wait") co_return SlotResult::kRejected;
  spdlog::info("legacy: session {} waits for a ship slot ({} waiting before it)", session_id,
               capacity_.waiting());
  const auto outcome = co_await capacity_.acquire(deadline, std::move(abandon));
  if (outcome != CapacityQueue::Outcome::kAcquired) {
    spdlog::info("legacy: session {} left the queue ({})", session_id,
                 outcome == CapacityQueue::Outcome::kAbandoned ? "client gone" : "timed out");
  }
  if (outcome == CapacityQueue::Outcome::kAcquired) co_return SlotResult::kAcquired;
  if (outcome == CapacityQueue::Outcome::kAbandoned) co_return SlotResult::kAbandoned;
  co_return SlotResult::kTimedOut;
}

asio::awaitable<Result<ShipView>> LegacyService::allocate(ShipRequest req,
                                                          std::shared_ptr<AsyncEvent> abandon) {
  const auto wait_deadline =
      SteadyClock::now() + std::chrono::seconds(config_.legacy.max_wait_seconds);
  const auto start_budget = std::chrono::seconds(config_.legacy.ship_ready_timeout + 10);

  // One allocation per session at a time: a concurrent POST /ship of the same session waits
  // for the first and then finds its ship (step 1) instead of creating a second one.
  for (auto it = allocating_.find(req.session_id); it != allocating_.end();
       it = allocating_.find(req.session_id)) {
    auto busy = it->second;
    co_await wait_event(*busy, abandon.get(), wait_deadline + start_budget);
    if (abandon && abandon->is_set()) co_return client_gone();
    if (!busy->is_set()) {
      co_return Error(ErrorCode::kTimeout, "Timeout waiting for available ship slot");
    }
  }
  auto mine = std::make_shared<AsyncEvent>(io_);
  allocating_[req.session_id] = mine;
  struct Done {
    LegacyService* self;
    std::string session;
    std::shared_ptr<AsyncEvent> event;
    bool slot = false;
    ~Done() {
      if (slot) self->capacity_.release();
      self->allocating_.erase(session);
      event->set();
    }
  } done{this, req.session_id, mine};

  bool reconciled = false;
  for (;;) {
    if (abandon && abandon->is_set()) co_return client_gone();
    if (auto a = attached_.find(req.session_id); a != attached_.end()) {
      ShipPtr ship = find_ship(a->second.ship_id);
      if (ship && ship->phase == Phase::kRunning) {
        // Step 1: the session's own running ship, unchanged.
        a->second.last_activity = clock_.now();
        co_await persist(ship, req.session_id);
        co_return co_await view(ship);
      }
      if (ship && ship->phase == Phase::kStarting) {
        // Another session of this ship is restoring it: wait for that, then look again.
        co_await wait_event(ship->settled, abandon.get(), SteadyClock::now() + start_budget);
        continue;
      }
      if (ship) {
        // Step 2: restore the stopped ship, under the capacity rules of step 4.
        if (!done.slot) {
          const auto got = co_await take_slot(wait_deadline, abandon, !reconciled, req.session_id);
          reconciled = true;
          if (got != SlotResult::kAcquired) co_return slot_error(got);
          done.slot = true;
          continue;  // the world may have changed while waiting
        }
        done.slot = false;  // the ship holds it from now on
        co_return co_await restore(ship, req.session_id, req.ttl);
      }
      attached_.erase(a);  // its ship is gone
    }
    // Step 3: the oldest running ship with a free slot.
    ShipPtr best;
    for (const auto& [id, ship] : ships_) {
      if (ship->phase != Phase::kRunning || session_count(id) >= ship->rec.max_session_num) {
        continue;
      }
      if (!best || ship->order < best->order) best = ship;
    }
    if (best) {
      if (done.slot) {
        done.slot = false;
        capacity_.release();
      }
      co_return co_await attach(best, req.session_id, req.ttl);
    }
    // Step 4: a new ship.
    if (!done.slot) {
      const auto got = co_await take_slot(wait_deadline, abandon, !reconciled, req.session_id);
      reconciled = true;
      if (got != SlotResult::kAcquired) co_return slot_error(got);
      done.slot = true;
      continue;
    }
    done.slot = false;
    co_return co_await create(std::move(req));
  }
}

Error LegacyService::slot_error(SlotResult r) {
  switch (r) {
    case SlotResult::kRejected:
      return Error(ErrorCode::kUnavailable, "Maximum number of ships reached");
    case SlotResult::kAbandoned: return client_gone();
    default: return Error(ErrorCode::kTimeout, "Timeout waiting for available ship slot");
  }
}

asio::awaitable<Result<ShipView>> LegacyService::attach(ShipPtr ship, std::string session_id,
                                                        std::int64_t ttl) {
  const TimePoint now = clock_.now();
  LegacySession s;
  s.id = session_id;
  s.ship_id = ship->rec.id;
  s.attached_at = now;
  attach_session(s, ttl, now);
  attached_[session_id] = s;
  recompute_expiry(ship->rec, sessions_of(ship->rec.id), now);
  ship->rec.updated_at = now;  // current_session_num changed
  co_await persist(ship, session_id);
  spdlog::info("legacy: session {} attached to ship {} ({}/{})", session_id, ship->rec.id,
               session_count(ship->rec.id), ship->rec.max_session_num);
  // The new session's workspace and interpreter, so its first call is warm.
  auto lease = co_await runtime(ship);
  if (lease) {
    if (auto p = co_await prepare_session(**lease, session_id); !p) {
      spdlog::warn("legacy: preparing session {} on {}: {}", session_id, ship->rec.id,
                   p.error().message);
    }
  }
  co_return co_await view(ship);
}

asio::awaitable<Result<ShipView>> LegacyService::create(ShipRequest req) {
  CreateSandboxRequest sreq;
  sreq.profile = config_.legacy.profile;
  auto sb = co_await sandboxes_.create(config_.legacy.owner, sreq);
  if (!sb) {
    capacity_.release();
    co_return start_failure(sb.error(), false);
  }
  const TimePoint now = clock_.now();
  auto ship = std::make_shared<ShipState>(io_);
  ship->rec.id = sb->sandbox.id;
  ship->rec.status = 0;
  ship->rec.ttl = req.ttl;
  ship->rec.max_session_num = req.max_session_num;
  ship->rec.cpus = req.cpus;
  ship->rec.memory = req.memory;
  ship->rec.created_at = now;
  ship->rec.updated_at = now;
  ship->phase = Phase::kStarting;
  ship->holds_slot = true;
  ship->order = next_order_++;
  LegacySession s;
  s.id = req.session_id;
  s.ship_id = ship->rec.id;
  s.attached_at = now;
  attach_session(s, req.ttl, now);
  ships_[ship->rec.id] = ship;
  attached_[s.id] = s;

  // Recorded (and the sandbox marked legacy) before the runtime starts: after a crash the
  // session finds a stopped ship to restore rather than a stray sandbox.
  Result<ShipView> failure = Error(ErrorCode::kInternal, "Ship creation failed");
  if (auto p = co_await persist(ship, req.session_id); !p) {
    failure = start_failure(p.error(), false);
  } else {
    auto lease = co_await runtime(ship);
    if (!lease) {
      failure = start_failure(lease.error(), ship->gone);
    } else if (auto prep = co_await prepare_session(**lease, req.session_id); !prep) {
      failure = start_failure(prep.error(), ship->gone);
    } else if (!ship->gone) {
      lease->reset();
      const TimePoint ready = clock_.now();
      auto& session = attached_[req.session_id];
      attach_session(session, req.ttl, ready);
      ship->rec.status = 1;
      ship->rec.ttl = req.ttl;
      ship->rec.expires_at = expiry_after(ready, req.ttl);
      ship->rec.updated_at = ready;
      ship->phase = Phase::kRunning;
      ship->settled.set();
      co_await persist(ship, req.session_id);
      spdlog::info("legacy: created ship {} for session {} (ttl {} s, {} session(s) max)",
                   ship->rec.id, req.session_id, req.ttl, req.max_session_num);
      co_return co_await view(ship);
    } else {
      failure = start_failure(Error(ErrorCode::kInternal, ""), true);
    }
  }
  // Nothing created may stay behind: the runtime, the sandbox and its cargo go.
  if (!ship->gone) {
    if (auto d = co_await destroy_ship(ship); !d) {
      spdlog::error("legacy: removing failed ship {}: {}", ship->rec.id, d.error().context);
    }
  }
  co_return failure;
}

asio::awaitable<Result<ShipView>> LegacyService::restore(ShipPtr ship, std::string session_id,
                                                         std::int64_t ttl) {
  ship->phase = Phase::kStarting;
  ship->holds_slot = true;
  ship->settled.reset();
  spdlog::info("legacy: restoring ship {} for session {}", ship->rec.id, session_id);
  auto lease = co_await runtime(ship);
  Status ok;
  if (!lease) {
    ok = std::move(lease).error();
  } else {
    ok = co_await prepare_session(**lease, session_id);
    lease->reset();
  }
  if (ship->gone) co_return start_failure(Error(ErrorCode::kInternal, ""), true);
  if (!ok) {
    // The ship stays stopped with all its data; its session may try again.
    ship->phase = Phase::kStopped;
    release_slot(*ship);
    ship->settled.set();
    if (auto s = co_await sessions_.stop(ship->rec.id); !s) {
      spdlog::error("legacy: stopping ship {}: {}", ship->rec.id, s.error().context);
    }
    co_return start_failure(ok.error(), false);
  }
  const TimePoint now = clock_.now();
  auto it = attached_.find(session_id);
  if (it != attached_.end()) attach_session(it->second, ttl, now);
  ship->rec.status = 1;
  ship->rec.expires_at.reset();
  recompute_expiry(ship->rec, sessions_of(ship->rec.id), now);
  ship->rec.ttl = ttl;
  ship->rec.updated_at = now;
  ship->phase = Phase::kRunning;
  ship->settled.set();
  co_await persist(ship, session_id);
  co_return co_await view(ship);
}

// ---------------------------------------------------------------- read, delete, list (§7)

asio::awaitable<Result<ShipView>> LegacyService::get(std::string id) {
  ShipPtr ship = find_ship(id);
  if (!ship) co_return Error(ErrorCode::kNotFound, "Ship not found");
  auto sb = co_await store_.find_sandbox(id);
  if (!sb) co_return std::move(sb).error();
  if (ship->gone) co_return Error(ErrorCode::kNotFound, "Ship not found");
  if (!*sb || (*sb)->deleted_at) {
    co_await forget(ship);
    co_return Error(ErrorCode::kNotFound, "Ship not found");
  }
  co_return co_await view(ship);
}

asio::awaitable<Result<std::vector<ShipView>>> LegacyService::list_running() {
  std::vector<ShipPtr> running;
  for (const auto& [id, ship] : ships_) {
    if (ship->phase == Phase::kRunning) running.push_back(ship);
  }
  std::sort(running.begin(), running.end(),
            [](const ShipPtr& a, const ShipPtr& b) { return a->order < b->order; });
  std::vector<ShipView> out;
  for (auto& ship : running) out.push_back(co_await view(ship));
  co_return out;
}

asio::awaitable<Status> LegacyService::remove(std::string id) {
  ShipPtr ship = find_ship(id);
  if (!ship) co_return Error(ErrorCode::kNotFound, "Ship not found");
  co_return co_await destroy_ship(ship);
}

asio::awaitable<Result<ShipView>> LegacyService::extend(std::string id, std::int64_t ttl) {
  ShipPtr ship = find_ship(id);
  if (!ship || ship->phase != Phase::kRunning) {
    co_return Error(ErrorCode::kNotFound, "Ship not found");
  }
  extend_ttl(ship->rec, ttl, clock_.now());
  co_await persist(ship, std::string());
  co_return co_await view(ship);
}

asio::awaitable<Result<std::string>> LegacyService::logs(std::string id) {
  ShipPtr ship = find_ship(id);
  if (!ship) co_return Error(ErrorCode::kNotFound, "Ship not found");
  if (ship->phase == Phase::kRunning) {
    auto v = sessions_.view(id);
    if (logs_ && !v.session_id.empty()) co_return logs_(v.session_id);
  }
  co_return ship->last_logs;
}

}  // namespace shipyard::bay::legacy
