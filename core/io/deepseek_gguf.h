#ifndef TRANSMLA_CORE_IO_DEEPSEEK_GGUF_H_
#define TRANSMLA_CORE_IO_DEEPSEEK_GGUF_H_

#include <filesystem>

#include "absl/status/statusor.h"
#include "core/io/dtype.h"

namespace transmla {

// Writes a converted (DeepseekV3, dense, rope_interleave) HF folder as a GGUF that llama.cpp loads
// with its deepseek2 architecture: kv_b_proj split into per-head attn_k_b (transposed) and attn_v_b,
// head_count_kv 1, key/value_length for the absorbed form and the *_mla variants for the expanded
// one, every block dense. Rope rows need no permutation: interleaved pairs are llama.cpp's NORM
// rope. The vocabulary comes from tokenizer.json (a SentencePiece-style BPE, exported as "llama").
// `dtype` is F32 or F16 for matrices; norms stay F32. Fails with FailedPrecondition for configs
// llama.cpp's deepseek2 cannot run as written: longrope scaling (no per-dimension frequencies
// there) and attention biases; with InvalidArgument naming the key or tensor for malformed input.
absl::StatusOr<std::filesystem::path> ExportDeepseekGguf(const std::filesystem::path& model_dir,
                                                         const std::filesystem::path& out, DType dtype);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_DEEPSEEK_GGUF_H_
