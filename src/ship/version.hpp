#pragma once

namespace shipyard::ship {

// The runtime's semver, reported by /health, /stat and /meta.
inline constexpr const char* kVersion = "0.3.1";

}  // namespace shipyard::ship
