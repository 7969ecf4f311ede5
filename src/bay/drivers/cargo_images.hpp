// Per-cargo size limits (bay-api-v1.md §10.1 size_limit_mb) enforced by giving every cargo
// its own small ext4 filesystem: a sparse image of size_limit_mb under
// <cargo_root>/.images/, loop-mounted on the cargo directory. Writes past the limit fail
// inside the sandbox with ENOSPC ("No space left on device"); nothing else on the host
// is affected, and the sandbox (which cannot unmount or resize anything) cannot lift it.
//
// Why images rather than quotas: directory quotas (XFS/ext4 project quotas) need a kernel
// built with quota support, which this project cannot assume (the reference host has
// none). Images cost ~20 ms to format at cargo creation and ~40 ms to mount the first
// time a session uses the cargo; the mount then stays until the cargo is deleted.
//
// A cargo directory that already holds files but has no image (created before limits
// were enabled) is used as is, without a limit.
//
// Blocking: call from the driver's pool. Thread-safe (mounts are serialised).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "common/error.hpp"

namespace shipyard::bay {

class CargoImages {
 public:
  // mode: "auto" (enabled when Bay is root and mkfs.ext4 exists), "image" (required),
  // "off". Errors only when required and impossible.
  static Result<CargoImages> set_up(const std::string& mode, const std::string& cargo_root,
                                    bool root);
  CargoImages() = default;
  CargoImages(CargoImages&& o) noexcept
      : root_(std::move(o.root_)), enabled_(o.enabled_), description_(std::move(o.description_)) {}
  CargoImages& operator=(CargoImages&& o) noexcept {
    root_ = std::move(o.root_);
    enabled_ = o.enabled_;
    description_ = std::move(o.description_);
    return *this;
  }

  bool enabled() const { return enabled_; }
  const std::string& describe() const { return description_; }

  // Creates and formats the image of a new cargo (its root directory owned by `uid`).
  Status create(const std::string& cargo_id, std::uint32_t uid, std::int64_t limit_mb) const;
  // Mounts the cargo's image on its directory unless it is mounted already.
  Status ensure_mounted(const std::string& cargo_id) const;
  // Unmounts (lazily if busy) and deletes the image. Missing pieces are not errors.
  Status remove(const std::string& cargo_id) const;

 private:
  std::string image_path(const std::string& cargo_id) const;

  std::string root_;
  bool enabled_ = false;
  std::string description_ = "cargo size limits: off";
  mutable std::mutex mount_mutex_;
};

}  // namespace shipyard::bay
