#include "bay/domain/cargo_service.hpp"

#include <spdlog/spdlog.h>

#include "bay/domain/rules.hpp"
#include "bay/domain/sandbox_service.hpp"
#include "common/json.hpp"

namespace shipyard::bay {
namespace asio = boost::asio;

CargoService::CargoService(Store& store, Driver& driver, const BayConfig& config,
                           const Clock& clock)
    : store_(store), driver_(driver), config_(config), clock_(clock) {}

asio::awaitable<Result<Cargo>> CargoService::create(std::string owner,
                                                    std::optional<std::int64_t> size_limit_mb) {
  // As for sandboxes: count and insert atomically per owner.
  KeyedLock::Guard quota_guard;
  if (config_.max_cargos_per_owner > 0) {
    quota_guard = co_await quota_lock_.lock(owner);
    auto live = co_await store_.list_cargos(owner, /*managed=*/false, std::nullopt,
                                            config_.max_cargos_per_owner);
    if (!live) co_return std::move(live).error();
    if (static_cast<std::int64_t>(live->size()) >= config_.max_cargos_per_owner) {
      co_return quota_exceeded("cargos", config_.max_cargos_per_owner,
                               "Cargo quota exceeded: at most " +
                                   std::to_string(config_.max_cargos_per_owner) +
                                   " external cargos per owner; delete one and retry");
    }
  }
  const TimePoint now = clock_.now();
  Cargo c;
  c.id = new_id("ws-");
  c.owner = std::move(owner);
  c.managed = false;
  c.size_limit_mb = size_limit_mb.value_or(config_.cargo_default_size_limit_mb);
  c.created_at = now;
  c.last_accessed_at = now;
  auto uid = co_await store_.allocate_uid(config_.driver.process.uid_base);
  if (!uid) co_return std::move(uid).error();
  c.host_uid = *uid;
  auto path = co_await driver_.create_cargo_storage(c.id, c.host_uid, c.size_limit_mb);
  if (!path) co_return std::move(path).error().with_context("creating cargo " + c.id);
  c.storage_path = *path;
  auto s = co_await store_.create_cargo(c);
  if (!s) {
    auto d = co_await driver_.delete_cargo_storage(c.storage_path);
    if (!d) spdlog::error("removing storage of {}: {}", c.id, d.error().context);
    co_return std::move(s).error().with_context("creating cargo " + c.id);
  }
  spdlog::info("owner {}: created cargo {} ({} MiB)", c.owner, c.id, c.size_limit_mb);
  co_return c;
}

asio::awaitable<Result<Cargo>> CargoService::get(std::string owner, std::string id) {
  auto c = co_await store_.find_cargo(id);
  if (!c) co_return std::move(c).error();
  if (!*c || (*c)->owner != owner || (*c)->deleted_at) co_return not_found("cargo", id);
  co_return std::move(**c);
}

asio::awaitable<Result<CargoPage>> CargoService::list(std::string owner, bool managed,
                                                      std::int64_t limit,
                                                      std::optional<std::string> cursor) {
  std::optional<ListCursor> after;
  if (cursor) {
    after = decode_cursor("cargo", *cursor);
    if (!after) co_return validation_error("Invalid cursor");
  }
  auto rows = co_await store_.list_cargos(owner, managed, after, limit + 1);
  if (!rows) co_return std::move(rows).error();
  CargoPage page;
  bool more = static_cast<std::int64_t>(rows->size()) > limit;
  if (more) rows->pop_back();
  page.items = std::move(*rows);
  if (more && !page.items.empty()) {
    page.next_cursor =
        encode_cursor("cargo", ListCursor{page.items.back().created_at, page.items.back().id});
  }
  co_return page;
}

asio::awaitable<Status> CargoService::destroy(const Cargo& cargo) {
  auto s = co_await store_.delete_cargo(cargo.id, clock_.now());
  if (!s) co_return s;
  auto d = co_await driver_.delete_cargo_storage(cargo.storage_path);
  if (!d) {
    spdlog::error("removing storage of {}: {} ({})", cargo.id, d.error().message,
                  d.error().context);
  }
  spdlog::info("owner {}: deleted cargo {}", cargo.owner, cargo.id);
  co_return Status{};
}

asio::awaitable<Status> CargoService::remove(std::string owner, std::string id) {
  // No sandbox may bind the cargo between the check for users and the deletion.
  auto guard = co_await cargo_binding_lock().lock(id);
  auto cargo = co_await get(std::move(owner), std::move(id));
  if (!cargo) co_return std::move(cargo).error();
  auto users = co_await store_.cargo_users(cargo->id);
  if (!users) co_return std::move(users).error();
  if (cargo->managed) {
    if (!users->empty()) {
      json::object d{{"managed_by_sandbox_id", cargo->managed_by_sandbox_id.value_or("")}};
      co_return conflict("Cargo is managed by a live sandbox: " + cargo->id, std::move(d));
    }
  } else if (!users->empty()) {
    json::array ids;
    for (const auto& u : *users) ids.emplace_back(u);
    json::object d{{"active_sandbox_ids", std::move(ids)}};
    co_return conflict("Cargo is still used by live sandboxes: " + cargo->id, std::move(d));
  }
  co_return co_await destroy(*cargo);
}

}  // namespace shipyard::bay
