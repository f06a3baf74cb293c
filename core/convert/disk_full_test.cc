// Conversion onto a full disk: a small tmpfs (mounting needs root, which CI has).
#include <sys/mount.h>

#include "core/convert/converter.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::convert {
namespace {

class SmallDisk {
 public:
  explicit SmallDisk(const std::filesystem::path& dir) : dir_(dir) {
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount(dir_.c_str());
  }
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST(DiskFullTest, ConversionFailsCleanlyAndLeavesNothing) {
  const std::filesystem::path dir = transmla::testing::MakeTempDir("full");
  SmallDisk disk(dir);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a 256 KiB tmpfs here (needs root); disk-full path not exercised";
  ConversionOptions options;
  options.mode = Mode::kExact;
  const absl::Status status = ConvertModel(transmla::testing::BundledModelDir(), dir / "mla", options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find("disk full"), std::string::npos) << status;
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a partial output was left on the full disk";
}

}  // namespace
}  // namespace transmla::convert
