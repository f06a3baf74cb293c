#include "server/conversion/request_validation.h"

#include <cmath>
#include <regex>

#include "core/convert/calibration_device.h"
#include "core/engine/gpu_backend.h"
#include "core/io/hf_config.h"
#include "fmt/format.h"

namespace transmla::server {
namespace {

namespace v1 = transmla::v1;

constexpr int kMaxLabels = 16;
constexpr size_t kMaxLabelBytes = 256;
constexpr int64_t kMinShardBytes = int64_t{1} << 20;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status CheckAtLeast(const char* field, int64_t value, int64_t min) {
  if (value < min) return Invalid(fmt::format("{} must be >= {}, got {}", field, min, value));
  return absl::OkStatus();
}

absl::Status ReadEnums(const v1::ConversionOptions& in, convert::ConversionOptions* out) {
  switch (in.mode()) {
    case v1::CONVERSION_MODE_UNSPECIFIED:
    case v1::CONVERSION_MODE_DEEPSEEK: out->mode = convert::Mode::kDeepseek; break;
    case v1::CONVERSION_MODE_EXACT: out->mode = convert::Mode::kExact; break;
    default: return Invalid(fmt::format("options.mode has unknown value {}", static_cast<int>(in.mode())));
  }
  switch (in.rotation()) {
    case v1::ROTATION_UNSPECIFIED:
    case v1::ROTATION_HERMITIAN: out->deepseek.rotation = convert::RotationKind::kHermitian; break;
    case v1::ROTATION_REAL: out->deepseek.rotation = convert::RotationKind::kReal; break;
    case v1::ROTATION_QUERY_WEIGHTED: out->deepseek.rotation = convert::RotationKind::kHermitianQueryWeighted; break;
    default: return Invalid(fmt::format("options.rotation has unknown value {}", static_cast<int>(in.rotation())));
  }
  switch (in.balance()) {
    case v1::BALANCE_UNSPECIFIED:
    case v1::BALANCE_QUERY_WHITENED: out->deepseek.balance = convert::BalanceKind::kQueryWhitened; break;
    case v1::BALANCE_TRANSMLA: out->deepseek.balance = convert::BalanceKind::kTransMla; break;
    default: return Invalid(fmt::format("options.balance has unknown value {}", static_cast<int>(in.balance())));
  }
  switch (in.dtype()) {
    case v1::OUTPUT_DTYPE_UNSPECIFIED: break;
    case v1::OUTPUT_DTYPE_F32: out->dtype = DType::kF32; break;
    case v1::OUTPUT_DTYPE_F16: out->dtype = DType::kF16; break;
    case v1::OUTPUT_DTYPE_BF16: out->dtype = DType::kBF16; break;
    default: return Invalid(fmt::format("options.dtype has unknown value {}", static_cast<int>(in.dtype())));
  }
  return absl::OkStatus();
}

absl::Status ReadNumbers(const v1::ConversionOptions& in, convert::ConversionOptions* out) {
  convert::DeepseekModeOptions& d = out->deepseek;
  if (in.has_kv_lora_rank()) {
    if (absl::Status s = CheckAtLeast("options.kv_lora_rank", in.kv_lora_rank(), 1); !s.ok()) return s;
    d.kv_lora_rank = in.kv_lora_rank();
  }
  if (in.has_qk_rope_head_dim()) {
    if (in.qk_rope_head_dim() < 2 || in.qk_rope_head_dim() % 2 != 0) {
      return Invalid(fmt::format("options.qk_rope_head_dim must be even and >= 2, got {}", in.qk_rope_head_dim()));
    }
    d.qk_rope_head_dim = in.qk_rope_head_dim();
  }
  if (in.has_rope_pairs()) {
    if (absl::Status s = CheckAtLeast("options.rope_pairs", in.rope_pairs(), 1); !s.ok()) return s;
    d.pairs_per_frequency = in.rope_pairs();
  }
  if (in.has_collapse()) {
    if (absl::Status s = CheckAtLeast("options.collapse", in.collapse(), 1); !s.ok()) return s;
    d.collapse = in.collapse();
  }
  if (in.has_freqfold()) {
    if (absl::Status s = CheckAtLeast("options.freqfold", in.freqfold(), 1); !s.ok()) return s;
    d.freqfold = in.freqfold();
  }
  if (in.has_q_lora_rank()) {
    if (absl::Status s = CheckAtLeast("options.q_lora_rank", in.q_lora_rank(), 0); !s.ok()) return s;
    d.q_lora_rank = in.q_lora_rank();
  }
  if (in.has_alpha()) {
    if (!(in.alpha() > 0) || !std::isfinite(in.alpha())) {
      return Invalid(fmt::format("options.alpha must be finite and > 0, got {}", in.alpha()));
    }
    d.alpha = in.alpha();
    d.alpha_candidates.clear();  // a fixed multiplier, as the CLI's --alpha
  }
  d.refit_values = !in.no_value_refit();
  if (in.has_max_norm_deviation()) {
    const double v = in.max_norm_deviation();
    if (!(v > 0 && v < 1)) return Invalid(fmt::format("options.max_norm_deviation must be in (0, 1), got {}", v));
    out->max_norm_deviation = v;
  }
  if (in.has_max_shard_bytes()) {
    if (absl::Status s = CheckAtLeast("options.max_shard_bytes", in.max_shard_bytes(), kMinShardBytes); !s.ok()) return s;
    out->max_shard_bytes = static_cast<size_t>(in.max_shard_bytes());
  }
  return absl::OkStatus();
}

absl::Status ReadCalibration(const v1::CalibrationOptions& in, const PathGuard& models, convert::CalibrationOptions* out) {
  if (!in.text().empty()) {
    absl::StatusOr<std::filesystem::path> text = models.Resolve("options.calibration.text", in.text());
    if (!text.ok()) return text.status();
    if (!std::filesystem::is_regular_file(*text)) {
      return Invalid(fmt::format("options.calibration.text \"{}\" is not a file", in.text()));
    }
    out->text = *text;
  }
  if (in.has_samples()) {
    if (absl::Status s = CheckAtLeast("options.calibration.samples", in.samples(), 1); !s.ok()) return s;
    out->samples = in.samples();
  }
  if (in.has_max_length()) {
    if (absl::Status s = CheckAtLeast("options.calibration.max_length", in.max_length(), 2); !s.ok()) return s;
    out->max_length = in.max_length();
  }
  if (in.has_first_document()) {
    if (absl::Status s = CheckAtLeast("options.calibration.first_document", in.first_document(), 0); !s.ok()) return s;
    out->first_document = in.first_document();
  }
  if (in.has_documents()) {
    if (absl::Status s = CheckAtLeast("options.calibration.documents", in.documents(), 1); !s.ok()) return s;
    out->documents = in.documents();
  }
  if (in.has_seed()) out->seed = in.seed();
  switch (in.device()) {
    case v1::CALIBRATION_DEVICE_UNSPECIFIED:
    case v1::CALIBRATION_DEVICE_AUTO: out->device = "auto"; break;
    case v1::CALIBRATION_DEVICE_CPU: out->device = "cpu"; break;
    case v1::CALIBRATION_DEVICE_CUDA: out->device = "cuda"; break;
    default:
      return Invalid(fmt::format("options.calibration.device has unknown value {}", static_cast<int>(in.device())));
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) return Invalid(fmt::format("labels: at most {} entries, got {}", kMaxLabels, labels.size()));
  for (const auto& [key, value] : labels) {
    if (key.empty() || key.size() > kMaxLabelBytes || value.size() > kMaxLabelBytes) {
      return Invalid(fmt::format("labels: keys must be 1..{} bytes and values at most {} bytes", kMaxLabelBytes, kMaxLabelBytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateJobId(const std::string& field, const std::string& job_id) {
  static const std::regex kPattern("[a-z0-9][a-z0-9_-]{0,62}");
  if (!std::regex_match(job_id, kPattern)) {
    return Invalid(fmt::format("{} must be 1 to 63 characters of [a-z0-9_-] starting with a letter or digit, got \"{}\"",
                               field, job_id.substr(0, 80)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ConversionPlan> PlanConversion(const v1::SubmitJobRequest& request, const PathGuard& models) {
  ConversionPlan plan;
  absl::StatusOr<std::filesystem::path> source = models.Resolve("source_model", request.source_model());
  if (!source.ok()) return source.status();
  if (!std::filesystem::is_directory(*source)) {
    return Invalid(fmt::format("source_model \"{}\" is not a folder", request.source_model()));
  }
  plan.source = *source;
  const v1::ConversionOptions& options = request.options();
  if (absl::Status s = ReadEnums(options, &plan.options); !s.ok()) return s;
  if (absl::Status s = ReadNumbers(options, &plan.options); !s.ok()) return s;
  if (absl::Status s = ReadCalibration(options.calibration(), models, &plan.options.calibration); !s.ok()) return s;
  if (absl::Status s = CheckLabels(request.labels()); !s.ok()) return s;
  absl::StatusOr<ModelConfig> config = ReadModelConfig(plan.source / "config.json");
  if (!config.ok()) {
    return Invalid(fmt::format("source_model \"{}\" is not a readable HF model: {}", request.source_model(),
                               std::string(config.status().message())));
  }
  if (plan.options.mode == convert::Mode::kDeepseek) {
    absl::StatusOr<convert::DeepseekModeOptions> resolved = convert::ResolveDeepseekOptions(*config, plan.options.deepseek);
    if (!resolved.ok()) {
      return Invalid(fmt::format("options do not fit source_model \"{}\": {}", request.source_model(),
                                 std::string(resolved.status().message())));
    }
  }
  if (absl::Status s = convert::CheckCalibrationDevice(plan.options.calibration.device, *config, RegisteredGpuBackend());
      !s.ok()) {
    return absl::Status(s.code(), fmt::format("options.calibration.device: {}", std::string(s.message())));
  }
  // The service owns the output folder: it is removed and rebuilt on every attempt.
  plan.options.force = true;
  return plan;
}

}  // namespace transmla::server
