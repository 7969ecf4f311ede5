// Wall-clock time for Bay (injectable so tests control TTL and idle expiry) and the
// canonical timestamp format of bay-api-v1.md §2.3.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "bay/domain/model.hpp"

namespace shipyard::bay {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};

// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : us_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Micros(us_.load())); }
  void advance(Micros d) { us_ += d.count(); }

 private:
  std::atomic<std::int64_t> us_;
};

// "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"
std::string format_timestamp(TimePoint t);
// Parses the canonical format (also with 'Z', 0/3/6 fractional digits); nullopt if invalid.
std::optional<TimePoint> parse_timestamp(std::string_view s);

}  // namespace shipyard::bay
