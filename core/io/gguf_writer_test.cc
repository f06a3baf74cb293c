#include "core/io/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "core/io/gguf.h"
#include "core/util/half.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using Metadata = std::vector<std::pair<std::string, GgufValue>>;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Metadata EveryType() {
  GgufValue::Array nested;
  nested.push_back(GgufValue::StringArray({"▁a", "b c"}));
  nested.push_back(GgufValue::StringArray({}));
  return {
      {"general.architecture", GgufValue::String("deepseek2")},
      {"u8", GgufValue::Uint8(255)},
      {"i8", GgufValue::Int8(-128)},
      {"u16", GgufValue::Uint16(65535)},
      {"i16", GgufValue::Int16(-32768)},
      {"u32", GgufValue::Uint32(4294967295u)},
      {"i32", GgufValue::Int32(-2147483647 - 1)},
      {"u64", GgufValue::Uint64(~uint64_t{0})},
      {"i64", GgufValue::Int64(-(int64_t{1} << 62))},
      {"f32", GgufValue::Float32(1e-6f)},
      {"f64", GgufValue::Float64(0.1)},
      {"bool", GgufValue::Bool(true)},
      {"empty", GgufValue::String("")},
      {"tokens", GgufValue::StringArray({"<unk>", "<s>", "▁t", std::string("\0x", 2)})},
      {"scores", GgufValue::Float32Array({0.0f, -1.5f, 3.25f})},
      {"types", GgufValue::Int32Array({1, 3, 6})},
      {"f64s", GgufValue::ArrayOf(GgufType::kFloat64, {GgufValue::Float64(2.5)})},
      {"nested", GgufValue::ArrayOf(GgufType::kArray, std::move(nested))},
      {"no_ints", GgufValue::ArrayOf(GgufType::kUint32, {})},
  };
}

TEST(GgufWriterTest, RoundTripsMetadataOfEveryTypeAndTensors) {
  const std::filesystem::path path = transmla::testing::MakeTempDir("gguf_writer") / "out.gguf";
  std::vector<TensorSpec> specs = {{"a", DType::kF32, {3, 5}},   // 60 bytes: padded to 64
                                   {"b", DType::kF16, {7}},      // 14 bytes
                                   {"c", DType::kBF16, {2, 2, 3}},
                                   {"scalar", DType::kF32, {}}};
  auto writer = GgufWriter::Create(path, EveryType(), specs);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing at the final name until Commit
  std::vector<float> a(15), b(7), c(12);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.25f * static_cast<float>(i) - 1.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = 1.0f / static_cast<float>(i + 1);
  for (size_t i = 0; i < c.size(); ++i) c[i] = -3.0f * static_cast<float>(i);
  const float scalar = 42.0f;
  // Any order.
  ASSERT_TRUE((*writer)->WriteFloats("c", c.data(), c.size()).ok());
  ASSERT_TRUE((*writer)->Write("a", a.data(), a.size() * 4).ok());
  ASSERT_TRUE((*writer)->WriteFloats("scalar", &scalar, 1).ok());
  ASSERT_TRUE((*writer)->WriteFloats("b", b.data(), b.size()).ok());
  absl::StatusOr<std::filesystem::path> committed = (*writer)->Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(*committed, path);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path.parent_path()), {}), 1);  // no temp left

  absl::StatusOr<GgufFile> g = GgufFile::Open(path);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->alignment(), 32u);
  // Every value comes back with its type and content.
  const Metadata expected = EveryType();
  ASSERT_EQ(g->metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [key, value] = g->metadata()[i];
    EXPECT_EQ(key, expected[i].first);
    std::string want, got;
    ASSERT_TRUE(AppendGgufValue(key, expected[i].second, &want).ok());
    ASSERT_TRUE(AppendGgufValue(key, value, &got).ok());
    EXPECT_EQ(got, want) << key;
    EXPECT_EQ(value.type, expected[i].second.type) << key;
  }
  EXPECT_EQ(*g->GetInt("u32"), 4294967295);
  EXPECT_EQ(*g->GetInt("i8"), -128);
  EXPECT_FALSE(g->GetInt("u64").ok());  // beyond int64
  EXPECT_EQ(*g->GetFloat("f32"), static_cast<double>(1e-6f));
  EXPECT_EQ(*g->GetStringArray("tokens"),
            (std::vector<std::string>{"<unk>", "<s>", "▁t", std::string("\0x", 2)}));
  EXPECT_EQ(*g->GetFloatArray("scores"), (std::vector<double>{0.0, -1.5, 3.25}));
  EXPECT_EQ(*g->GetIntArray("types"), (std::vector<int64_t>{1, 3, 6}));
  EXPECT_TRUE(g->GetIntArray("no_ints")->empty());
  EXPECT_EQ(g->FindValue("no_ints")->element_type, GgufType::kUint32);
  const auto& nested = std::get<GgufValue::Array>(g->FindValue("nested")->value);
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(std::get<std::string>(std::get<GgufValue::Array>(nested[0].value)[0].value), "▁a");

  // Tensors: ggml ne reversed back to row-major, aligned, exact bytes.
  ASSERT_EQ(g->TensorNames(), (std::vector<std::string>{"a", "b", "c", "scalar"}));
  EXPECT_EQ(g->data_offset() % 32, 0u);
  for (const GgufTensorInfo& info : g->tensor_infos()) EXPECT_EQ(info.offset % 32, 0u) << info.name;
  EXPECT_EQ(g->tensor_infos()[1].offset, 64u);
  const TensorView va = *g->Tensor("a");
  EXPECT_EQ(va.shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(std::memcmp(va.data, a.data(), 60), 0);
  const TensorView vb = *g->Tensor("b");
  EXPECT_EQ(vb.dtype, DType::kF16);
  for (size_t i = 0; i < b.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, vb.data + 2 * i, 2);
    EXPECT_EQ(h, FloatToF16(b[i])) << i;
  }
  std::vector<float> vc;
  ASSERT_TRUE(ConvertToFloat(*g->Tensor("c"), &vc).ok());
  EXPECT_EQ(g->Tensor("c")->shape, (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(g->Tensor("c")->dtype, DType::kBF16);
  EXPECT_EQ(vc, c);  // small integers are exact in bfloat16
  std::vector<float> vs;
  ASSERT_TRUE(ConvertToFloat(*g->Tensor("scalar"), &vs).ok());
  EXPECT_EQ(vs, std::vector<float>{42.0f});
  // The file ends padded after its last tensor, as llama.cpp's writer leaves it.
  EXPECT_EQ(std::filesystem::file_size(path) % 32, 0u);
}

TEST(GgufWriterTest, RewritesStories260KByteForByte) {
  const std::filesystem::path source = transmla::testing::SharedDir() / "models" / "stories260K.gguf";
  absl::StatusOr<GgufFile> src = GgufFile::Open(source);
  ASSERT_TRUE(src.ok()) << src.status();
  std::vector<TensorSpec> specs;
  for (const std::string& name : src->TensorNames()) {
    const TensorView v = *src->Tensor(name);
    specs.push_back({name, v.dtype, v.shape});
  }
  const std::filesystem::path path = transmla::testing::MakeTempDir("gguf_rewrite") / "copy.gguf";
  auto writer = GgufWriter::Create(path, src->metadata(), specs);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const std::string& name : src->TensorNames()) {
    const TensorView v = *src->Tensor(name);
    ASSERT_TRUE((*writer)->Write(name, v.data, v.nbytes).ok()) << name;
  }
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_TRUE(ReadAll(path) == ReadAll(source));
}

TEST(GgufWriterTest, HonoursGeneralAlignment) {
  const std::filesystem::path path = transmla::testing::MakeTempDir("gguf_align") / "aligned.gguf";
  auto writer = GgufWriter::Create(path, {{"general.alignment", GgufValue::Uint32(256)}},
                                   {{"x", DType::kF32, {3}}, {"y", DType::kF32, {1}}});
  ASSERT_TRUE(writer.ok()) << writer.status();
  const float x[3] = {1, 2, 3}, y = 4;
  ASSERT_TRUE((*writer)->WriteFloats("x", x, 3).ok());
  ASSERT_TRUE((*writer)->WriteFloats("y", &y, 1).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  absl::StatusOr<GgufFile> g = GgufFile::Open(path);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->alignment(), 256u);
  EXPECT_EQ(g->data_offset() % 256, 0u);
  EXPECT_EQ(g->tensor_infos()[1].offset, 256u);
  EXPECT_EQ(std::filesystem::file_size(path), g->data_offset() + 512);
  std::vector<float> vy;
  ASSERT_TRUE(ConvertToFloat(*g->Tensor("y"), &vy).ok());
  EXPECT_EQ(vy, std::vector<float>{4.0f});
}

TEST(GgufWriterTest, LeavesNothingBehindWithoutCommit) {
  const std::filesystem::path dir = transmla::testing::MakeTempDir("gguf_abandon");
  {
    auto writer = GgufWriter::Create(dir / "never.gguf", {}, {{"x", DType::kF32, {2}}});
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // the temporary file
    const absl::Status unwritten = (*writer)->Commit().status();
    EXPECT_EQ(unwritten.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(unwritten.message().find("tensor x was never written"), std::string::npos);
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 0);
}

TEST(GgufWriterTest, RejectsInvalidDeclarations) {
  const std::filesystem::path dir = transmla::testing::MakeTempDir("gguf_invalid");
  auto create = [&](Metadata metadata, std::vector<TensorSpec> specs) {
    return GgufWriter::Create(dir / "bad.gguf", std::move(metadata), std::move(specs)).status();
  };
  EXPECT_NE(create({{"k", GgufValue::Uint8(1)}, {"k", GgufValue::Uint8(2)}}, {}).message().find("duplicate GGUF metadata key k"),
            std::string::npos);
  EXPECT_NE(create({}, {{"t", DType::kF32, {1}}, {"t", DType::kF32, {2}}}).message().find("duplicate tensor name t"),
            std::string::npos);
  EXPECT_NE(create({}, {{"i", DType::kI32, {1}}}).message().find("tensor i has dtype I32"), std::string::npos);
  EXPECT_NE(create({}, {{"t", DType::kF32, {1, 1, 1, 1, 1}}}).message().find("5 dimensions"), std::string::npos);
  GgufValue too_big = GgufValue::Uint8(0);
  too_big.value = uint64_t{300};
  EXPECT_NE(create({{"small", too_big}}, {}).message().find("small: 300 does not fit"), std::string::npos);
  GgufValue wrong_kind = GgufValue::Int32(0);
  wrong_kind.value = std::string("x");
  EXPECT_EQ(create({{"w", wrong_kind}}, {}).code(), absl::StatusCode::kInvalidArgument);
  const GgufValue mixed = GgufValue::ArrayOf(GgufType::kString, {GgufValue::String("a"), GgufValue::Uint32(1)});
  EXPECT_NE(create({{"mixed", mixed}}, {}).message().find("mixed: array of type 8 holds an item of type 4"),
            std::string::npos);
  EXPECT_NE(create({{"general.alignment", GgufValue::Int32(32)}}, {}).message().find("general.alignment"),
            std::string::npos);
  EXPECT_NE(create({{"general.alignment", GgufValue::Uint32(48)}}, {}).message().find("power of two"),
            std::string::npos);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 0);
}

TEST(GgufWriterTest, RejectsWrongWrites) {
  const std::filesystem::path dir = transmla::testing::MakeTempDir("gguf_writes");
  auto writer = GgufWriter::Create(dir / "w.gguf", {}, {{"x", DType::kF16, {4}}});
  ASSERT_TRUE(writer.ok()) << writer.status();
  const float four[4] = {1, 2, 3, 4};
  EXPECT_EQ((*writer)->WriteFloats("y", four, 4).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE((*writer)->Write("x", four, 16).message().find("16 bytes given, 8 declared"), std::string::npos);
  EXPECT_EQ((*writer)->WriteFloats("x", four, 3).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*writer)->WriteFloats("x", four, 4).ok());
  EXPECT_EQ((*writer)->WriteFloats("x", four, 4).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ((*writer)->Commit().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(GgufWriterTest, ReportsUnwritableDirectories) {
  const absl::Status s =
      GgufWriter::Create("/nonexistent/dir/x.gguf", {}, {{"x", DType::kF32, {1}}}).status();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/dir"), std::string::npos) << s;
}

}  // namespace
}  // namespace transmla
