#include "bay/domain/warm_pool.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "bay/domain/rules.hpp"
#include "bay/domain/runtime_ready.hpp"
#include "common/async_event.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Starts run in parallel up to this many at a time: filling a large pool must not starve
// the cold starts and calls of real sandboxes on a small host.
constexpr std::size_t kMaxParallelFills = 2;

// A claimed runtime is replaced this long after the claim, not at once: the claiming
// sandbox's create and first call follow within milliseconds, and a sandbox start beside
// them (mkfs, bwrap, an interpreter start: tens of ms of CPU) would slow exactly the path
// the pool is there to make fast.
constexpr std::chrono::milliseconds kRefillDelay{50};

}  // namespace

WarmPool::WarmPool(asio::any_io_executor io, Store& store, Driver& driver, SessionManager& sessions,
                   const BayConfig& config, SessionSettings settings)
    : io_(std::move(io)),
      store_(store),
      driver_(driver),
      sessions_(sessions),
      config_(config),
      settings_(std::move(settings)),
      refill_timer_(io_) {}

WarmPool::~WarmPool() = default;

asio::awaitable<void> WarmPool::start() {
  // Warm runtimes of a previous run belong to nobody: remove them now.
  auto runtimes = co_await driver_.list_runtimes(settings_.instance_id);
  auto active = co_await store_.list_active_sessions();
  if (runtimes && active) {
    std::set<std::string> known;
    for (const auto& s : *active) known.insert(s.id);
    for (const auto& r : *runtimes) {
      // Only warm runtimes (started for no sandbox); other orphans are the GC's
      // (orphan_container task) to judge.
      if (!r.sandbox_id.empty()) continue;
      if (known.contains(r.session_id) || sessions_.knows_session(r.session_id)) continue;
      spdlog::info("warm pool: removing runtime {} of a previous run", r.session_id);
      if (auto d = co_await driver_.destroy(r.handle); !d) {
        spdlog::warn("destroying runtime {}: {}", r.handle.runtime_id, d.error().context);
      }
    }
  }
  // Storage that no cargo record names: warm slots of a previous run, or a create that
  // died between preparing the storage and recording the cargo.
  auto storage = co_await driver_.list_cargo_storage();
  if (storage) {
    for (const auto& [cargo_id, path] : *storage) {
      auto cargo = co_await store_.find_cargo(cargo_id);
      if (!cargo || *cargo) continue;  // a store error keeps it (never guess)
      spdlog::info("removing cargo storage without a record: {}", path);
      if (auto d = co_await driver_.delete_cargo_storage(path); !d) {
        spdlog::warn("removing {}: {}", path, d.error().context);
      }
    }
  }
  running_ = true;
  std::size_t total = 0;
  for (const auto& p : config_.profiles) total += static_cast<std::size_t>(p.warm_pool_size);
  if (total > 0) spdlog::info("warm pool: filling {} slot(s)", total);
  top_up();
}

asio::awaitable<void> WarmPool::shutdown() {
  running_ = false;
  // Starts in flight discard their slot when they finish (running_ is false); wait for
  // them, bounded, so that none outlives Bay.
  for (int i = 0; i < 250 && filling_total_ > 0; ++i) {
    co_await async_sleep(std::chrono::milliseconds(20));
  }
  auto pools = std::move(ready_);
  ready_.clear();
  for (auto& [profile, slots] : pools) {
    for (auto& slot : slots) co_await discard(std::move(slot), true);
  }
}

void WarmPool::top_up() {
  if (!running_) return;
  for (const auto& p : config_.profiles) {
    const auto want = static_cast<std::size_t>(std::max<std::int64_t>(p.warm_pool_size, 0));
    while (filling_total_ < kMaxParallelFills && ready_[p.id].size() + filling_[p.id] < want) {
      ++filling_[p.id];
      ++filling_total_;
      asio::co_spawn(io_, fill(p.id), asio::detached);
    }
  }
}

void WarmPool::top_up_soon() {
  if (refill_pending_) return;
  refill_pending_ = true;
  refill_timer_.expires_after(kRefillDelay);
  refill_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the pool is being destroyed
    refill_pending_ = false;
    top_up();
  });
}

asio::awaitable<void> WarmPool::fill(std::string profile_id) {
  const Profile* profile = config_.find_profile(profile_id);
  // (No co_await inside a conditional expression: GCC 12 miscompiles it.)
  Result<WarmSlot> slot = Error(ErrorCode::kInternal, "unknown profile");
  if (profile != nullptr) slot = co_await launch(*profile);
  if (!slot) {
    // Back off so that a host that cannot start runtimes is not hammered (1 s .. 60 s).
    int n = ++failures_[profile_id];
    spdlog::warn("warm pool {}: start failed ({} in a row): {} ({})", profile_id, n,
                 slot.error().message, slot.error().context);
    co_await async_sleep(std::chrono::milliseconds(1000LL << std::min(n - 1, 6)));
  } else {
    failures_[profile_id] = 0;
    if (running_) {
      auto& pool = ready_[profile_id];
      spdlog::info("warm pool {}: runtime {} ready ({} ready)", profile_id,
                   slot->runtime.session_id, pool.size() + 1);
      pool.push_back(std::move(*slot));
    } else {
      co_await discard(std::move(*slot), true);
    }
  }
  --filling_[profile_id];
  --filling_total_;
  top_up();
}

asio::awaitable<Result<WarmSlot>> WarmPool::launch(const Profile& profile) {
  WarmSlot slot;
  slot.profile_id = profile.id;
  auto uid = co_await store_.allocate_uid(config_.driver.process.uid_base);
  if (!uid) co_return std::move(uid).error();
  slot.cargo.id = new_id("ws-");
  slot.cargo.host_uid = *uid;
  slot.cargo.size_limit_mb = config_.cargo_default_size_limit_mb;
  auto path = co_await driver_.create_cargo_storage(slot.cargo.id, slot.cargo.host_uid,
                                                    slot.cargo.size_limit_mb);
  if (!path) co_return std::move(path).error();
  slot.cargo.storage_path = *path;

  SessionSpec spec;
  spec.session_id = new_id("sess-");
  spec.profile = profile;
  spec.cargo_id = slot.cargo.id;
  spec.cargo_path = slot.cargo.storage_path;
  spec.cargo_uid = slot.cargo.host_uid;
  // The environment of a cold start minus BAY_SANDBOX_ID, which bind() supplies.
  for (auto& kv : session_environment(Sandbox{}, spec.session_id, profile)) {
    if (kv.first != "BAY_SANDBOX_ID") spec.env.push_back(std::move(kv));
  }
  spec.env.emplace_back("SHIP_BINDABLE", "1");
  spec.instance_id = settings_.instance_id;
  const std::string session_id = spec.session_id;
  sessions_.reserve_session_id(session_id);
  auto handle = co_await driver_.start(std::move(spec));
  if (!handle) {
    sessions_.release_session_id(session_id);
    co_await driver_.delete_cargo_storage(slot.cargo.storage_path);
    co_return std::move(handle).error();
  }
  slot.runtime.session_id = session_id;
  slot.runtime.handle = *handle;
  slot.runtime.client = std::make_unique<ShipClient>(io_, handle->endpoint);
  ReadinessBudget budget{settings_.ready_timeout, settings_.probe_budget, settings_.meta_budget};
  auto never = [] { return false; };
  auto meta = co_await wait_runtime_ready(*slot.runtime.client, driver_, *handle, budget, "",
                                          std::move(never));
  if (!meta) {
    co_await discard(std::move(slot), true);
    co_return std::move(meta).error();
  }
  slot.runtime.meta = std::move(*meta);
  // One silent cell (no execution_count, no history) through Ship's exec path and the
  // connection the client keeps: it proves the kernel works, and the claim's bind and
  // first call then meet a warm Ship, kernel and connection.
  json::object cell{{"code", "None"}, {"silent", true}, {"timeout", 30}};
  auto warmed = co_await slot.runtime.client->request_json(
      boost::beast::http::verb::post, "/ipython/exec", std::move(cell),
      SteadyClock::now() + settings_.ready_timeout, 1 << 20);
  const bool cell_ok = warmed && warmed->status == 200 && warmed->body.contains("success") &&
                       warmed->body.at("success") == true;
  if (!cell_ok) {
    Error e(ErrorCode::kUpstream, "The warm runtime's kernel did not run a cell");
    e.context =
        warmed ? "ipython/exec answered " + std::to_string(warmed->status) : warmed.error().context;
    co_await discard(std::move(slot), true);
    co_return e;
  }
  co_return slot;
}

std::optional<WarmSlot> WarmPool::claim(const std::string& profile_id) {
  auto it = ready_.find(profile_id);
  std::optional<WarmSlot> out;
  while (it != ready_.end() && !it->second.empty() && !out) {
    WarmSlot slot = std::move(it->second.front());
    it->second.pop_front();
    if (driver_.alive(slot.runtime.handle)) {
      out = std::move(slot);
    } else {
      spdlog::warn("warm pool {}: runtime {} died while waiting", profile_id,
                   slot.runtime.session_id);
      asio::co_spawn(io_, discard(std::move(slot), true), asio::detached);
    }
  }
  top_up_soon();
  return out;
}

asio::awaitable<Status> WarmPool::bind(WarmSlot& slot, std::string sandbox_id) {
  json::object env{{"BAY_SANDBOX_ID", sandbox_id}};
  json::object body{{"env", std::move(env)}};
  auto r = co_await slot.runtime.client->request_json(
      boost::beast::http::verb::post, "/internal/bind", std::move(body),
      SteadyClock::now() + settings_.meta_budget, 64 * 1024);
  if (!r) co_return std::move(r).error();
  if (r->status != 200) {
    Error e(ErrorCode::kUpstream, "The warm runtime refused to bind");
    e.context = "bind answered " + std::to_string(r->status);
    co_return e;
  }
  co_return Status{};
}

asio::awaitable<void> WarmPool::discard(WarmSlot slot, bool with_storage) {
  if (slot.runtime.client) slot.runtime.client->reset();
  if (!slot.runtime.handle.runtime_id.empty()) {
    if (auto d = co_await driver_.destroy(slot.runtime.handle); !d) {
      spdlog::warn("destroying warm runtime {}: {}", slot.runtime.session_id, d.error().context);
    }
  }
  sessions_.release_session_id(slot.runtime.session_id);
  if (with_storage && !slot.cargo.storage_path.empty()) {
    if (auto d = co_await driver_.delete_cargo_storage(slot.cargo.storage_path); !d) {
      spdlog::warn("removing warm storage {}: {}", slot.cargo.storage_path, d.error().context);
    }
  }
}

std::size_t WarmPool::ready(const std::string& profile_id) const {
  auto it = ready_.find(profile_id);
  return it == ready_.end() ? 0 : it->second.size();
}

}  // namespace shipyard::bay
