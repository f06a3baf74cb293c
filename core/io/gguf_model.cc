#include "core/io/gguf_model.h"

#include <cstring>

#include "core/io/gguf.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

absl::StatusOr<ModelConfig> ReadLlamaConfig(const GgufFile& g, const GgufVocab& vocab) {
  ModelConfig c;
  c.model_type = "llama";
  ASSIGN_OR_RETURN(c.hidden_size, g.GetInt("llama.embedding_length"));
  ASSIGN_OR_RETURN(c.intermediate_size, g.GetInt("llama.feed_forward_length"));
  ASSIGN_OR_RETURN(c.num_hidden_layers, g.GetInt("llama.block_count"));
  ASSIGN_OR_RETURN(c.num_attention_heads, g.GetInt("llama.attention.head_count"));
  c.num_key_value_heads = c.num_attention_heads;
  if (g.Has("llama.attention.head_count_kv")) {
    ASSIGN_OR_RETURN(c.num_key_value_heads, g.GetInt("llama.attention.head_count_kv"));
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (g.Has("llama.rope.dimension_count")) {
    ASSIGN_OR_RETURN(c.head_dim, g.GetInt("llama.rope.dimension_count"));
  }
  ASSIGN_OR_RETURN(c.rms_norm_eps, g.GetFloat("llama.attention.layer_norm_rms_epsilon"));
  if (g.Has("llama.rope.freq_base")) {
    ASSIGN_OR_RETURN(c.rope_theta, g.GetFloat("llama.rope.freq_base"));
  }
  ASSIGN_OR_RETURN(c.max_position_embeddings, g.GetInt("llama.context_length"));
  c.vocab_size = static_cast<int64_t>(vocab.tokens.size());
  c.bos_token_id = vocab.bos_id;
  if (vocab.eos_id >= 0) c.eos_token_ids.push_back(vocab.eos_id);
  c.tie_word_embeddings = !g.HasTensor("output.weight");
  for (const auto& [key, value] : {std::pair{"llama.embedding_length", c.hidden_size},
                                   std::pair{"llama.feed_forward_length", c.intermediate_size},
                                   std::pair{"llama.block_count", c.num_hidden_layers},
                                   std::pair{"llama.attention.head_count", c.num_attention_heads},
                                   std::pair{"llama.attention.head_count_kv", c.num_key_value_heads},
                                   std::pair{"llama.rope.dimension_count", c.head_dim},
                                   std::pair{"llama.context_length", c.max_position_embeddings}}) {
    if (value <= 0) {
      return absl::InvalidArgumentError(fmt::format("{}: {} is {}, must be positive", g.path().string(), key, value));
    }
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0 || c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: {} heads cannot share {} KV heads, or head dimension {} is odd", g.path().string(),
        c.num_attention_heads, c.num_key_value_heads, c.head_dim));
  }
  return c;
}

// llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.permute) reorders each head's rows
// from HF's rotate-half layout (first half of the rotary pairs, then the second half) to
// interleaved pairs: GGUF = W.reshape(heads, 2, head_dim / 2, cols).swapaxes(1, 2). So HF row
// (h, s, i) is GGUF row (h, i, s); this copies the rows back.
absl::StatusOr<std::vector<uint8_t>> UnpermuteRows(const TensorView& view, int64_t heads) {
  if (view.shape.size() != 2 || heads <= 0 || view.shape[0] % heads != 0 || (view.shape[0] / heads) % 2 != 0) {
    return absl::InvalidArgumentError(fmt::format("GGUF tensor {} with {} rows cannot be split into {} heads of even size",
                                                  view.name, view.shape.empty() ? 0 : view.shape[0], heads));
  }
  const int64_t rows = view.shape[0];
  const size_t row_bytes = view.nbytes / static_cast<size_t>(rows);
  const int64_t head_dim = rows / heads;
  const int64_t half = head_dim / 2;
  std::vector<uint8_t> out(view.nbytes);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t s = 0; s < 2; ++s) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t hf_row = h * head_dim + s * half + i;
        const int64_t gguf_row = h * head_dim + 2 * i + s;
        std::memcpy(out.data() + hf_row * row_bytes, view.data + gguf_row * row_bytes, row_bytes);
      }
    }
  }
  return out;
}

absl::StatusOr<TensorStore> MapTensors(const GgufFile& g, const ModelConfig& c) {
  TensorStore store;
  store.KeepAlive(g.mapping());
  auto add = [&](const std::string& gguf, const std::string& hf, int64_t unpermute_heads) -> absl::Status {
    ASSIGN_OR_RETURN(TensorView view, g.Tensor(gguf));
    if (unpermute_heads > 0) {
      ASSIGN_OR_RETURN(std::vector<uint8_t> rows, UnpermuteRows(view, unpermute_heads));
      store.AddOwned(hf, view.dtype, view.shape, std::move(rows));
    } else {
      view.name = hf;
      store.AddView(view);
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(add("token_embd.weight", "model.embed_tokens.weight", 0));
  RETURN_IF_ERROR(add("output_norm.weight", "model.norm.weight", 0));
  if (!c.tie_word_embeddings) {
    RETURN_IF_ERROR(add("output.weight", "lm_head.weight", 0));
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    const std::string l = fmt::format("model.layers.{}.", i);
    RETURN_IF_ERROR(add(b + "attn_norm.weight", l + "input_layernorm.weight", 0));
    RETURN_IF_ERROR(add(b + "attn_q.weight", l + "self_attn.q_proj.weight", c.num_attention_heads));
    RETURN_IF_ERROR(add(b + "attn_k.weight", l + "self_attn.k_proj.weight", c.num_key_value_heads));
    RETURN_IF_ERROR(add(b + "attn_v.weight", l + "self_attn.v_proj.weight", 0));
    RETURN_IF_ERROR(add(b + "attn_output.weight", l + "self_attn.o_proj.weight", 0));
    RETURN_IF_ERROR(add(b + "ffn_norm.weight", l + "post_attention_layernorm.weight", 0));
    RETURN_IF_ERROR(add(b + "ffn_gate.weight", l + "mlp.gate_proj.weight", 0));
    RETURN_IF_ERROR(add(b + "ffn_up.weight", l + "mlp.up_proj.weight", 0));
    RETURN_IF_ERROR(add(b + "ffn_down.weight", l + "mlp.down_proj.weight", 0));
  }
  return store;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> MakeTokenizer(const GgufVocab& gguf, const std::filesystem::path& path) {
  if (gguf.model != "llama") {
    return absl::InvalidArgumentError(
        fmt::format("{}: GGUF vocabulary type \"{}\" is not supported (llama)", path.string(), gguf.model));
  }
  if (gguf.scores.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: a llama vocabulary needs tokenizer.ggml.scores", path.string()));
  }
  SentencePieceVocab vocab;
  vocab.pieces = gguf.tokens;
  for (size_t i = 0; i < gguf.token_types.size(); ++i) {
    if (gguf.token_types[i] == kGgufTokenControl) vocab.special_ids.push_back(static_cast<int32_t>(i));
    if (gguf.token_types[i] == kGgufTokenUserDefined) vocab.user_defined_ids.push_back(static_cast<int32_t>(i));
  }
  if (gguf.bos_id >= 0) vocab.bos_id = gguf.bos_id;
  if (gguf.eos_id >= 0) vocab.eos_id = gguf.eos_id;
  if (gguf.unk_id >= 0) vocab.unk_id = gguf.unk_id;
  vocab.add_space_prefix = gguf.add_space_prefix;
  return MakeSentencePieceScoreTokenizer(std::move(vocab), gguf.scores);
}

}  // namespace

absl::StatusOr<GgufModel> LoadGgufModel(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(GgufFile g, GgufFile::Open(path));
  ASSIGN_OR_RETURN(const std::string arch, g.GetString("general.architecture"));
  if (arch != "llama") {
    return absl::InvalidArgumentError(fmt::format("{}: GGUF architecture \"{}\" is not supported (llama)", path.string(), arch));
  }
  GgufModel model;
  ASSIGN_OR_RETURN(model.vocab, ReadGgufVocab(g));
  ASSIGN_OR_RETURN(model.config, ReadLlamaConfig(g, model.vocab));
  ASSIGN_OR_RETURN(model.tensors, MapTensors(g, model.config));
  ASSIGN_OR_RETURN(model.tokenizer, MakeTokenizer(model.vocab, path));
  return model;
}

}  // namespace transmla
