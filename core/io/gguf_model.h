#ifndef TRANSMLA_CORE_IO_GGUF_MODEL_H_
#define TRANSMLA_CORE_IO_GGUF_MODEL_H_

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

// A GGUF model of architecture "llama" as our in-memory model: the typed config, the tensors under
// Hugging Face names in HF row order (llama.cpp's converter stores Q and K rows interleaved per
// head; they are put back into rotate-half order), and the tokenizer of its own vocabulary
// (SentencePiece pieces and scores, tokenized as llama.cpp does).
struct GgufModel {
  ModelConfig config;
  TensorStore tensors;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Fails with InvalidArgument for other architectures or vocabularies, naming them.
absl::StatusOr<GgufModel> LoadGgufModel(const std::filesystem::path& path);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_GGUF_MODEL_H_
