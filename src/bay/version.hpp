#pragma once

namespace shipyard::bay {

// Bay's semver (GET /health).
inline constexpr const char* kBayVersion = "0.3.1";

}  // namespace shipyard::bay
