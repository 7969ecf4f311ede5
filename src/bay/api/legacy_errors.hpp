// The one mapping from the error vocabulary to the legacy /ship API's error shape
// (legacy-api.md §10): {"detail": "<message>"}, or {"detail": [...]} for schema errors.
// Legacy handlers answer through it, and so does the server for errors it generates itself
// (unknown route, wrong method, malformed request) on legacy paths (errors.hpp).
#pragma once

#include <string_view>

#include "common/error.hpp"
#include "common/http/server.hpp"

namespace shipyard::bay {

http::bhttp::status legacy_status(ErrorCode code);
http::Response legacy_error_response(const Error& e, const http::Exchange& ex);

// Whether `path` belongs to the legacy API: /, /stat, /ships, /ship and /ship/...
// (/health is shared with v1 and never fails).
bool is_legacy_path(std::string_view path);

}  // namespace shipyard::bay
