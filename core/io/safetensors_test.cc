#include "core/io/safetensors.h"

#include <cstring>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using ::transmla::testing::MakeTempDir;

// A safetensors file from a header text and a data section.
std::string FileBytes(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\x01');
}

absl::Status OpenBytes(const std::string& bytes) {
  const std::filesystem::path path = MakeTempDir("st") / "model.safetensors";
  std::ofstream(path, std::ios::binary) << bytes;
  return SafetensorsFile::Open(path).status();
}

void ExpectRejected(const std::string& bytes, const std::string& fragment) {
  const absl::Status s = OpenBytes(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(SafetensorsTest, ReadsTheBundledModelZeroCopy) {
  absl::StatusOr<SafetensorsFile> f = SafetensorsFile::Open(transmla::testing::BundledModelDir());
  ASSERT_TRUE(f.ok()) << f.status();
  const TensorView* embed = f->Find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::kF32);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(f->Names().size(), 47u);  // embed + final norm + 5 layers x 9
  EXPECT_EQ(f->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, RejectsTruncatedFile) { ExpectRejected("abc", "truncated"); }

TEST(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  std::string bytes = FileBytes("{}", 0);
  const uint64_t n = 1000;
  std::memcpy(bytes.data(), &n, 8);
  ExpectRejected(bytes, "beyond the file");
}

TEST(SafetensorsTest, RejectsInvalidJson) { ExpectRejected(FileBytes("{\"a\": [1, 2", 0), "not valid JSON"); }

TEST(SafetensorsTest, RejectsUnknownDtype) {
  ExpectRejected(FileBytes(R"({"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}})", 1), "Q4");
}

TEST(SafetensorsTest, RejectsOffsetsOutOfRange) {
  ExpectRejected(FileBytes(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8), "beyond the data");
  ExpectRejected(FileBytes(R"({"t": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 8), "begin");
}

TEST(SafetensorsTest, RejectsBytesNotMatchingShapeTimesDtype) {
  ExpectRejected(FileBytes(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8), "do not match");
}

TEST(SafetensorsTest, RejectsOverlappingTensors) {
  ExpectRejected(FileBytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                           12),
                 "overlap");
}

TEST(SafetensorsTest, RejectsDuplicateNames) {
  ExpectRejected(FileBytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                               "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                           8),
                 "duplicate");
}

TEST(SafetensorsTest, WriterRoundTripsSingleFileAligned) {
  const std::filesystem::path dir = MakeTempDir("writer");
  std::vector<TensorSpec> specs = {{"a", DType::kF32, {2, 3}}, {"b", DType::kBF16, {5}}, {"c", DType::kF16, {1}}};
  SafetensorsWriterOptions options;
  options.metadata = {{"format", "pt"}, {"who", "test"}};
  auto writer = SafetensorsWriter::Create(dir, specs, options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const float a[6] = {1, 2, 3, 4, 5, 6}, b[5] = {0.5f, -1, 2, 1e-3f, 7}, c[1] = {3.5f};
  ASSERT_TRUE((*writer)->WriteFloats("c", c, 1).ok());  // any order
  ASSERT_TRUE((*writer)->WriteFloats("a", a, 6).ok());
  ASSERT_TRUE((*writer)->WriteFloats("b", b, 5).ok());
  auto files = (*writer)->Commit();
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ(files->front().filename(), "model.safetensors");

  std::ifstream in(files->front(), std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u) << "data section not 8-byte aligned";

  absl::StatusOr<SafetensorsFile> f = SafetensorsFile::Open(dir);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->metadata().at("who"), "test");
  std::vector<float> got;
  ASSERT_TRUE(ConvertToFloat(*f->Find("a"), &got).ok());
  EXPECT_EQ(got, std::vector<float>(a, a + 6));
  ASSERT_TRUE(ConvertToFloat(*f->Find("b"), &got).ok());
  EXPECT_EQ(got[1], -1.0f);
  EXPECT_NEAR(got[3], 1e-3f, 1e-5f);
}

TEST(SafetensorsTest, WriterShardsWithIndex) {
  const std::filesystem::path dir = MakeTempDir("shards");
  std::vector<TensorSpec> specs;
  for (int i = 0; i < 5; ++i) specs.push_back({"t" + std::to_string(i), DType::kF32, {256}});
  SafetensorsWriterOptions options;
  options.max_shard_bytes = 2048;  // two tensors per shard
  auto writer = SafetensorsWriter::Create(dir, specs, options);
  ASSERT_TRUE(writer.ok());
  std::vector<float> v(256);
  for (int i = 0; i < 5; ++i) {
    std::fill(v.begin(), v.end(), static_cast<float>(i));
    ASSERT_TRUE((*writer)->WriteFloats("t" + std::to_string(i), v.data(), v.size()).ok());
  }
  auto files = (*writer)->Commit();
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 4u);  // 3 shards + index
  EXPECT_TRUE(std::filesystem::exists(dir / "model-00003-of-00003.safetensors"));
  absl::StatusOr<SafetensorsFile> f = SafetensorsFile::Open(dir);
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<float> got;
  ASSERT_TRUE(ConvertToFloat(*f->Find("t4"), &got).ok());
  EXPECT_EQ(got[0], 4.0f);
}

TEST(SafetensorsTest, WriterLeavesNothingWithoutCommitAndChecksWrites) {
  const std::filesystem::path dir = MakeTempDir("abandon");
  {
    auto writer = SafetensorsWriter::Create(dir, {{"a", DType::kF32, {2}}});
    ASSERT_TRUE(writer.ok());
    const float v[3] = {1, 2, 3};
    EXPECT_EQ((*writer)->WriteFloats("a", v, 3).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE((*writer)->WriteFloats("a", v, 2).ok());
    EXPECT_EQ((*writer)->WriteFloats("a", v, 2).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ((*writer)->WriteFloats("zzz", v, 2).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  auto incomplete = SafetensorsWriter::Create(dir, {{"a", DType::kF32, {2}}, {"b", DType::kF32, {2}}});
  ASSERT_TRUE(incomplete.ok());
  EXPECT_EQ((*incomplete)->Commit().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SafetensorsTest, IndexNamingAMissingTensorIsRejected) {
  const std::filesystem::path dir = MakeTempDir("badindex");
  auto writer = SafetensorsWriter::Create(dir, {{"a", DType::kF32, {1}}});
  const float v = 1;
  ASSERT_TRUE((*writer)->WriteFloats("a", &v, 1).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  std::filesystem::rename(dir / "model.safetensors", dir / "shard.safetensors");
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"a": "shard.safetensors", "b": "shard.safetensors"}})";
  const absl::Status s = SafetensorsFile::Open(dir).status();
  EXPECT_NE(s.message().find("tensor b is not in its shard"), std::string::npos) << s;
}

}  // namespace
}  // namespace transmla
