#include "core/io/gguf.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

std::filesystem::path StoriesGguf() {
  const std::filesystem::path shared = transmla::testing::SharedDir();
  return shared.empty() ? shared : shared / "models" / "stories260K.gguf";
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::filesystem::path WriteBytes(const std::string& bytes, const std::string& name = "test.gguf") {
  const std::filesystem::path path = transmla::testing::MakeTempDir("gguf") / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Builds GGUF bytes by hand, including ones no correct writer would produce.
class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    s_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& Str(const std::string& s) {
    Put<uint64_t>(s.size());
    s_ += s;
    return *this;
  }
  Bytes& Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    s_ += "GGUF";
    return Put<uint32_t>(version).Put<uint64_t>(tensors).Put<uint64_t>(kvs);
  }
  Bytes& PadTo(size_t alignment) {
    s_.resize((s_.size() + alignment - 1) / alignment * alignment, '\0');
    return *this;
  }
  Bytes& Zeros(size_t n) {
    s_.append(n, '\0');
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// One 2x3 F32 tensor "t" (ne = {3, 2}) holding 0..5, after one uint32 key.
Bytes SmallFile(uint32_t ggml_type = 0, uint64_t offset = 0) {
  Bytes b;
  b.Header(1, 1).Str("general.alignment").Put<uint32_t>(4).Put<uint32_t>(32);
  b.Str("t").Put<uint32_t>(2).Put<uint64_t>(3).Put<uint64_t>(2).Put<uint32_t>(ggml_type).Put<uint64_t>(offset);
  b.PadTo(32);
  for (int i = 0; i < 6; ++i) b.Put<float>(static_cast<float>(i));
  return b;
}

absl::Status OpenStatus(const std::string& bytes) { return GgufFile::Open(WriteBytes(bytes)).status(); }

::testing::AssertionResult FailsWith(const std::string& bytes, const std::string& fragment) {
  const absl::Status s = OpenStatus(bytes);
  if (s.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "expected InvalidArgument, got " << s;
  }
  if (s.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure() << "\"" << s.message() << "\" lacks \"" << fragment << "\"";
  }
  if (s.message().find("test.gguf") == std::string::npos) {
    return ::testing::AssertionFailure() << "\"" << s.message() << "\" does not name the file";
  }
  return ::testing::AssertionSuccess();
}

TEST(GgufTest, ReadsStories260KMetadata) {
  absl::StatusOr<GgufFile> g = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->alignment(), 32u);
  EXPECT_EQ(g->metadata().size(), 19u);
  EXPECT_EQ(g->metadata().front().first, "tokenizer.ggml.tokens");  // file order is kept
  EXPECT_EQ(*g->GetString("general.architecture"), "llama");
  EXPECT_EQ(*g->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*g->GetInt("llama.block_count"), 5);
  EXPECT_EQ(*g->GetInt("llama.embedding_length"), 64);
  EXPECT_EQ(*g->GetInt("llama.feed_forward_length"), 172);
  EXPECT_EQ(*g->GetInt("llama.attention.head_count"), 8);
  EXPECT_EQ(*g->GetInt("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(*g->GetInt("llama.rope.dimension_count"), 8);
  EXPECT_EQ(*g->GetInt("llama.context_length"), 2048);
  EXPECT_EQ(*g->GetFloat("llama.attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
  EXPECT_EQ(*g->GetInt("tokenizer.ggml.seperator_token_id"), 4294967295);  // uint32 -1, llama.cpp's spelling
  EXPECT_EQ(g->FindValue("llama.block_count")->type, GgufType::kUint32);
  EXPECT_EQ(g->FindValue("llama.attention.layer_norm_rms_epsilon")->type, GgufType::kFloat32);

  const std::vector<std::string> tokens = *g->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(tokens[259], "▁t");
  EXPECT_EQ(g->GetFloatArray("tokenizer.ggml.scores")->size(), 512u);
  const std::vector<int64_t> types = *g->GetIntArray("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), 512u);
  EXPECT_EQ(types[0], 2);  // unknown
  EXPECT_EQ(types[1], 3);  // control
  EXPECT_EQ(types[3], 6);  // byte
  EXPECT_EQ(types[259], 1);  // normal
}

TEST(GgufTest, ListsStories260KTensorsWithRowMajorShapes) {
  absl::StatusOr<GgufFile> g = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->tensor_infos().size(), 48u);
  EXPECT_EQ(g->data_offset(), 14176u);
  EXPECT_EQ(g->tensor_infos()[0].name, "token_embd.weight");
  EXPECT_TRUE(g->HasTensor("output.weight"));
  EXPECT_FALSE(g->HasTensor("blk.5.attn_q.weight"));
  for (const GgufTensorInfo& info : g->tensor_infos()) {
    EXPECT_EQ(info.ggml_type, kGgmlTypeF32) << info.name;
    EXPECT_EQ(info.offset % 32, 0u) << info.name;
  }
  const TensorView embed = *g->Tensor("token_embd.weight");
  EXPECT_EQ(embed.dtype, DType::kF32);
  EXPECT_EQ(embed.shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(embed.nbytes, 512u * 64 * 4);
  EXPECT_EQ(embed.data, g->mapping()->data() + g->data_offset());
  EXPECT_EQ(g->Tensor("blk.0.ffn_down.weight")->shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(g->Tensor("blk.0.attn_k.weight")->shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(g->Tensor("output_norm.weight")->shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(g->Tensor("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(GgufTest, AccessorErrorsNameTheKey) {
  absl::StatusOr<GgufFile> g = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(g.ok()) << g.status();
  const absl::Status missing = g->GetInt("llama.rope.freq_base").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("llama.rope.freq_base"), std::string::npos);
  const absl::Status wrong = g->GetString("llama.block_count").status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("llama.block_count"), std::string::npos);
  EXPECT_FALSE(g->GetStringArray("tokenizer.ggml.scores").ok());
  EXPECT_FALSE(g->GetFloatArray("tokenizer.ggml.tokens").ok());
  EXPECT_FALSE(g->GetIntArray("general.name").ok());
  EXPECT_FALSE(g->GetInt("llama.attention.layer_norm_rms_epsilon").ok());
  EXPECT_EQ(*g->GetFloat("llama.block_count"), 5.0);  // integers are numbers too
}

TEST(GgufTest, AcceptsVersion2) {
  std::string bytes = ReadAll(StoriesGguf());
  bytes[4] = 2;  // v2 and v3 share the little-endian layout
  absl::StatusOr<GgufFile> g = GgufFile::Open(WriteBytes(bytes));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->version(), 2u);
  EXPECT_EQ(g->tensor_infos().size(), 48u);
}

TEST(GgufTest, ReadsHandBuiltFileWithNestedArraysAndEveryScalarType) {
  Bytes b;
  b.Header(1, 13);
  b.Str("u8").Put<uint32_t>(0).Put<uint8_t>(200);
  b.Str("i8").Put<uint32_t>(1).Put<int8_t>(-100);
  b.Str("u16").Put<uint32_t>(2).Put<uint16_t>(60000);
  b.Str("i16").Put<uint32_t>(3).Put<int16_t>(-30000);
  b.Str("i32").Put<uint32_t>(5).Put<int32_t>(-7);
  b.Str("u64").Put<uint32_t>(10).Put<uint64_t>(uint64_t{1} << 40);
  b.Str("i64").Put<uint32_t>(11).Put<int64_t>(-(int64_t{1} << 40));
  b.Str("f64").Put<uint32_t>(12).Put<double>(0.1);
  b.Str("yes").Put<uint32_t>(7).Put<uint8_t>(1);
  b.Str("f32s").Put<uint32_t>(9).Put<uint32_t>(6).Put<uint64_t>(2).Put<float>(1.5f).Put<float>(-2.0f);
  b.Str("i16s").Put<uint32_t>(9).Put<uint32_t>(3).Put<uint64_t>(2).Put<int16_t>(-1).Put<int16_t>(2);
  // An array of two string arrays: [["a", "bc"], []].
  b.Str("nested").Put<uint32_t>(9).Put<uint32_t>(9).Put<uint64_t>(2);
  b.Put<uint32_t>(8).Put<uint64_t>(2).Str("a").Str("bc");
  b.Put<uint32_t>(8).Put<uint64_t>(0);
  b.Str("general.alignment").Put<uint32_t>(4).Put<uint32_t>(64);
  b.Str("h").Put<uint32_t>(1).Put<uint64_t>(4).Put<uint32_t>(kGgmlTypeF16).Put<uint64_t>(0);
  b.PadTo(64);
  // F16 encodings of 1, -2, 0.5 and 65504 (the largest finite half).
  b.Put<uint16_t>(0x3c00).Put<uint16_t>(0xc000).Put<uint16_t>(0x3800).Put<uint16_t>(0x7bff);

  absl::StatusOr<GgufFile> g = GgufFile::Open(WriteBytes(b.str()));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(*g->GetInt("u8"), 200);
  EXPECT_EQ(*g->GetInt("i8"), -100);
  EXPECT_EQ(*g->GetInt("u16"), 60000);
  EXPECT_EQ(*g->GetInt("i16"), -30000);
  EXPECT_EQ(*g->GetInt("i32"), -7);
  EXPECT_EQ(*g->GetInt("u64"), int64_t{1} << 40);
  EXPECT_EQ(*g->GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*g->GetFloat("f64"), 0.1);
  EXPECT_TRUE(*g->GetBool("yes"));
  EXPECT_EQ(*g->GetFloatArray("f32s"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(*g->GetIntArray("i16s"), (std::vector<int64_t>{-1, 2}));
  const GgufValue* nested = g->FindValue("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->element_type, GgufType::kArray);
  const auto& outer = std::get<GgufValue::Array>(nested->value);
  ASSERT_EQ(outer.size(), 2u);
  EXPECT_EQ(outer[0].element_type, GgufType::kString);
  EXPECT_EQ(std::get<std::string>(std::get<GgufValue::Array>(outer[0].value)[1].value), "bc");
  EXPECT_TRUE(std::get<GgufValue::Array>(outer[1].value).empty());
  EXPECT_EQ(g->alignment(), 64u);
  EXPECT_EQ(g->data_offset() % 64, 0u);
  std::vector<float> h;
  ASSERT_TRUE(ConvertToFloat(*g->Tensor("h"), &h).ok());
  EXPECT_EQ(h, (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f}));
}

TEST(GgufTest, RefusesQuantizedTensorsOnlyWhenAccessed) {
  // 6 elements are not a whole Q4_0 block, so use a type whose block size is unknown here.
  absl::StatusOr<GgufFile> g = GgufFile::Open(WriteBytes(SmallFile(/*IQ2_XXS*/ 16).str()));
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->tensor_infos().size(), 1u);
  EXPECT_EQ(g->tensor_infos()[0].ggml_type, 16u);
  const absl::Status s = g->Tensor("t").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tensor t has ggml type IQ2_XXS (16), only F32/F16/BF16 are supported"), std::string::npos)
      << s;

  absl::StatusOr<GgufFile> f32 = GgufFile::Open(WriteBytes(SmallFile().str()));
  ASSERT_TRUE(f32.ok()) << f32.status();
  std::vector<float> values;
  ASSERT_TRUE(ConvertToFloat(*f32->Tensor("t"), &values).ok());
  EXPECT_EQ(f32->Tensor("t")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values, (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(GgmlTypeName(2), "Q4_0");
  EXPECT_EQ(GgmlTypeName(12), "Q4_K");
}

TEST(GgufTest, RejectsBadMagicAndUnsupportedVersion) {
  std::string bytes = SmallFile().str();
  bytes[0] = 'X';
  EXPECT_TRUE(FailsWith(bytes, "bad magic"));
  bytes = SmallFile().str();
  bytes[4] = 1;
  EXPECT_TRUE(FailsWith(bytes, "unsupported GGUF version 1"));
  bytes[4] = 9;
  EXPECT_TRUE(FailsWith(bytes, "unsupported GGUF version 9"));
}

TEST(GgufTest, RejectsTruncatedFilesAtEveryLength) {
  const std::string bytes = SmallFile().str();
  EXPECT_TRUE(FailsWith("", "truncated"));
  // Every prefix that cuts the header or the tensor data must fail cleanly, never read past the end.
  for (size_t n = 1; n < bytes.size(); ++n) {
    const absl::Status s = OpenStatus(bytes.substr(0, n));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "prefix " << n << ": " << s;
  }
  EXPECT_TRUE(OpenStatus(bytes).ok());
  const std::string real = ReadAll(StoriesGguf());
  EXPECT_TRUE(FailsWith(real.substr(0, 30), "truncated"));
  EXPECT_TRUE(FailsWith(real.substr(0, 5000), "tokenizer.ggml.tokens"));
}

TEST(GgufTest, RejectsLengthsAndCountsBeyondTheFile) {
  std::string bytes = ReadAll(StoriesGguf());
  const uint64_t huge = uint64_t{1} << 50;
  std::memcpy(&bytes[24], &huge, 8);  // length of the first metadata key
  EXPECT_TRUE(FailsWith(bytes, "beyond the end of the file"));

  Bytes array;
  array.Header(0, 1).Str("a").Put<uint32_t>(9).Put<uint32_t>(0).Put<uint64_t>(huge).Zeros(16);
  EXPECT_TRUE(FailsWith(array.str(), "array length"));
  Bytes wide;  // 16 uint64 items need 128 bytes; 64 are left
  wide.Header(0, 1).Str("w").Put<uint32_t>(9).Put<uint32_t>(10).Put<uint64_t>(16).Zeros(64);
  EXPECT_TRUE(FailsWith(wide.str(), "metadata w: array length 16 beyond the end of the file"));

  Bytes counts;
  counts.Header(uint64_t{1} << 40, 0).Zeros(64);
  EXPECT_TRUE(FailsWith(counts.str(), "implausible counts"));
  Bytes kvs;
  kvs.Header(0, ~uint64_t{0}).Zeros(64);
  EXPECT_TRUE(FailsWith(kvs.str(), "implausible counts"));

  Bytes dims;
  dims.Header(1, 0).Str("t").Put<uint32_t>(5).Zeros(64);
  EXPECT_TRUE(FailsWith(dims.str(), "5 dimensions"));
}

TEST(GgufTest, RejectsTensorDataBeyondTheFile) {
  const std::string real = ReadAll(StoriesGguf());
  EXPECT_TRUE(FailsWith(real.substr(0, real.size() - 1), "blk.4.ffn_norm.weight: data"));
  EXPECT_TRUE(FailsWith(SmallFile(0, /*offset=*/32).str(), "beyond the end of the file"));
  // Element counts whose byte size wraps around 64 bits.
  Bytes wrap;
  wrap.Header(1, 0).Str("t").Put<uint32_t>(4);
  for (int i = 0; i < 4; ++i) wrap.Put<uint64_t>(uint64_t{1} << 17);
  wrap.Put<uint32_t>(0).Put<uint64_t>(0).PadTo(32).Zeros(1 << 15);
  EXPECT_TRUE(FailsWith(wrap.str(), "overflows"));
}

TEST(GgufTest, RejectsStructuralCorruption) {
  EXPECT_TRUE(FailsWith(SmallFile(0, /*offset=*/4).str(), "not a multiple of the alignment"));

  Bytes unknown;
  unknown.Header(0, 1).Str("k").Put<uint32_t>(13).Zeros(16);
  EXPECT_TRUE(FailsWith(unknown.str(), "metadata k: unknown value type 13"));

  Bytes dup;
  dup.Header(0, 2).Str("k").Put<uint32_t>(0).Put<uint8_t>(1).Str("k").Put<uint32_t>(0).Put<uint8_t>(2);
  EXPECT_TRUE(FailsWith(dup.str(), "duplicate metadata key k"));

  Bytes dup_tensor;
  dup_tensor.Header(2, 0);
  for (int i = 0; i < 2; ++i) dup_tensor.Str("t").Put<uint32_t>(1).Put<uint64_t>(1).Put<uint32_t>(0).Put<uint64_t>(0);
  dup_tensor.PadTo(32).Zeros(32);
  EXPECT_TRUE(FailsWith(dup_tensor.str(), "duplicate tensor t"));

  Bytes alignment;
  alignment.Header(0, 1).Str("general.alignment").Put<uint32_t>(4).Put<uint32_t>(24);
  EXPECT_TRUE(FailsWith(alignment.str(), "general.alignment"));

  Bytes deep;
  deep.Header(0, 1).Str("d").Put<uint32_t>(9);
  for (int i = 0; i < 6; ++i) deep.Put<uint32_t>(9).Put<uint64_t>(1);
  deep.Zeros(16);
  EXPECT_TRUE(FailsWith(deep.str(), "nested too deeply"));

  Bytes partial_block;  // Q4_0 rows must hold whole 32-element blocks
  partial_block.Header(1, 0).Str("q").Put<uint32_t>(1).Put<uint64_t>(48).Put<uint32_t>(2).Put<uint64_t>(0);
  partial_block.PadTo(32).Zeros(64);
  EXPECT_TRUE(FailsWith(partial_block.str(), "not a multiple of the Q4_0 block size 32"));
}

TEST(GgufTest, SurvivesRandomCorruptionOfTheHeader) {
  // Flipped bytes anywhere in the header must give an error or a file whose every view lies
  // inside the mapping (run under ASan to make "inside" checked).
  const std::string real = ReadAll(StoriesGguf());
  const size_t header_bytes = 14176;
  std::mt19937 rng(1234);
  const std::filesystem::path path = WriteBytes(real, "fuzz.gguf");
  int opened = 0;
  for (int iteration = 0; iteration < 300; ++iteration) {
    std::string bytes = real;
    for (int flips = 0; flips < 4; ++flips) {
      bytes[rng() % header_bytes] = static_cast<char>(rng());
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    absl::StatusOr<GgufFile> g = GgufFile::Open(path);
    if (!g.ok()) {
      EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument) << g.status();
      continue;
    }
    ++opened;
    const uint8_t* begin = g->mapping()->data();
    const uint8_t* end = begin + g->mapping()->size();
    for (const std::string& name : g->TensorNames()) {
      absl::StatusOr<TensorView> view = g->Tensor(name);
      if (!view.ok()) continue;
      ASSERT_GE(view->data, begin) << name;
      ASSERT_LE(view->data + view->nbytes, end) << name;
    }
  }
  EXPECT_GT(opened, 0);  // most flips land in token strings and scores, which stay valid
}

TEST(GgufTest, MissingFileIsNotFound) {
  EXPECT_EQ(GgufFile::Open("/nonexistent/x.gguf").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace transmla
