#include "server/common/file_digest.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::server {
namespace {

TEST(FileDigestTest, MatchesFipsVectors) {
  EXPECT_EQ(Sha256OfBytes("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256OfBytes(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FileDigestTest, FileDigestEqualsBytesDigestAcrossBlockBoundaries) {
  const auto dir = transmla::testing::MakeTempDir("file_digest");
  std::string content((size_t{1} << 20) * 2 + 7, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 % 251);
  std::ofstream(dir / "blob", std::ios::binary) << content;
  auto digest = Sha256OfFile(dir / "blob");
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256OfBytes(content));
  EXPECT_EQ(Sha256OfFile(dir / "missing").status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace transmla::server
