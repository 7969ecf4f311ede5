#include "bay/legacy/lifetime.hpp"

#include <algorithm>
#include <chrono>

#include "bay/domain/clock.hpp"

namespace shipyard::bay::legacy {

TimePoint expiry_after(TimePoint now, std::int64_t ttl) { return add_seconds_capped(now, ttl); }

void attach_session(LegacySession& s, std::int64_t ttl, TimePoint now) {
  s.initial_ttl = ttl;
  s.expires_at = expiry_after(now, ttl);
  s.last_activity = now;
}

void refresh_session(LegacySession& s, TimePoint now) {
  s.expires_at = expiry_after(now, s.initial_ttl);
  s.last_activity = now;
}

std::int64_t seconds_until(TimePoint t, TimePoint now) {
  if (t <= now) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(t - now).count();
}

void recompute_expiry(LegacyShip& ship, const std::vector<const LegacySession*>& sessions,
                      TimePoint now) {
  std::optional<TimePoint> latest = ship.expires_at;
  for (const auto* s : sessions) {
    if (!latest || s->expires_at > *latest) latest = s->expires_at;
  }
  if (latest != ship.expires_at) ship.updated_at = now;
  ship.expires_at = latest;
  std::int64_t ttl = latest ? seconds_until(*latest, now) : 0;
  if (ttl != ship.ttl) ship.updated_at = now;
  ship.ttl = ttl;
}

void extend_ttl(LegacyShip& ship, std::int64_t ttl, TimePoint now) {
  ship.ttl = ttl;
  ship.expires_at = expiry_after(now, ttl);
  ship.updated_at = now;
}

bool is_expired(const LegacyShip& ship, TimePoint now) {
  return ship.status == 1 && ship.expires_at && now >= *ship.expires_at;
}

void mark_stopped(LegacyShip& ship, TimePoint now) {
  ship.status = 0;
  ship.expires_at.reset();
  ship.updated_at = now;
}

}  // namespace shipyard::bay::legacy
