#include "core/io/deepseek_gguf.h"

#include <fmt/format.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/gguf_vocab.h"
#include "core/io/gguf_writer.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "core/util/status_macros.h"

namespace transmla {
namespace {

using Metadata = std::vector<std::pair<std::string, GgufValue>>;

// A SentencePiece-style BPE tokenizer.json as llama.cpp's "llama" vocabulary: scores fall with the
// id (SentencePiece's own order), <0xNN> pieces are byte tokens, added tokens are control tokens.
absl::StatusOr<GgufVocab> VocabFromTokenizerJson(const std::filesystem::path& path, const ModelConfig& config) {
  ASSIGN_OR_RETURN(const nlohmann::json root, ReadJsonFile(path));
  const nlohmann::json& model = root.value("model", nlohmann::json());
  if (!model.is_object() || !model.value("vocab", nlohmann::json()).is_object()) {
    return absl::InvalidArgumentError(fmt::format("{}: model.vocab is not an object", path.string()));
  }
  if (model.value("type", "") != "BPE" || !model.value("byte_fallback", false)) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: only SentencePiece-style BPE tokenizers (byte_fallback) can be exported as a llama vocabulary",
        path.string()));
  }
  GgufVocab vocab;
  vocab.model = "llama";
  const auto& pieces = model["vocab"];
  const size_t n = static_cast<size_t>(config.vocab_size);
  vocab.tokens.assign(n, "");
  vocab.scores.assign(n, 0.0f);
  vocab.token_types.assign(n, kGgufTokenNormal);
  std::vector<bool> seen(n, false);
  for (const auto& [piece, id_json] : pieces.items()) {
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= config.vocab_size) {
      return absl::InvalidArgumentError(
          fmt::format("{}: token {} has id {} outside vocab_size {}", path.string(), piece, id, config.vocab_size));
    }
    vocab.tokens[id] = piece;
    vocab.scores[id] = -static_cast<float>(id);
    seen[id] = true;
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') vocab.token_types[id] = kGgufTokenByte;
  }
  for (const auto& added : root.value("added_tokens", nlohmann::json::array())) {
    const int64_t id = added.value("id", int64_t{-1});
    if (id < 0 || id >= config.vocab_size) continue;
    vocab.tokens[id] = added.value("content", "");
    vocab.scores[id] = 0.0f;
    vocab.token_types[id] = kGgufTokenControl;
    seen[id] = true;
  }
  const std::string unk = model.value("unk_token", nlohmann::json()).is_string() ? model["unk_token"].get<std::string>() : "";
  for (size_t id = 0; id < n; ++id) {
    if (!seen[id]) {
      vocab.tokens[id] = fmt::format("[PAD{}]", id);
      vocab.token_types[id] = kGgufTokenUnused;
    } else if (!unk.empty() && vocab.tokens[id] == unk) {
      vocab.token_types[id] = kGgufTokenUnknown;
      vocab.unk_id = static_cast<int32_t>(id);
    }
  }
  vocab.bos_id = static_cast<int32_t>(config.bos_token_id);
  if (!config.eos_token_ids.empty()) vocab.eos_id = static_cast<int32_t>(config.eos_token_ids.front());
  vocab.add_bos = true;
  vocab.add_space_prefix = true;
  return vocab;
}

Metadata ArchitectureMetadata(const ModelConfig& c, std::string name) {
  const auto u32 = [](int64_t v) { return GgufValue::Uint32(static_cast<uint32_t>(v)); };
  const std::string a = "deepseek2.";
  return {
      {"general.architecture", GgufValue::String("deepseek2")},
      {"general.name", GgufValue::String(std::move(name))},
      {a + "context_length", u32(c.max_position_embeddings)},
      {a + "embedding_length", u32(c.hidden_size)},
      {a + "block_count", u32(c.num_hidden_layers)},
      {a + "feed_forward_length", u32(c.intermediate_size)},
      {a + "attention.head_count", u32(c.num_attention_heads)},
      {a + "attention.head_count_kv", u32(1)},
      {a + "rope.freq_base", GgufValue::Float32(static_cast<float>(c.rope_theta))},
      {a + "rope.dimension_count", u32(c.qk_rope_head_dim)},
      {a + "attention.layer_norm_rms_epsilon", GgufValue::Float32(static_cast<float>(c.rms_norm_eps))},
      {a + "leading_dense_block_count", u32(c.num_hidden_layers)},
      {a + "vocab_size", u32(c.vocab_size)},
      {a + "attention.q_lora_rank", u32(c.q_lora_rank)},
      {a + "attention.kv_lora_rank", u32(c.kv_lora_rank)},
      {a + "attention.key_length", u32(c.kv_lora_rank + c.qk_rope_head_dim)},
      {a + "attention.value_length", u32(c.kv_lora_rank)},
      {a + "attention.key_length_mla", u32(c.qk_nope_head_dim + c.qk_rope_head_dim)},
      {a + "attention.value_length_mla", u32(c.v_head_dim)},
      {a + "expert_feed_forward_length", u32(c.intermediate_size)},
      {a + "expert_shared_count", u32(0)},
  };
}

// One GGUF tensor: its name, row-major shape, and how to fill it from the HF checkpoint.
struct Planned {
  TensorSpec spec;
  std::function<absl::Status(std::vector<float>*)> fill;
};

absl::Status ReadFloats(const TensorStore& store, const std::string& name, const std::vector<int64_t>& shape,
                        std::vector<float>* out) {
  ASSIGN_OR_RETURN(const TensorView view, store.Get(name, shape));
  return ConvertToFloat(view, out);
}

}  // namespace

absl::StatusOr<std::filesystem::path> ExportDeepseekGguf(const std::filesystem::path& model_dir,
                                                         const std::filesystem::path& out, DType dtype) {
  if (dtype != DType::kF32 && dtype != DType::kF16) {
    return absl::InvalidArgumentError(fmt::format("export dtype must be f32 or f16, not {}", DTypeName(dtype)));
  }
  ASSIGN_OR_RETURN(const ModelConfig c, ReadModelConfig(model_dir / "config.json"));
  if (c.architecture != Architecture::kDeepseekV3) {
    return absl::InvalidArgumentError(
        fmt::format("{}: model_type {} is not deepseek_v3 (export a converted model)", model_dir.string(), c.model_type));
  }
  if (c.rope_scaling.type != RopeScaling::Type::kNone) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: rope_scaling is set (longrope from --mode exact); llama.cpp's deepseek2 has no per-dimension rope "
        "frequencies, so the export would run with the wrong rope. Convert with --mode deepseek instead",
        model_dir.string()));
  }
  if (c.attention_bias) {
    return absl::FailedPreconditionError(
        fmt::format("{}: attention biases have no place in llama.cpp's deepseek2", model_dir.string()));
  }
  ASSIGN_OR_RETURN(TensorStore store, TensorStore::OpenSafetensors(model_dir));
  ASSIGN_OR_RETURN(GgufVocab vocab, VocabFromTokenizerJson(model_dir / "tokenizer.json", c));

  const int64_t d = c.hidden_size, h = c.num_attention_heads, r = c.kv_lora_rank;
  const int64_t nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim, v = c.v_head_dim, qk = nope + rope;
  std::vector<Planned> plan;
  const auto copy = [&](std::string gguf, std::string hf, std::vector<int64_t> shape, bool matrix) {
    plan.push_back({{std::move(gguf), matrix ? dtype : DType::kF32, shape},
                    [&store, hf = std::move(hf), shape](std::vector<float>* o) { return ReadFloats(store, hf, shape, o); }});
  };
  copy("token_embd.weight", "model.embed_tokens.weight", {c.vocab_size, d}, true);
  copy("output_norm.weight", "model.norm.weight", {d}, false);
  if (!c.tie_word_embeddings) copy("output.weight", "lm_head.weight", {c.vocab_size, d}, true);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string b = fmt::format("blk.{}.", i), p = fmt::format("model.layers.{}.", i);
    const std::string a = p + "self_attn.";
    copy(b + "attn_norm.weight", p + "input_layernorm.weight", {d}, false);
    copy(b + "ffn_norm.weight", p + "post_attention_layernorm.weight", {d}, false);
    if (c.q_lora_rank > 0) {
      copy(b + "attn_q_a.weight", a + "q_a_proj.weight", {c.q_lora_rank, d}, true);
      copy(b + "attn_q_a_norm.weight", a + "q_a_layernorm.weight", {c.q_lora_rank}, false);
      copy(b + "attn_q_b.weight", a + "q_b_proj.weight", {h * qk, c.q_lora_rank}, true);
    } else {
      copy(b + "attn_q.weight", a + "q_proj.weight", {h * qk, d}, true);
    }
    copy(b + "attn_kv_a_mqa.weight", a + "kv_a_proj_with_mqa.weight", {r + rope, d}, false);
    copy(b + "attn_kv_a_norm.weight", a + "kv_a_layernorm.weight", {r}, false);
    const std::string kv_b = a + "kv_b_proj.weight";
    // kv_b rows are [head][nope | v]; k_b is stored transposed per head (llama.cpp absorbs it into q).
    plan.push_back({{b + "attn_k_b.weight", dtype, {h, r, nope}}, [&store, kv_b, h, r, nope, v](std::vector<float>* o) {
                      std::vector<float> full;
                      RETURN_IF_ERROR(ReadFloats(store, kv_b, {h * (nope + v), r}, &full));
                      o->resize(h * r * nope);
                      for (int64_t hd = 0; hd < h; ++hd)
                        for (int64_t j = 0; j < nope; ++j)
                          for (int64_t k = 0; k < r; ++k)
                            (*o)[(hd * r + k) * nope + j] = full[(hd * (nope + v) + j) * r + k];
                      return absl::OkStatus();
                    }});
    plan.push_back({{b + "attn_v_b.weight", dtype, {h, v, r}}, [&store, kv_b, h, r, nope, v](std::vector<float>* o) {
                      std::vector<float> full;
                      RETURN_IF_ERROR(ReadFloats(store, kv_b, {h * (nope + v), r}, &full));
                      o->resize(h * v * r);
                      for (int64_t hd = 0; hd < h; ++hd)
                        for (int64_t j = 0; j < v; ++j)
                          for (int64_t k = 0; k < r; ++k)
                            (*o)[(hd * v + j) * r + k] = full[(hd * (nope + v) + nope + j) * r + k];
                      return absl::OkStatus();
                    }});
    copy(b + "attn_output.weight", a + "o_proj.weight", {d, h * v}, true);
    copy(b + "ffn_gate.weight", p + "mlp.gate_proj.weight", {c.intermediate_size, d}, true);
    copy(b + "ffn_up.weight", p + "mlp.up_proj.weight", {c.intermediate_size, d}, true);
    copy(b + "ffn_down.weight", p + "mlp.down_proj.weight", {d, c.intermediate_size}, true);
  }

  Metadata metadata = ArchitectureMetadata(c, model_dir.filename().string());
  metadata.emplace_back("general.file_type", GgufValue::Uint32(dtype == DType::kF16 ? 1 : 0));
  for (auto& kv : GgufVocabMetadata(vocab)) metadata.push_back(std::move(kv));
  std::vector<TensorSpec> specs;
  for (const Planned& t : plan) specs.push_back(t.spec);
  ASSIGN_OR_RETURN(std::unique_ptr<GgufWriter> writer, GgufWriter::Create(out, std::move(metadata), std::move(specs)));
  std::vector<float> values;
  for (const Planned& t : plan) {
    RETURN_IF_ERROR(t.fill(&values));
    RETURN_IF_ERROR(writer->WriteFloats(t.spec.name, values.data(), values.size()));
  }
  return writer->Commit();
}

}  // namespace transmla
