// The legacy lifetime rules (legacy-api.md §6) on plain data with injected times.
#include "bay/legacy/lifetime.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace shipyard::bay::legacy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0{Micros(1'770'000'000'000'000)};

LegacyShip running_ship(std::int64_t ttl, TimePoint now) {
  LegacyShip s;
  s.id = "sandbox-000000000001";
  s.status = 1;
  s.ttl = ttl;
  s.expires_at = now + seconds(ttl);
  s.created_at = s.updated_at = now;
  return s;
}

// Attaching sets the session's expiry to now + ttl and remembers ttl as its initial TTL.
TEST(LegacyLifetime, AttachSetsExpiryAndInitialTtl) {
  LegacySession s;
  attach_session(s, 600, kT0);
  EXPECT_EQ(s.initial_ttl, 600);
  EXPECT_EQ(s.expires_at, kT0 + seconds(600));
  EXPECT_EQ(s.last_activity, kT0);
}

// A successful operation slides the session's expiry by its initial TTL from now.
TEST(LegacyLifetime, RefreshSlidesByInitialTtl) {
  LegacySession s;
  attach_session(s, 60, kT0);
  refresh_session(s, kT0 + seconds(50));
  EXPECT_EQ(s.expires_at, kT0 + seconds(110));
  EXPECT_EQ(s.last_activity, kT0 + seconds(50));
}

// The ship expiry is the latest of its own and its sessions' expiries; ttl counts the
// whole seconds left from now.
TEST(LegacyLifetime, RecomputeTakesTheLatestExpiry) {
  LegacyShip ship = running_ship(100, kT0);
  LegacySession a, b;
  attach_session(a, 100, kT0);
  attach_session(b, 300, kT0 + seconds(10));
  const TimePoint now = kT0 + seconds(10) + milliseconds(400);
  recompute_expiry(ship, {&a, &b}, now);
  EXPECT_EQ(ship.expires_at, kT0 + seconds(310));
  EXPECT_EQ(ship.ttl, 299);  // 299.6 s left, rounded down
  EXPECT_EQ(ship.updated_at, now);
}

// Recomputing never moves the ship expiry earlier (e.g. after a longer extend-ttl).
TEST(LegacyLifetime, RecomputeNeverShortens) {
  LegacyShip ship = running_ship(1000, kT0);
  LegacySession a;
  attach_session(a, 10, kT0 + seconds(5));
  recompute_expiry(ship, {&a}, kT0 + seconds(5));
  EXPECT_EQ(ship.expires_at, kT0 + seconds(1000));
  EXPECT_EQ(ship.ttl, 995);
}

// extend-ttl sets ttl and expires_at = now + ttl exactly, shortening if asked to.
TEST(LegacyLifetime, ExtendSetsExactly) {
  LegacyShip ship = running_ship(1000, kT0);
  extend_ttl(ship, 30, kT0 + seconds(100));
  EXPECT_EQ(ship.ttl, 30);
  EXPECT_EQ(ship.expires_at, kT0 + seconds(130));
  EXPECT_EQ(ship.updated_at, kT0 + seconds(100));
}

// A running ship is expired from the instant now reaches expires_at; a stopped one never.
TEST(LegacyLifetime, ExpiryBoundary) {
  LegacyShip ship = running_ship(60, kT0);
  EXPECT_FALSE(is_expired(ship, kT0 + seconds(60) - Micros(1)));
  EXPECT_TRUE(is_expired(ship, kT0 + seconds(60)));
  mark_stopped(ship, kT0 + seconds(60));
  EXPECT_EQ(ship.status, 0);
  EXPECT_FALSE(ship.expires_at);
  EXPECT_FALSE(is_expired(ship, kT0 + seconds(600)));
}

// Any ttl > 0 is valid: a huge one saturates the expiry at the end of year 9999 instead of
// overflowing the clock (which would put the expiry in the past and stop the ship at once).
TEST(LegacyLifetime, HugeTtlSaturates) {
  const TimePoint kLatest{seconds(253'402'300'799)};
  EXPECT_EQ(expiry_after(kT0, 600), kT0 + seconds(600));
  EXPECT_EQ(expiry_after(kT0, std::numeric_limits<std::int64_t>::max()), kLatest);
  EXPECT_EQ(expiry_after(kT0, 10'000'000'000'000), kLatest);
  LegacyShip ship = running_ship(60, kT0);
  extend_ttl(ship, std::numeric_limits<std::int64_t>::max(), kT0);
  EXPECT_EQ(ship.ttl, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(ship.expires_at, kLatest);
  EXPECT_FALSE(is_expired(ship, kT0 + seconds(3600)));
  LegacySession s;
  attach_session(s, std::numeric_limits<std::int64_t>::max(), kT0);
  refresh_session(s, kT0 + seconds(1));
  EXPECT_EQ(s.expires_at, kLatest);
}

// Whole seconds until a time are rounded down and never negative.
TEST(LegacyLifetime, SecondsUntil) {
  EXPECT_EQ(seconds_until(kT0 + milliseconds(1999), kT0), 1);
  EXPECT_EQ(seconds_until(kT0, kT0 + seconds(5)), 0);
}

}  // namespace
}  // namespace shipyard::bay::legacy
