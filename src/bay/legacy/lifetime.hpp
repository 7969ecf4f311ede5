// The lifetime model of legacy ships (legacy-api.md §6) as pure functions over plain data:
// sliding per-session expiries, the ship expiry derived from them, extend-ttl and stop at
// expiry. No I/O and no clock of their own: every function takes `now`.
#pragma once

#include <cstdint>
#include <vector>

#include "bay/store/legacy_store.hpp"

namespace shipyard::bay::legacy {

// now + ttl seconds, saturated at 9999-12-31T23:59:59Z: any int > 0 is a valid ttl (§5),
// and a huge one must neither overflow the microsecond clock nor print a 5-digit year.
TimePoint expiry_after(TimePoint now, std::int64_t ttl);

// A session attached (or restored) with `ttl`: expiry now + ttl, initial TTL ttl.
void attach_session(LegacySession& s, std::int64_t ttl, TimePoint now);

// A successful exec, upload or download by the session: expiry now + its initial TTL.
void refresh_session(LegacySession& s, TimePoint now);

// expires_at = max(current expires_at, max over `sessions` of their expiry); ttl = whole
// seconds from now until expires_at (0 once past). `sessions` are the ship's sessions.
void recompute_expiry(LegacyShip& ship, const std::vector<const LegacySession*>& sessions,
                      TimePoint now);

// POST /ship/{id}/extend-ttl: ttl = N, expires_at = now + N (may also shorten it).
void extend_ttl(LegacyShip& ship, std::int64_t ttl, TimePoint now);

// Whether a running ship has reached its expiry (now >= expires_at).
bool is_expired(const LegacyShip& ship, TimePoint now);

// Stop at expiry: status 0, expires_at null. Sessions stay attached.
void mark_stopped(LegacyShip& ship, TimePoint now);

// Whole seconds from `now` until `t` (rounded down, never negative).
std::int64_t seconds_until(TimePoint t, TimePoint now);

}  // namespace shipyard::bay::legacy
