// Cargos (bay-api-v1.md §10): persistent /workspace storage, managed (created and
// deleted with its sandbox) or external (created here, shared, deleted explicitly).
// Threading: Bay's I/O executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/keyed_lock.hpp"
#include "bay/drivers/driver.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

struct CargoPage {
  std::vector<Cargo> items;
  std::optional<std::string> next_cursor;
};

class CargoService {
 public:
  CargoService(Store& store, Driver& driver, const BayConfig& config, const Clock& clock);

  // An external cargo; size_limit_mb defaults to cargo.default_size_limit_mb.
  boost::asio::awaitable<Result<Cargo>> create(std::string owner,
                                               std::optional<std::int64_t> size_limit_mb);
  boost::asio::awaitable<Result<Cargo>> get(std::string owner, std::string id);
  boost::asio::awaitable<Result<CargoPage>> list(std::string owner, bool managed,
                                                 std::int64_t limit,
                                                 std::optional<std::string> cursor);
  // §10.5: 409 while referenced (external) or while its sandbox lives (managed).
  boost::asio::awaitable<Status> remove(std::string owner, std::string id);
  // Deletes a cargo's storage and record unconditionally (GC of orphans).
  boost::asio::awaitable<Status> destroy(const Cargo& cargo);

 private:
  Store& store_;
  Driver& driver_;
  const BayConfig& config_;
  const Clock& clock_;
  KeyedLock quota_lock_;  // by owner, while max_cargos_per_owner is set
};

}  // namespace shipyard::bay
