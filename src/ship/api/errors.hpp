// The one mapping from the error vocabulary to Ship's wire format (ship-api.md §2):
// {"detail": "<message>"} with the status below; schema violations (422) carry the
// list of violations as "detail".
#pragma once

#include "common/error.hpp"
#include "common/http/server.hpp"

namespace shipyard::ship {

http::bhttp::status ship_status(ErrorCode code);
http::Response ship_error_response(const Error& e);

}  // namespace shipyard::ship
