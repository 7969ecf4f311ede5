// Per-cargo filesystem images enforce size_limit_mb with ENOSPC (cargo_images.hpp).
#include "bay/drivers/cargo_images.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace shipyard::bay {
namespace {

class CargoImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (loop devices, mount)";
    char tmpl[] = "/tmp/cargo-images-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    if (root_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string root_;
};

// Writing past the limit fails with ENOSPC; removing files frees space; remove() unmounts.
TEST_F(CargoImagesTest, EnforcesLimit) {
  auto images = CargoImages::set_up("image", root_, true);
  ASSERT_TRUE(images.ok()) << images.error().message;
  ASSERT_TRUE(images->enabled());
  std::string dir = root_ + "/ws-test";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(images->create("ws-test", 200123, 8).ok());
  ASSERT_TRUE(images->ensure_mounted("ws-test").ok());
  ASSERT_TRUE(images->ensure_mounted("ws-test").ok());  // idempotent: no second mount
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200123u);  // the filesystem root belongs to the cargo's uid
  EXPECT_FALSE(std::filesystem::exists(dir + "/lost+found"));
  int fd = ::open((dir + "/big").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  std::vector<char> mb(1 << 20, 'x');
  int err = 0;
  for (int i = 0; i < 16 && err == 0; ++i) {
    if (::write(fd, mb.data(), mb.size()) < 0) err = errno;
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  EXPECT_EQ(err, ENOSPC);
  ASSERT_EQ(::unlink((dir + "/big").c_str()), 0);
  fd = ::open((dir + "/small").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(::write(fd, "ok", 2), 2);
  ::close(fd);
  ASSERT_TRUE(images->remove("ws-test").ok());
  struct stat a {
  }, b{};
  ::stat(dir.c_str(), &a);
  ::stat(root_.c_str(), &b);
  EXPECT_EQ(a.st_dev, b.st_dev);  // unmounted
  EXPECT_FALSE(std::filesystem::exists(root_ + "/.images/ws-test.img"));
}

// A cargo without an image (created before limits were on) is used as is.
TEST_F(CargoImagesTest, LegacyDirectoryUntouched) {
  auto images = CargoImages::set_up("auto", root_, true);
  ASSERT_TRUE(images.ok());
  std::string dir = root_ + "/ws-old";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(images->ensure_mounted("ws-old").ok());
  struct stat a {
  }, b{};
  ::stat(dir.c_str(), &a);
  ::stat(root_.c_str(), &b);
  EXPECT_EQ(a.st_dev, b.st_dev);
}

// "off" disables everything; "image" without root is an error, "auto" degrades.
TEST_F(CargoImagesTest, Modes) {
  auto off = CargoImages::set_up("off", root_, true);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled());
  EXPECT_FALSE(CargoImages::set_up("image", root_, false).ok());
  auto degraded = CargoImages::set_up("auto", root_, false);
  ASSERT_TRUE(degraded.ok());
  EXPECT_FALSE(degraded->enabled());
  EXPECT_NE(degraded->describe().find("NOT enforced"), std::string::npos);
}

}  // namespace
}  // namespace shipyard::bay
