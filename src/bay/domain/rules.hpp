// Pure request rules of the v1 API: identifiers, workspace paths (§8.2), tags (§11.1)
// and the error values the API promises (§2.5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace shipyard::bay {

// "<prefix><12 lowercase hex>" from the CSPRNG, e.g. new_id("sandbox-").
std::string new_id(std::string_view prefix);

// Validates and normalises a workspace path (§8.2): empty → empty_path, NUL →
// null_byte, leading '/' → absolute_path, climbing above the root → path_traversal.
// Returns the normalised relative path ("." for the root).
Result<std::string> normalize_workspace_path(std::string_view raw, std::string_view field);

// Splits on ',', trims, drops empty parts, de-duplicates, sorts, joins with ','; nullopt
// when nothing remains (§11.1).
std::optional<std::string> normalize_tags(std::string_view raw);

// Errors of the v1 vocabulary, built in one place so messages and details stay exact.
Error not_found(std::string_view resource, std::string_view id);
Error validation_error(std::string message);
Error invalid_path(std::string_view field, std::string_view reason, std::string message = {});
Error capability_not_supported(std::string_view profile, std::string_view capability,
                               const std::vector<std::string>& available);
Error conflict(std::string message, boost::json::object details = {});
// 429 quota_exceeded, details {"resource", "limit"}.
Error quota_exceeded(std::string_view resource, std::int64_t limit, std::string message);

}  // namespace shipyard::bay
