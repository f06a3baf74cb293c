#include "core/convert/converter.h"

#include <chrono>
#include <cmath>
#include <fstream>

#include "core/convert/deepseek_config.h"
#include "core/convert/exact.h"
#include "core/convert/layer_converter.h"
#include "core/convert/output_dir.h"
#include "core/convert/source_model.h"
#include "core/convert/stock_norms.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::convert {
namespace {

// transformers builds kv_a_layernorm (and q_a_layernorm) with eps 1e-6 whatever the config says;
// writing the same value as rms_norm_eps makes every engine agree.
constexpr double kStockNormEps = 1e-6;

class ExactConverter : public LayerConverter {
 public:
  explicit ExactConverter(const ModelConfig& source) : source_(source) {}
  MlaShape shape() const override { return ExactShape(source_); }
  std::vector<double> rope_frequencies() const override { return ExactRopeFrequencies(source_); }
  absl::StatusOr<MlaLayer> Convert(int64_t, const GqaLayer& layer, nlohmann::json*) override {
    return ConvertExact(source_, layer);
  }

 private:
  ModelConfig source_;
};

absl::Status CheckSource(const ModelConfig& config) {
  if (config.architecture != Architecture::kLlama) {
    return absl::InvalidArgumentError(fmt::format(
        "cannot convert model_type \"{}\": sources must be llama, mistral or qwen2", config.model_type));
  }
  if (config.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(fmt::format("head_dim {} is odd; RoPE needs pairs", config.head_dim));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LayerConverter>> MakeLayerConverter(const ModelConfig& config,
                                                                    const ConversionOptions& options) {
  if (options.mode == Mode::kExact) {
    if (options.kv_lora_rank != 0 || options.qk_rope_head_dim != 0 || options.q_lora_rank != 0) {
      return absl::InvalidArgumentError(
          "kv_lora_rank, qk_rope_head_dim and q_lora_rank do not apply to mode exact (its shape is fixed)");
    }
    return std::unique_ptr<LayerConverter>(new ExactConverter(config));
  }
  return absl::UnimplementedError("mode deepseek is not available yet");
}

DType OutputDType(const ModelConfig& config, const ConversionOptions& options) {
  if (options.dtype) return *options.dtype;
  if (config.torch_dtype == "bfloat16") return DType::kBF16;
  if (config.torch_dtype == "float16") return DType::kF16;
  return DType::kF32;
}

std::string TorchDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBF16: return "bfloat16";
    case DType::kF16: return "float16";
    default: return "float32";
  }
}

// Names and shapes of everything the output holds, known before any layer is converted.
struct OutputPlan {
  MlaShape shape;
  bool attention_bias = false;  // kv_a / o_proj (and q_a) biases
  bool tie_word_embeddings = false;
  std::vector<TensorSpec> specs;
};

OutputPlan PlanOutput(const ModelConfig& c, const MlaShape& shape, bool query_bias, bool untie, DType dtype) {
  OutputPlan plan;
  plan.shape = shape;
  plan.attention_bias = c.attention_bias;
  plan.tie_word_embeddings = c.tie_word_embeddings && !untie;
  const int64_t d = c.hidden_size;
  const int64_t qk = shape.qk_nope_head_dim + shape.qk_rope_head_dim;
  auto add = [&](std::string name, std::vector<int64_t> dims) { plan.specs.push_back({std::move(name), dtype, dims}); };
  add("model.embed_tokens.weight", {c.vocab_size, d});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    add(p + "input_layernorm.weight", {d});
    add(p + "post_attention_layernorm.weight", {d});
    add(p + "mlp.gate_proj.weight", {c.intermediate_size, d});
    add(p + "mlp.up_proj.weight", {c.intermediate_size, d});
    add(p + "mlp.down_proj.weight", {d, c.intermediate_size});
    const std::string a = p + "self_attn.";
    if (shape.q_lora_rank > 0) {
      add(a + "q_a_proj.weight", {shape.q_lora_rank, d});
      add(a + "q_a_layernorm.weight", {shape.q_lora_rank});
      add(a + "q_b_proj.weight", {shape.heads * qk, shape.q_lora_rank});
      if (plan.attention_bias || query_bias) add(a + "q_a_proj.bias", {shape.q_lora_rank});
    } else {
      add(a + "q_proj.weight", {shape.heads * qk, d});
    }
    add(a + "kv_a_proj_with_mqa.weight", {shape.kv_lora_rank + shape.qk_rope_head_dim, d});
    add(a + "kv_a_layernorm.weight", {shape.kv_lora_rank});
    add(a + "kv_b_proj.weight", {shape.heads * (shape.qk_nope_head_dim + shape.v_head_dim), shape.kv_lora_rank});
    add(a + "o_proj.weight", {d, shape.heads * shape.v_head_dim});
    if (plan.attention_bias) {
      add(a + "kv_a_proj_with_mqa.bias", {shape.kv_lora_rank + shape.qk_rope_head_dim});
      add(a + "o_proj.bias", {d});
    }
  }
  add("model.norm.weight", {d});
  if (!plan.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, d});
  return plan;
}

class Pipeline {
 public:
  Pipeline(const TensorStore& store, SafetensorsWriter* writer, double residual_scale)
      : store_(store), writer_(writer), residual_scale_(residual_scale) {}

  absl::Status WriteMatrix(const std::string& name, const MatD& m) {
    const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> f = m.cast<float>();
    bytes_ += static_cast<int64_t>(f.size()) * 4;
    return writer_->WriteFloats(name, f.data(), static_cast<size_t>(f.size()));
  }
  absl::Status WriteVector(const std::string& name, const VecD& v) {
    const Eigen::VectorXf f = v.cast<float>();
    bytes_ += static_cast<int64_t>(f.size()) * 4;
    return writer_->WriteFloats(name, f.data(), static_cast<size_t>(f.size()));
  }
  // Copies a source tensor to the output, times `scale`.
  absl::Status Copy(const std::string& from, const std::string& to, double scale) {
    ASSIGN_OR_RETURN(TensorView view, store_.Get(from));
    std::vector<float> values;
    RETURN_IF_ERROR(ConvertToFloat(view, &values));
    if (scale != 1.0) {
      for (float& v : values) v = static_cast<float>(v * scale);
    }
    bytes_ += static_cast<int64_t>(values.size()) * 4;
    return writer_->WriteFloats(to, values.data(), values.size());
  }

  absl::Status WriteLayer(int64_t i, const MlaLayer& m, bool attention_bias) {
    const std::string p = fmt::format("model.layers.{}.", i);
    const std::string a = p + "self_attn.";
    RETURN_IF_ERROR(Copy(p + "input_layernorm.weight", p + "input_layernorm.weight", 1.0));
    RETURN_IF_ERROR(Copy(p + "post_attention_layernorm.weight", p + "post_attention_layernorm.weight", 1.0));
    RETURN_IF_ERROR(Copy(p + "mlp.gate_proj.weight", p + "mlp.gate_proj.weight", 1.0));
    RETURN_IF_ERROR(Copy(p + "mlp.up_proj.weight", p + "mlp.up_proj.weight", 1.0));
    RETURN_IF_ERROR(Copy(p + "mlp.down_proj.weight", p + "mlp.down_proj.weight", residual_scale_));
    if (m.q_a.size() > 0) {
      RETURN_IF_ERROR(WriteMatrix(a + "q_a_proj.weight", m.q_a));
      RETURN_IF_ERROR(WriteVector(a + "q_a_layernorm.weight", m.q_a_norm));
      RETURN_IF_ERROR(WriteMatrix(a + "q_b_proj.weight", m.q_b));
      if (writer_planned_q_a_bias_) {
        RETURN_IF_ERROR(WriteVector(a + "q_a_proj.bias", m.q_a_bias ? *m.q_a_bias : VecD::Zero(m.q_a.rows())));
      }
    } else {
      RETURN_IF_ERROR(WriteMatrix(a + "q_proj.weight", m.q_proj));
    }
    RETURN_IF_ERROR(WriteMatrix(a + "kv_a_proj_with_mqa.weight", m.kv_a));
    RETURN_IF_ERROR(WriteVector(a + "kv_a_layernorm.weight", m.kv_a_norm));
    RETURN_IF_ERROR(WriteMatrix(a + "kv_b_proj.weight", m.kv_b));
    RETURN_IF_ERROR(WriteMatrix(a + "o_proj.weight", m.o_proj * residual_scale_));
    if (attention_bias) {
      RETURN_IF_ERROR(WriteVector(a + "kv_a_proj_with_mqa.bias", m.kv_a_bias ? *m.kv_a_bias : VecD::Zero(m.kv_a.rows())));
      RETURN_IF_ERROR(WriteVector(a + "o_proj.bias", VecD::Zero(m.o_proj.rows())));
    }
    return absl::OkStatus();
  }

  void set_q_a_bias_planned(bool planned) { writer_planned_q_a_bias_ = planned; }
  int64_t bytes() const { return bytes_; }

 private:
  const TensorStore& store_;
  SafetensorsWriter* writer_;
  double residual_scale_;
  bool writer_planned_q_a_bias_ = false;
  int64_t bytes_ = 0;
};

absl::Status WriteJson(const std::filesystem::path& path, const nlohmann::json& json) {
  std::ofstream out(path);
  out << json.dump(2) << "\n";
  out.close();
  if (!out) return absl::ResourceExhaustedError(fmt::format("cannot write {} (disk full?)", path.string()));
  return absl::OkStatus();
}

absl::Status CopyTokenizerFiles(const std::filesystem::path& source, const std::filesystem::path& dest) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                           "special_tokens_map.json", "tokenizer.model"}) {
    std::error_code ec;
    if (!std::filesystem::exists(source / name, ec)) continue;
    std::filesystem::copy_file(source / name, dest / name, ec);
    if (ec) return absl::ResourceExhaustedError(fmt::format("cannot copy {}: {}", name, ec.message()));
  }
  return absl::OkStatus();
}

int64_t CountParameters(const std::vector<TensorSpec>& specs) {
  int64_t n = 0;
  for (const TensorSpec& s : specs) n += static_cast<int64_t>(s.NumBytes() / DTypeSize(s.dtype));
  return n;
}

int64_t CountParameters(const TensorStore& store) {
  int64_t n = 0;
  for (const std::string& name : store.Names()) n += store.Find(name)->NumElements();
  return n;
}

}  // namespace

absl::StatusOr<nlohmann::json> ConvertModel(const std::filesystem::path& source,
                                            const std::filesystem::path& destination,
                                            const ConversionOptions& options, const ProgressCallback& progress,
                                            const CancelCheck& cancelled) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(source / "config.json"));
  RETURN_IF_ERROR(CheckSource(config));
  ASSIGN_OR_RETURN(std::unique_ptr<LayerConverter> converter, MakeLayerConverter(config, options));
  ASSIGN_OR_RETURN(TensorStore store, TensorStore::OpenSafetensors(source));
  ASSIGN_OR_RETURN(StagedDirectory staged, StagedDirectory::Create(destination, options.force));

  const DType dtype = OutputDType(config, options);
  // Scaling the residual stream by s = sqrt(eps_out / eps_in) keeps every RMSNorm's output exact
  // when eps changes to kStockNormEps; the LM head then needs its own (unscaled) copy.
  const double residual_scale = std::sqrt(kStockNormEps / config.rms_norm_eps);
  const bool rescaled = std::abs(residual_scale - 1.0) > 1e-12;
  MlaShape shape = converter->shape();
  const bool query_bias = config.attention_bias;
  if (query_bias) shape.q_lora_rank = config.hidden_size + 1;  // FoldQueryBias's rank
  OutputPlan plan = PlanOutput(config, shape, query_bias, rescaled, dtype);
  SafetensorsWriterOptions writer_options;
  writer_options.max_shard_bytes = options.max_shard_bytes;
  ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsWriter> writer,
                   SafetensorsWriter::Create(staged.path(), plan.specs, writer_options));
  Pipeline pipeline(store, writer.get(), residual_scale);
  pipeline.set_q_a_bias_planned(shape.q_lora_rank > 0 && (plan.attention_bias || query_bias));

  nlohmann::json layers = nlohmann::json::array();
  const int64_t n_layers = config.num_hidden_layers;
  RETURN_IF_ERROR(pipeline.Copy("model.embed_tokens.weight", "model.embed_tokens.weight", residual_scale));
  for (int64_t i = 0; i < n_layers; ++i) {
    if (cancelled && cancelled()) return absl::CancelledError("conversion cancelled");
    ASSIGN_OR_RETURN(GqaLayer gqa, ReadGqaLayer(store, config, i));
    nlohmann::json layer_report = {{"layer", i}};
    ASSIGN_OR_RETURN(MlaLayer mla, converter->Convert(i, gqa, &layer_report));
    ASSIGN_OR_RETURN(VecD input_norm, ReadVector(store, fmt::format("model.layers.{}.input_layernorm.weight", i),
                                                 config.hidden_size));
    const double bound = LatentMeanSquareBound(mla.kv_a.topRows(shape.kv_lora_rank), input_norm);
    const double t = ChooseLatentScale(bound, kStockNormEps, options.max_norm_deviation);
    FoldLatentNorm(t, kStockNormEps, &mla);
    if (query_bias) FoldQueryBias(input_norm, kStockNormEps, options.max_norm_deviation, &mla);
    layer_report["latent_norm_scale"] = t;
    layer_report["latent_norm_max_relative_deviation"] = LatentNormDeviation(bound, kStockNormEps, t);
    RETURN_IF_ERROR(pipeline.WriteLayer(i, mla, plan.attention_bias));
    layers.push_back(std::move(layer_report));
    if (progress) progress({"convert", i + 1, n_layers, pipeline.bytes()});
  }
  RETURN_IF_ERROR(pipeline.Copy("model.norm.weight", "model.norm.weight", 1.0));
  if (!plan.tie_word_embeddings) {
    const bool has_head = store.Find("lm_head.weight") != nullptr && !config.tie_word_embeddings;
    RETURN_IF_ERROR(pipeline.Copy(has_head ? "lm_head.weight" : "model.embed_tokens.weight", "lm_head.weight", 1.0));
  }
  ASSIGN_OR_RETURN(std::vector<std::filesystem::path> files, writer->Commit());

  const RopeEncoding rope = EncodeRopeFrequencies(converter->rope_frequencies(), config.rope_theta);
  const nlohmann::json out_config = MakeDeepseekConfig(config, shape, rope, kStockNormEps, plan.tie_word_embeddings,
                                                       plan.attention_bias || query_bias, TorchDTypeName(dtype));
  RETURN_IF_ERROR(WriteJson(staged.path() / "config.json", out_config));
  RETURN_IF_ERROR(CopyTokenizerFiles(source, staged.path()));

  const int64_t bytes_per_value = static_cast<int64_t>(DTypeSize(dtype));
  const int64_t kv_before = 2 * config.num_key_value_heads * config.head_dim * n_layers * bytes_per_value;
  const int64_t kv_after = (shape.kv_lora_rank + shape.qk_rope_head_dim) * n_layers * bytes_per_value;
  nlohmann::json report = {
      {"mode", ModeName(options.mode)},
      {"source", std::filesystem::absolute(source).string()},
      {"destination", std::filesystem::absolute(destination).string()},
      {"source_model_type", config.model_type},
      {"dtype", std::string(DTypeName(dtype))},
      {"mla_shape",
       {{"kv_lora_rank", shape.kv_lora_rank},
        {"qk_rope_head_dim", shape.qk_rope_head_dim},
        {"qk_nope_head_dim", shape.qk_nope_head_dim},
        {"v_head_dim", shape.v_head_dim},
        {"q_lora_rank", shape.q_lora_rank}}},
      {"kv_values_per_token_per_layer", {{"before", 2 * config.num_key_value_heads * config.head_dim},
                                         {"after", shape.kv_lora_rank + shape.qk_rope_head_dim}}},
      {"kv_bytes_per_token", {{"before", kv_before}, {"after", kv_after}}},
      {"parameters", {{"before", CountParameters(store)}, {"after", CountParameters(plan.specs)}}},
      {"rope", {{"encoding", rope.longrope ? "longrope" : "default"}, {"theta", rope.theta}}},
      {"engines", CompatibleEngines(rope)},
      {"residual_scale", residual_scale},
      {"rms_norm_eps", {{"before", config.rms_norm_eps}, {"after", kStockNormEps}}},
      {"layers", layers},
      {"files", nlohmann::json::array()},
  };
  for (const auto& f : files) report["files"].push_back(f.filename().string());
  report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RETURN_IF_ERROR(WriteJson(staged.path() / "conversion_report.json", report));
  RETURN_IF_ERROR(staged.Publish());
  if (progress) progress({"done", n_layers, n_layers, pipeline.bytes()});
  return report;
}

}  // namespace transmla::convert
