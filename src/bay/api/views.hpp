// JSON renderings of Bay's objects (bay-api-v1.md §5.4, §6.1, §11.1).
#pragma once

#include <optional>

#include "bay/config/config.hpp"
#include "bay/domain/model.hpp"
#include "bay/domain/sandbox_service.hpp"
#include "common/json.hpp"

namespace shipyard::bay {

json::value timestamp_or_null(const std::optional<TimePoint>& t);
json::object sandbox_json(const SandboxState& s, std::optional<json::array> containers);
json::object execution_json(const Execution& e);
json::object cargo_json(const Cargo& c);
json::object profile_json(const Profile& p, bool detail);
// The profile's capabilities that a Ship serves, sorted (containers[].capabilities).
json::array ship_capabilities(const Profile& p);

}  // namespace shipyard::bay
