// The one mapping from the error vocabulary to the v1 error envelope
// (bay-api-v1.md §2.5, §2.6).
#pragma once

#include "common/error.hpp"
#include "common/http/server.hpp"

namespace shipyard::bay {

http::bhttp::status v1_status(ErrorCode code);
std::string_view v1_code(ErrorCode code);
http::Response v1_error_response(const Error& e, const http::Exchange& ex);

// The server's ErrorResponder (errors the server raises itself: unknown route, wrong
// method, malformed request): the legacy {"detail"} shape on legacy paths while the legacy
// API is enabled (legacy_errors.hpp), the v1 envelope everywhere else.
http::Response error_response(const Error& e, const http::Exchange& ex, bool legacy_api);

// Assigns the exchange's request id (X-Request-Id or a fresh UUID4) and echoes it.
void assign_request_id(http::Exchange& ex);

}  // namespace shipyard::bay
