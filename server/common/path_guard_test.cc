#include "server/common/path_guard.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::server {
namespace {
namespace fs = std::filesystem;

class PathGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::canonical(transmla::testing::MakeTempDir("path_guard"));
    fs::create_directories(base_ / "root" / "model");
    fs::create_directories(base_ / "other" / "secret");
    std::ofstream(base_ / "root" / "model" / "config.json") << "{}";
    fs::create_directory_symlink(base_ / "other" / "secret", base_ / "root" / "escape");
    fs::create_directory_symlink(base_ / "root" / "model", base_ / "root" / "alias");
    auto guard = PathGuard::Create({base_ / "root"});
    ASSERT_TRUE(guard.ok()) << guard.status();
    guard_.emplace(*std::move(guard));
  }
  void TearDown() override { fs::remove_all(base_); }

  fs::path base_;
  std::optional<PathGuard> guard_;
};

TEST_F(PathGuardTest, ResolvesRelativeAndAbsolutePathsInsideTheRoot) {
  auto relative = guard_->Resolve("source_model", "model");
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ(*relative, base_ / "root" / "model");
  auto absolute = guard_->Resolve("source_model", (base_ / "root" / "model" / "config.json").string());
  ASSERT_TRUE(absolute.ok()) << absolute.status();
  EXPECT_EQ(*absolute, base_ / "root" / "model" / "config.json");
}

TEST_F(PathGuardTest, FollowsSymlinksThatStayInside) {
  auto resolved = guard_->Resolve("source_model", "alias");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, base_ / "root" / "model");
}

TEST_F(PathGuardTest, RefusesDotDotWithInvalidArgumentNamingTheField) {
  for (const char* path : {"../other/secret", "model/../model", "model/../../other"}) {
    auto r = guard_->Resolve("source_model", path);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_NE(r.status().message().find("source_model"), std::string_view::npos);
  }
}

TEST_F(PathGuardTest, RefusesAbsolutePathsElsewhereWithPermissionDenied) {
  for (const std::string& path : {(base_ / "other" / "secret").string(), std::string("/etc/passwd"), std::string("/")}) {
    auto r = guard_->Resolve("calibration.text", path);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << path;
    EXPECT_NE(r.status().message().find("calibration.text"), std::string_view::npos);
  }
}

TEST_F(PathGuardTest, RefusesSymlinksLeadingOutWithPermissionDenied) {
  auto r = guard_->Resolve("source_model", "escape");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  auto absolute = guard_->Resolve("source_model", (base_ / "root" / "escape").string());
  EXPECT_EQ(absolute.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(PathGuardTest, MissingPathInsideRootIsNotFound) {
  EXPECT_EQ(guard_->Resolve("source_model", "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PathGuardTest, RefusesEmptyAndNulPaths) {
  EXPECT_EQ(guard_->Resolve("source_model", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(guard_->Resolve("source_model", std::string_view("mo\0del", 6)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PathGuardTest, TriesEveryRootInOrder) {
  fs::create_directories(base_ / "second" / "only_here");
  auto guard = PathGuard::Create({base_ / "root", base_ / "second"});
  ASSERT_TRUE(guard.ok());
  auto r = guard->Resolve("source_model", "only_here");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, base_ / "second" / "only_here");
}

TEST(PathGuardCreateTest, RefusesMissingRoot) {
  EXPECT_EQ(PathGuard::Create({"/nonexistent/transmla/root"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PathGuard::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IsWithinTest, ComparesWholeComponents) {
  EXPECT_TRUE(IsWithin("/a/b", "/a"));
  EXPECT_TRUE(IsWithin("/a", "/a"));
  EXPECT_FALSE(IsWithin("/ab", "/a"));
  EXPECT_FALSE(IsWithin("/", "/a"));
}

}  // namespace
}  // namespace transmla::server
