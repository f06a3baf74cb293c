#include "core/io/gguf_vocab.h"

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

constexpr int64_t kNoToken = 0xFFFFFFFF;  // how gguf-py writes an unset uint32 token id

// Reads an optional token id into `id` (left at -1 when absent or unset).
absl::Status ReadId(const GgufFile& file, const char* key, size_t vocab_size, int32_t* id) {
  if (!file.Has(key)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t value, file.GetInt(key));
  if (value == kNoToken || value < 0) return absl::OkStatus();
  if (static_cast<uint64_t>(value) >= vocab_size) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} is {}, outside the vocabulary of {} tokens", file.path().string(), key, value, vocab_size));
  }
  *id = static_cast<int32_t>(value);
  return absl::OkStatus();
}

absl::Status ReadFlag(const GgufFile& file, const char* key, bool* flag) {
  if (!file.Has(key)) return absl::OkStatus();
  ASSIGN_OR_RETURN(*flag, file.GetBool(key));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GgufVocab> ReadGgufVocab(const GgufFile& file) {
  GgufVocab vocab;
  ASSIGN_OR_RETURN(vocab.model, file.GetString("tokenizer.ggml.model"));
  ASSIGN_OR_RETURN(vocab.tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  const size_t n = vocab.tokens.size();
  if (file.Has("tokenizer.ggml.scores")) {
    ASSIGN_OR_RETURN(const std::vector<double> scores, file.GetFloatArray("tokenizer.ggml.scores"));
    if (scores.size() != n) {
      return absl::InvalidArgumentError(fmt::format("{}: {} scores for {} tokens", file.path().string(), scores.size(), n));
    }
    vocab.scores.assign(scores.begin(), scores.end());
  }
  if (file.Has("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(const std::vector<int64_t> types, file.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() != n) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {} token types for {} tokens", file.path().string(), types.size(), n));
    }
    vocab.token_types.assign(types.begin(), types.end());
  }
  RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.bos_token_id", n, &vocab.bos_id));
  RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.eos_token_id", n, &vocab.eos_id));
  RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.unknown_token_id", n, &vocab.unk_id));
  RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.padding_token_id", n, &vocab.pad_id));
  RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.add_bos_token", &vocab.add_bos));
  RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.add_eos_token", &vocab.add_eos));
  RETURN_IF_ERROR(ReadFlag(file, "tokenizer.ggml.add_space_prefix", &vocab.add_space_prefix));
  return vocab;
}

std::vector<std::pair<std::string, GgufValue>> GgufVocabMetadata(const GgufVocab& vocab) {
  std::vector<std::pair<std::string, GgufValue>> out;
  out.emplace_back("tokenizer.ggml.model", GgufValue::String(vocab.model));
  out.emplace_back("tokenizer.ggml.tokens", GgufValue::StringArray(vocab.tokens));
  if (!vocab.scores.empty()) out.emplace_back("tokenizer.ggml.scores", GgufValue::Float32Array(vocab.scores));
  if (!vocab.token_types.empty()) {
    out.emplace_back("tokenizer.ggml.token_type", GgufValue::Int32Array(vocab.token_types));
  }
  for (const auto& [key, id] : {std::pair{"tokenizer.ggml.bos_token_id", vocab.bos_id},
                                std::pair{"tokenizer.ggml.eos_token_id", vocab.eos_id},
                                std::pair{"tokenizer.ggml.unknown_token_id", vocab.unk_id},
                                std::pair{"tokenizer.ggml.padding_token_id", vocab.pad_id}}) {
    if (id >= 0) out.emplace_back(key, GgufValue::Uint32(static_cast<uint32_t>(id)));
  }
  out.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::Bool(vocab.add_bos));
  out.emplace_back("tokenizer.ggml.add_eos_token", GgufValue::Bool(vocab.add_eos));
  out.emplace_back("tokenizer.ggml.add_space_prefix", GgufValue::Bool(vocab.add_space_prefix));
  return out;
}

}  // namespace transmla
