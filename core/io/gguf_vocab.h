#ifndef TRANSMLA_CORE_IO_GGUF_VOCAB_H_
#define TRANSMLA_CORE_IO_GGUF_VOCAB_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/io/gguf.h"

namespace transmla {

// llama.cpp's token types (tokenizer.ggml.token_type, llama_token_type).
enum GgufTokenType : int32_t {
  kGgufTokenUndefined = 0,
  kGgufTokenNormal = 1,
  kGgufTokenUnknown = 2,
  kGgufTokenControl = 3,
  kGgufTokenUserDefined = 4,
  kGgufTokenUnused = 5,
  kGgufTokenByte = 6,
};

// The tokenizer.ggml.* vocabulary of a GGUF file, as plain data. Ids are -1 when absent (GGUF
// writers spell "none" as uint32 0xFFFFFFFF, which is read as absent too).
struct GgufVocab {
  std::string model;  // tokenizer.ggml.model: "llama" (SentencePiece, score-driven), "gpt2" (BPE)...
  std::vector<std::string> tokens;
  std::vector<float> scores;         // empty when the file has none
  std::vector<int32_t> token_types;  // GgufTokenType per token; empty when the file has none
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool add_bos = true;            // tokenizer.ggml.add_bos_token; llama.cpp's default for "llama"
  bool add_eos = false;           // tokenizer.ggml.add_eos_token
  bool add_space_prefix = true;   // tokenizer.ggml.add_space_prefix (SentencePiece add_dummy_prefix)
};

// Reads the vocabulary keys of `file`. Fails with NotFound naming tokenizer.ggml.model or
// tokenizer.ggml.tokens when missing, and InvalidArgument when scores or token types do not have
// one entry per token or a special id is outside the vocabulary.
absl::StatusOr<GgufVocab> ReadGgufVocab(const GgufFile& file);

// The tokenizer.ggml.* metadata for `vocab` with the value types llama.cpp's loader requires
// (uint32 ids, float32 scores, int32 token types, bool flags); absent ids and empty arrays are
// left out. For writing a vocabulary into an exported GGUF.
std::vector<std::pair<std::string, GgufValue>> GgufVocabMetadata(const GgufVocab& vocab);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_GGUF_VOCAB_H_
