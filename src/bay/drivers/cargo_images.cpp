#include "bay/drivers/cargo_images.hpp"

#include <fcntl.h>
#include <linux/loop.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/strings.hpp"
#include "common/unique_fd.hpp"

extern char** environ;

namespace shipyard::bay {
namespace {

constexpr const char* kImagesDir = ".images";

// Runs a tool to completion, returning its stderr on failure. Only ever called from the
// driver's blocking pool.
Status run_tool(std::vector<std::string> argv) {
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return system_error("pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(err[1]);
  std::string text;
  char buf[2048];
  ssize_t n;
  while ((n = ::read(err[0], buf, sizeof buf)) > 0 && text.size() < 16384) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(err[0]);
  if (rc != 0) return system_error(argv[0], rc);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Error e(ErrorCode::kInternal, argv[0] + " failed");
    e.context = argv[0] + ": " + std::string(trim(text));
    return e;
  }
  return {};
}

bool is_mounted(const std::string& dir, const std::string& parent) {
  struct stat a {
  }, b{};
  if (::stat(dir.c_str(), &a) != 0 || ::stat(parent.c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

struct Loop {
  std::string device;
  // Must stay open until the mount holds the device: with autoclear, closing the last
  // reference of an unmounted loop device detaches it.
  UniqueFd fd;
};

// Attaches `image` to a free loop device that detaches itself when unmounted.
Result<Loop> attach_loop(const std::string& image) {
  UniqueFd file(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!file) return system_error("open " + image, errno);
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control) return system_error("open /dev/loop-control", errno);
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return system_error("LOOP_CTL_GET_FREE", errno);
    std::string dev = "/dev/loop" + std::to_string(n);
    UniqueFd loop(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop) return system_error("open " + dev, errno);
    loop_config cfg{};
    cfg.fd = static_cast<__u32>(file.get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    if (::ioctl(loop.get(), LOOP_CONFIGURE, &cfg) == 0) return Loop{dev, std::move(loop)};
    // Direct I/O needs aligned backing storage; fall back to buffered I/O.
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (::ioctl(loop.get(), LOOP_CONFIGURE, &cfg) == 0) return Loop{dev, std::move(loop)};
    if (errno != EBUSY) return system_error("LOOP_CONFIGURE " + dev, errno);
    // Another process took that device between GET_FREE and CONFIGURE: try again.
  }
  return Error(ErrorCode::kInternal, "no free loop device");
}

}  // namespace

Result<CargoImages> CargoImages::set_up(const std::string& mode, const std::string& cargo_root,
                                        bool root) {
  CargoImages c;
  c.root_ = cargo_root;
  if (mode == "off") {
    c.description_ = "cargo size limits: off (configuration)";
    return c;
  }
  std::string why;
  if (!root) {
    why = "Bay is not root";
  } else if (::access("/sbin/mkfs.ext4", X_OK) != 0 && ::access("/usr/sbin/mkfs.ext4", X_OK) != 0) {
    why = "mkfs.ext4 is missing";
  } else if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    why = "no /dev/loop-control";
  }
  if (!why.empty()) {
    if (mode == "image") {
      Error e(ErrorCode::kInternal, "cargo size limits unavailable: " + why);
      e.context = e.message;
      return e;
    }
    c.description_ = "cargo size limits: NOT enforced (" + why + ")";
    return c;
  }
  std::string images = cargo_root + "/" + kImagesDir;
  if (::mkdir(images.c_str(), 0700) != 0 && errno != EEXIST) {
    return system_error("mkdir " + images, errno);
  }
  ::chmod(images.c_str(), 0700);
  c.enabled_ = true;
  c.description_ = "cargo size limits: one ext4 image per cargo (" + images + ")";
  return c;
}

std::string CargoImages::image_path(const std::string& cargo_id) const {
  return root_ + "/" + kImagesDir + "/" + cargo_id + ".img";
}

Status CargoImages::create(const std::string& cargo_id, std::uint32_t uid,
                           std::int64_t limit_mb) const {
  if (!enabled_) return {};
  std::string image = image_path(cargo_id);
  {
    UniqueFd fd(::open(image.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    if (!fd) return system_error("create " + image, errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(limit_mb) << 20) != 0) {
      int err = errno;
      ::unlink(image.c_str());
      return system_error("size " + image, err);
    }
  }
  // No reserved blocks (the whole limit is the user's); lazy init keeps formatting fast
  // and the sparse image small.
  auto s = run_tool({"mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                     "root_owner=" + std::to_string(uid) + ":" + std::to_string(uid) +
                         ",lazy_itable_init=1,lazy_journal_init=1",
                     image});
  if (!s) ::unlink(image.c_str());
  return s;
}

Status CargoImages::ensure_mounted(const std::string& cargo_id) const {
  if (!enabled_) return {};
  std::string dir = root_ + "/" + cargo_id;
  std::string image = image_path(cargo_id);
  std::lock_guard lock(mount_mutex_);
  if (is_mounted(dir, root_)) return {};
  if (::access(image.c_str(), F_OK) != 0) return {};  // a cargo from before limits: unlimited
  auto loop = attach_loop(image);
  if (!loop) return std::move(loop).error().with_context("mounting cargo " + cargo_id);
  if (::mount(loop->device.c_str(), dir.c_str(), "ext4", MS_NOATIME | MS_NOSUID | MS_NODEV, "") !=
      0) {
    // Closing loop->fd now detaches the unused device (autoclear).
    return system_error("mount " + image + " on " + dir, errno);
  }
  // mkfs leaves a root-owned lost+found in the user's workspace; it is optional.
  std::string lost = dir + "/lost+found";
  ::rmdir(lost.c_str());
  return {};
}

Status CargoImages::remove(const std::string& cargo_id) const {
  if (!enabled_) return {};
  std::string dir = root_ + "/" + cargo_id;
  {
    std::lock_guard lock(mount_mutex_);
    // A session still holding the mount keeps it alive until it ends (lazy detach).
    while (is_mounted(dir, root_)) {
      if (::umount2(dir.c_str(), MNT_DETACH) != 0) {
        if (errno == EINVAL || errno == ENOENT) break;
        return system_error("umount " + dir, errno);
      }
    }
  }
  std::string image = image_path(cargo_id);
  if (::unlink(image.c_str()) != 0 && errno != ENOENT)
    return system_error("unlink " + image, errno);
  return {};
}

}  // namespace shipyard::bay
