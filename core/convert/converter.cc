#include "core/convert/converter.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "core/convert/calibration.h"
#include "core/convert/calibration_device.h"
#include "core/convert/deepseek_config.h"
#include "core/convert/deepseek_mode.h"
#include "core/convert/exact.h"
#include "core/convert/layer_converter.h"
#include "core/convert/mla_tensors.h"
#include "core/convert/output_dir.h"
#include "core/convert/query_lora.h"
#include "core/convert/source_model.h"
#include "core/convert/stock_norms.h"
#include "core/convert/value_refit.h"
#include "core/engine/gpu_backend.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "core/util/heap_reuse.h"
#include "core/util/mapped_file.h"
#include "core/util/phase_seconds.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace transmla::convert {
namespace {

// transformers builds kv_a_layernorm (and q_a_layernorm) with eps 1e-6 whatever the config says;
// writing the same value as rms_norm_eps makes every engine agree.
constexpr double kStockNormEps = 1e-6;
// Elements per slice when copying tensors through (64 MiB of float32).
constexpr size_t kCopySliceElements = size_t{16} << 20;

class ExactConverter : public LayerConverter {
 public:
  explicit ExactConverter(const ModelConfig& source) : source_(source) {}
  MlaShape shape() const override { return ExactShape(source_); }
  std::vector<double> rope_frequencies() const override { return ExactRopeFrequencies(source_); }
  absl::StatusOr<std::unique_ptr<Prepared>> Prepare(int64_t, const GqaLayer& layer, const InputMoment&,
                                                    BlockRunner*) override {
    return std::unique_ptr<Prepared>(std::make_unique<ExactLayer>(source_, layer));
  }

 private:
  // The exact conversion has no balance to choose.
  class ExactLayer : public Prepared {
   public:
    ExactLayer(const ModelConfig& source, const GqaLayer& layer) : source_(source), layer_(layer) {}
    absl::StatusOr<MlaLayer> Convert(double, nlohmann::json*) const override { return ConvertExact(source_, layer_); }

   private:
    const ModelConfig& source_;
    const GqaLayer& layer_;
  };

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
    const DeepseekModeOptions& d = options.deepseek;
    if (d.kv_lora_rank != 0 || d.qk_rope_head_dim != 0 || d.q_lora_rank != 0 || d.pairs_per_frequency != 1 ||
        d.collapse != 1 || d.freqfold != 1) {
      return absl::InvalidArgumentError(
          "kv_lora_rank, qk_rope_head_dim, rope pairs, collapse and freqfold do not apply to mode exact (its shape is fixed)");
    }
    return std::unique_ptr<LayerConverter>(new ExactConverter(config));
  }
  ASSIGN_OR_RETURN(DeepseekModeOptions resolved, ResolveDeepseekOptions(config, options.deepseek));
  return MakeDeepseekConverter(config, resolved);
}

// FP16 cannot hold the stock-norm fold (stock_norms.h): it scales kv_a's latent rows by ~1e-8, below
// FP16's smallest value (2^-24), and the written model would compute NaN. An FP16 source converts
// to BF16 unless asked otherwise; asking for FP16 is an error.
absl::StatusOr<DType> OutputDType(const ModelConfig& config, const ConversionOptions& options) {
  if (options.dtype == DType::kF16) {
    return absl::InvalidArgumentError(
        "dtype f16 cannot hold the converted model: the folded kv_a_layernorm scales kv_a's latent rows by about "
        "1e-8, below FP16's smallest value, so they would be written as zeros; use bf16 or f32");
  }
  if (options.dtype) return *options.dtype;
  if (config.torch_dtype == "bfloat16" || config.torch_dtype == "float16") return DType::kBF16;
  return DType::kF32;
}

std::string TorchDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBF16: return "bfloat16";
    case DType::kF16: return "float16";
    default: return "float32";
  }
}

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

// Everything one conversion run shares across layers.
class Conversion {
 public:
  Conversion(const ModelConfig& config, const TensorStore& store, const ConversionOptions& options,
             LayerConverter* converter, SafetensorsWriter* writer, OutputLayout layout, double residual_scale)
      : config_(config),
        store_(store),
        options_(options),
        converter_(converter),
        writer_(writer),
        layout_(std::move(layout)),
        residual_scale_(residual_scale) {}

  // Copies a source tensor to the output, times `scale`, in slices of bounded size so that even a
  // 128K-vocabulary embedding passes through a few hundred MiB.
  absl::Status Copy(const std::string& from, const std::string& to, double scale) {
    ASSIGN_OR_RETURN(TensorView view, store_.Get(from));
    const size_t total = static_cast<size_t>(view.NumElements());
    const size_t element = DTypeSize(view.dtype);
    std::vector<float> values;
    for (size_t first = 0; first < total; first += kCopySliceElements) {
      TensorView slice = view;
      const size_t count = std::min(kCopySliceElements, total - first);
      slice.shape = {static_cast<int64_t>(count)};
      slice.data = view.data + first * element;
      slice.nbytes = count * element;
      RETURN_IF_ERROR(ConvertToFloat(slice, &values));
      if (scale != 1.0) {
        for (float& v : values) v = static_cast<float>(v * scale);
      }
      RETURN_IF_ERROR(writer_->WriteFloatsAt(to, first, values.data(), values.size()));
      bytes_ += static_cast<int64_t>(count * sizeof(float));
      DropResidentPages(slice.data, slice.nbytes);
    }
    return absl::OkStatus();
  }

  absl::Status Write(const std::string& name, const std::vector<float>& values) {
    bytes_ += static_cast<int64_t>(values.size() * sizeof(float));
    return writer_->WriteFloats(name, values.data(), values.size());
  }

  // Converts, folds and writes block `i`; advances the calibration stream through it. `cancelled`
  // is polled between the steps of the layer (data-free, each well under a second at 8B scale).
  absl::StatusOr<nlohmann::json> ConvertLayer(int64_t i, LayerwiseCalibration* calibration,
                                              const CancelCheck& cancelled) {
    auto check = [&cancelled]() -> absl::Status {
      if (cancelled && cancelled()) return absl::CancelledError("conversion cancelled");
      return absl::OkStatus();
    };
    const std::string p = fmt::format("model.layers.{}.", i);
    std::optional<HeapReuse> heap_reuse(std::in_place);
    PhaseSeconds seconds;
    PhaseSeconds::Clock::time_point t = PhaseSeconds::Clock::now();
    ASSIGN_OR_RETURN(GqaLayer gqa, ReadGqaLayer(store_, config_, i));
    ASSIGN_OR_RETURN(VecD input_norm, ReadVector(store_, p + "input_layernorm.weight", config_.hidden_size));
    const InputMoment moment =
        calibration != nullptr ? calibration->Moment(input_norm, config_.rms_norm_eps) : PriorMoment(input_norm);
    std::vector<double> candidates = converter_->balance_candidates();
    if (calibration == nullptr) candidates.resize(1);
    const bool refit = calibration != nullptr && options_.mode == Mode::kDeepseek && options_.deepseek.refit_values;
    const cpu::Mat normed = refit ? calibration->NormedInput(input_norm, config_.rms_norm_eps) : cpu::Mat();
    t = seconds.Add("read_and_moments", t);

    // With calibration, the candidate whose block output is closest to the original block's wins.
    std::optional<cpu::Mat> reference;
    double reference_energy = 0;
    if (candidates.size() > 1) {
      ASSIGN_OR_RETURN(reference, calibration->Run(config_, store_, i));
      reference_energy = reference->squaredNorm();
      t = seconds.Add("block_runs", t);
    }
    nlohmann::json report, errors = nlohmann::json::object();
    MlaLayer best;
    cpu::Mat best_output;  // the kept candidate's block output: where the calibration stream goes next
    bool chosen = false;
    double best_error = INFINITY;
    BlockRunner* device = calibration != nullptr ? calibration->runner() : nullptr;
    ASSIGN_OR_RETURN(const std::unique_ptr<LayerConverter::Prepared> prepared,
                     converter_->Prepare(i, gqa, moment, device));
    if (candidates.size() > 1) {
      prepared->PrepareBalances(candidates);
      t = seconds.Add("conversion", t);
    }
    std::optional<RefitInputs> refit_inputs;  // shared by the candidates
    for (double balance : candidates) {
      RETURN_IF_ERROR(check());
      nlohmann::json candidate_report = {{"layer", i}};
      ASSIGN_OR_RETURN(MlaLayer mla, prepared->Convert(balance, &candidate_report));
      t = seconds.Add("conversion", t);
      RETURN_IF_ERROR(check());
      if (refit) {
        if (!refit_inputs) {
          refit_inputs = PrepareValueRefit(config_, gqa, layout_.shape, converter_->rope_frequencies(), normed,
                                           calibration->slices(), mla);
          t = seconds.Add("refit_inputs", t);
          RETURN_IF_ERROR(check());
        }
        ASSIGN_OR_RETURN(const RefitResult r,
                         RefitValueUpProjection(config_, layout_.shape, normed, calibration->slices(), *refit_inputs,
                                                calibration->runner(), &mla));
        candidate_report["value_refit_output_error"] = {{"before", r.error_before}, {"after", r.error_after}};
        t = seconds.Add("value_refit", t);
      }
      if (options_.mode == Mode::kDeepseek && options_.deepseek.q_lora_rank > 0) {
        candidate_report["query_energy_kept"] = CompressQueries(moment, options_.deepseek.q_lora_rank, &mla);
      }
      FoldNorms(input_norm, &mla, &candidate_report);
      t = seconds.Add("conversion", t);
      cpu::Mat output;
      double error = 0;
      if (calibration != nullptr) {
        RETURN_IF_ERROR(check());
        const CalibrationBlock block = BuildCalibrationBlock(i, mla);
        ASSIGN_OR_RETURN(output, calibration->Run(block.config, block.store, i));
        t = seconds.Add("block_runs", t);
        if (reference) {
          error = (output - *reference).squaredNorm() / reference_energy;
          errors[fmt::format("{}", balance)] = error;
        }
      }
      if (error < best_error || !chosen) {
        chosen = true;
        best_error = error;
        best = std::move(mla);
        best_output = std::move(output);
        report = std::move(candidate_report);
      }
    }
    if (reference) {
      report["block_output_relative_error"] = best_error;
      report["balance_search"] = errors;
    }

    // The layer's buffers go back to the system before the writes, which ran 1.3 s slower (1-layer
    // 8B-wide, 2 cores) with them held.
    heap_reuse.reset();
    for (const char* name : {"input_layernorm.weight", "post_attention_layernorm.weight", "mlp.gate_proj.weight",
                             "mlp.up_proj.weight"}) {
      RETURN_IF_ERROR(check());
      RETURN_IF_ERROR(Copy(p + name, p + name, 1.0));
    }
    RETURN_IF_ERROR(check());
    RETURN_IF_ERROR(Copy(p + "mlp.down_proj.weight", p + "mlp.down_proj.weight", residual_scale_));
    for (const NamedTensor& t : AttentionTensors(best, i, layout_, residual_scale_)) RETURN_IF_ERROR(Write(t.name, t.values));
    RETURN_IF_ERROR(check());
    if (calibration != nullptr) calibration->Advance(std::move(best_output));
    DropSourcePages(p);
    seconds.Add("write", t);
    report["seconds"] = seconds.ToJson();
    return report;
  }

  // Gives back the resident pages of every source tensor whose name starts with `prefix`.
  void DropSourcePages(const std::string& prefix) const {
    for (const std::string& name : store_.Names()) {
      if (name.rfind(prefix, 0) == 0) {
        const TensorView* v = store_.Find(name);
        DropResidentPages(v->data, v->nbytes);
      }
    }
  }

  int64_t bytes() const { return bytes_; }

 private:
  void FoldNorms(const VecD& input_norm, MlaLayer* mla, nlohmann::json* report) const {
    const int64_t rank = layout_.shape.kv_lora_rank;
    std::optional<VecD> latent_bias;
    if (mla->kv_a_bias) latent_bias = mla->kv_a_bias->head(rank);
    const double bound = LatentMeanSquareBound(mla->kv_a.topRows(rank), latent_bias, input_norm);
    const double t = ChooseLatentScale(bound, kStockNormEps, options_.max_norm_deviation);
    FoldRmsNorm(t, kStockNormEps, mla->kv_a.topRows(rank), &mla->kv_a_bias, &mla->kv_a_norm);
    (*report)["latent_norm_scale"] = t;
    (*report)["latent_norm_max_relative_deviation"] = LatentNormDeviation(bound, kStockNormEps, t);
    if (mla->q_a.size() > 0) {  // a q_lora from query PCA: the same fold on q_a_layernorm
      const double q_bound = LatentMeanSquareBound(mla->q_a, mla->q_a_bias, input_norm);
      const double q_t = ChooseLatentScale(q_bound, kStockNormEps, options_.max_norm_deviation);
      FoldRmsNorm(q_t, kStockNormEps, mla->q_a, &mla->q_a_bias, &mla->q_a_norm);
      (*report)["query_norm_max_relative_deviation"] = LatentNormDeviation(q_bound, kStockNormEps, q_t);
    } else if (layout_.shape.q_lora_rank > 0) {  // query biases only
      FoldQueryBias(input_norm, kStockNormEps, options_.max_norm_deviation, mla);
    }
  }

  // The converted block as our engines run it, in the source's residual scale (calibration): the
  // new attention tensors in float32 beside views of the source's norms and MLP.
  struct CalibrationBlock {
    ModelConfig config;
    TensorStore store;
  };
  CalibrationBlock BuildCalibrationBlock(int64_t i, const MlaLayer& mla) const {
    CalibrationBlock block;
    const std::string prefix = fmt::format("model.layers.{}.", i);
    for (const std::string& name : store_.Names()) {
      if (name.rfind(prefix, 0) == 0) block.store.AddView(*store_.Find(name));
    }
    for (NamedTensor& t : AttentionTensors(mla, i, layout_, 1.0)) {
      std::vector<uint8_t> bytes(t.values.size() * sizeof(float));
      std::memcpy(bytes.data(), t.values.data(), bytes.size());
      block.store.AddOwned(t.name, DType::kF32, t.shape, std::move(bytes));
    }
    const RopeEncoding rope = EncodeRopeFrequencies(converter_->rope_frequencies(), config_.rope_theta);
    block.config = MlaModelConfig(config_, layout_, rope.theta, rope.factors, config_.rms_norm_eps);
    return block;
  }

  const ModelConfig& config_;
  const TensorStore& store_;
  const ConversionOptions& options_;
  LayerConverter* converter_;
  SafetensorsWriter* writer_;
  OutputLayout layout_;
  double residual_scale_;
  int64_t bytes_ = 0;
};

absl::StatusOr<std::unique_ptr<LayerwiseCalibration>> StartCalibration(const std::filesystem::path& source,
                                                                        const ModelConfig& config,
                                                                        const TensorStore& store,
                                                                        const ConversionOptions& options) {
  if (options.mode == Mode::kExact || options.calibration.text.empty()) return nullptr;
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(source));
  ASSIGN_OR_RETURN(auto sequences, LoadCalibrationSequences(*tokenizer, options.calibration));
  ASSIGN_OR_RETURN(std::unique_ptr<BlockRunner> runner,
                   MakeBlockRunner(options.calibration.device, config, RegisteredGpuBackend()));
  return LayerwiseCalibration::Start(config, store, std::move(sequences), std::move(runner));
}

}  // namespace

absl::StatusOr<nlohmann::json> ConvertModel(const std::filesystem::path& source,
                                            const std::filesystem::path& destination,
                                            const ConversionOptions& options, const ProgressCallback& progress,
                                            const CancelCheck& cancelled) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(source / "config.json"));
  RETURN_IF_ERROR(CheckSource(config));
  RETURN_IF_ERROR(CheckCalibrationDevice(options.calibration.device, config, RegisteredGpuBackend()));
  ASSIGN_OR_RETURN(const DType dtype, OutputDType(config, options));
  ASSIGN_OR_RETURN(std::unique_ptr<LayerConverter> converter, MakeLayerConverter(config, options));
  ASSIGN_OR_RETURN(TensorStore store, TensorStore::OpenSafetensors(source));
  ASSIGN_OR_RETURN(StagedDirectory staged, StagedDirectory::Create(destination, options.force));
  if (progress) progress({"calibrate", 0, config.num_hidden_layers, 0});
  ASSIGN_OR_RETURN(std::unique_ptr<LayerwiseCalibration> calibration,
                   StartCalibration(source, config, store, options));
  nlohmann::json warnings = nlohmann::json::array();
  auto warn = [&warnings](std::string message) {
    spdlog::warn("{}", message);
    warnings.push_back(std::move(message));
  };
  if (options.mode == Mode::kDeepseek && calibration == nullptr) {
    warn("no calibration text: data-free conversion from the weights only (lower quality; pass a calibration text)");
  }
  if (calibration != nullptr && calibration->tokens() < converter->shape().kv_lora_rank) {
    warn(fmt::format("{} calibration tokens, fewer than kv_lora_rank {}: the latent's weakest directions and "
                     "the value refit are fitted to too little text (use several times kv_lora_rank tokens)",
                     calibration->tokens(), converter->shape().kv_lora_rank));
  }

  // Scaling the residual stream by s = sqrt(eps_out / eps_in) keeps every RMSNorm's output exact
  // when eps changes to kStockNormEps; the LM head then needs its own (unscaled) copy.
  const double residual_scale = std::sqrt(kStockNormEps / config.rms_norm_eps);
  const bool rescaled = std::abs(residual_scale - 1.0) > 1e-12;
  OutputLayout layout;
  layout.shape = converter->shape();
  // Stock DeepSeek's q_proj has no bias: query biases travel through a q_lora path (FoldQueryBias).
  if (config.attention_bias && layout.shape.q_lora_rank == 0) layout.shape.q_lora_rank = config.hidden_size + 1;
  layout.attention_bias = config.attention_bias;
  layout.tie_word_embeddings = config.tie_word_embeddings && !rescaled;
  const std::vector<TensorSpec> specs = PlanOutputTensors(config, layout, dtype);
  SafetensorsWriterOptions writer_options;
  writer_options.max_shard_bytes = options.max_shard_bytes;
  ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsWriter> writer,
                   SafetensorsWriter::Create(staged.path(), specs, writer_options));
  Conversion run(config, store, options, converter.get(), writer.get(), layout, residual_scale);

  nlohmann::json layers = nlohmann::json::array();
  const int64_t n_layers = config.num_hidden_layers;
  RETURN_IF_ERROR(run.Copy("model.embed_tokens.weight", "model.embed_tokens.weight", residual_scale));
  run.DropSourcePages("model.embed_tokens.");
  for (int64_t i = 0; i < n_layers; ++i) {
    if (cancelled && cancelled()) return absl::CancelledError("conversion cancelled");
    ASSIGN_OR_RETURN(nlohmann::json layer_report, run.ConvertLayer(i, calibration.get(), cancelled));
    layers.push_back(std::move(layer_report));
    if (progress) progress({"convert", i + 1, n_layers, run.bytes()});
  }
  RETURN_IF_ERROR(run.Copy("model.norm.weight", "model.norm.weight", 1.0));
  if (!layout.tie_word_embeddings) {
    const bool has_head = !config.tie_word_embeddings && store.Find("lm_head.weight") != nullptr;
    RETURN_IF_ERROR(run.Copy(has_head ? "lm_head.weight" : "model.embed_tokens.weight", "lm_head.weight", 1.0));
  }
  ASSIGN_OR_RETURN(std::vector<std::filesystem::path> files, writer->Commit());

  const RopeEncoding rope = EncodeRopeFrequencies(converter->rope_frequencies(), config.rope_theta);
  const nlohmann::json out_config = MakeDeepseekConfig(config, layout.shape, rope, kStockNormEps,
                                                       layout.tie_word_embeddings, layout.attention_bias,
                                                       TorchDTypeName(dtype));
  RETURN_IF_ERROR(WriteJson(staged.path() / "config.json", out_config));
  RETURN_IF_ERROR(CopyTokenizerFiles(source, staged.path()));

  const MlaShape& shape = layout.shape;
  const int64_t value_bytes = static_cast<int64_t>(DTypeSize(dtype));
  const int64_t values_before = 2 * config.num_key_value_heads * config.head_dim;
  const int64_t values_after = shape.kv_lora_rank + shape.qk_rope_head_dim;
  nlohmann::json calibration_report = {{"mode", calibration ? "text" : (options.mode == Mode::kExact ? "not needed" : "data-free")}};
  if (calibration) {
    calibration_report["text"] = std::filesystem::absolute(options.calibration.text).string();
    calibration_report["tokens"] = calibration->tokens();
    calibration_report["device"] = calibration->device();
    calibration_report["samples"] = options.calibration.samples;
    calibration_report["max_length"] = options.calibration.max_length;
  }
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
      {"kv_values_per_token_per_layer", {{"before", values_before}, {"after", values_after}}},
      {"kv_bytes_per_token",
       {{"before", values_before * n_layers * value_bytes}, {"after", values_after * n_layers * value_bytes}}},
      {"parameters", {{"before", CountParameters(store)}, {"after", CountParameters(specs)}}},
      {"calibration", calibration_report},
      {"rope", {{"encoding", rope.longrope ? "longrope" : "default"}, {"theta", rope.theta}}},
      {"engines", CompatibleEngines(rope)},
      {"residual_scale", residual_scale},
      {"rms_norm_eps", {{"before", config.rms_norm_eps}, {"after", kStockNormEps}}},
      {"layers", layers},
      {"files", nlohmann::json::array()},
      {"warnings", warnings},
  };
  for (const auto& f : files) report["files"].push_back(f.filename().string());
  report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RETURN_IF_ERROR(WriteJson(staged.path() / "conversion_report.json", report));
  RETURN_IF_ERROR(staged.Publish());
  if (progress) progress({"done", n_layers, n_layers, run.bytes()});
  return report;
}

}  // namespace transmla::convert
