#ifndef TRANSMLA_CORE_IO_GGUF_MODEL_H_
#define TRANSMLA_CORE_IO_GGUF_MODEL_H_

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "core/io/gguf_vocab.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

// A GGUF model of architecture "llama" as our in-memory model: the typed config, the tensors under
// Hugging Face names in HF row order (llama.cpp's converter stores Q and K rows interleaved per
// head; they are put back into rotate-half order into buffers the store owns; every other tensor
// is a zero-copy view of the file), its vocabulary as read, and the tokenizer of that vocabulary
// (SentencePiece pieces and scores, tokenized as llama.cpp does).
struct GgufModel {
  ModelConfig config;
  TensorStore tensors;
  GgufVocab vocab;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Loads a llama GGUF (F32/F16/BF16 tensors). GGUF names map to HF names (token_embd ->
// model.embed_tokens, blk.N.attn_q -> model.layers.N.self_attn.q_proj, output -> lm_head, ...);
// tie_word_embeddings is set when the file has no output.weight. Fails with InvalidArgument for
// other architectures or vocabulary types, naming them, and with the reader's or store's error
// (naming the key or tensor) when something is missing or malformed.
absl::StatusOr<GgufModel> LoadGgufModel(const std::filesystem::path& path);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_GGUF_MODEL_H_
