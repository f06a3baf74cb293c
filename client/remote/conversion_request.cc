#include "client/remote/conversion_request.h"

#include <functional>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cli {
namespace {

namespace v1 = transmla::v1;

// Copies --flag into an optional int64 field when given.
absl::Status SetInt(const Flags& flags, const std::string& name, const std::function<void(int64_t)>& set) {
  if (!flags.Has(name)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t value, flags.Int(name, 0));
  set(value);
  return absl::OkStatus();
}

absl::StatusOr<v1::ConversionMode> Mode(const Flags& flags) {
  const std::string mode = flags.Get("mode").value_or("deepseek");
  if (mode == "deepseek") return v1::CONVERSION_MODE_DEEPSEEK;
  if (mode == "exact") return v1::CONVERSION_MODE_EXACT;
  return absl::InvalidArgumentError(fmt::format("--mode must be exact or deepseek, got \"{}\"", mode));
}

absl::StatusOr<v1::Rotation> Rotation(const Flags& flags) {
  const std::string rotation = flags.Get("rotation").value_or("hermitian");
  if (rotation == "hermitian") return v1::ROTATION_HERMITIAN;
  if (rotation == "real") return v1::ROTATION_REAL;
  if (rotation == "query-weighted") return v1::ROTATION_QUERY_WEIGHTED;
  return absl::InvalidArgumentError(
      fmt::format("--rotation must be hermitian, real or query-weighted, got \"{}\"", rotation));
}

absl::StatusOr<v1::Balance> Balance(const Flags& flags) {
  const std::string balance = flags.Get("balance").value_or("query-whitened");
  if (balance == "query-whitened") return v1::BALANCE_QUERY_WHITENED;
  if (balance == "transmla") return v1::BALANCE_TRANSMLA;
  return absl::InvalidArgumentError(fmt::format("--balance must be query-whitened or transmla, got \"{}\"", balance));
}

absl::StatusOr<v1::OutputDType> OutputDType(const Flags& flags) {
  const std::string dtype = flags.Get("dtype").value_or("");
  if (dtype.empty()) return v1::OUTPUT_DTYPE_UNSPECIFIED;
  if (dtype == "f32") return v1::OUTPUT_DTYPE_F32;
  if (dtype == "f16") return v1::OUTPUT_DTYPE_F16;
  if (dtype == "bf16") return v1::OUTPUT_DTYPE_BF16;
  return absl::InvalidArgumentError(fmt::format("--dtype must be f32, f16 or bf16, got \"{}\"", dtype));
}

absl::StatusOr<v1::CalibrationDevice> CalibrationDevice(const Flags& flags) {
  const std::string device = *flags.Get("calibration-device");
  if (device == "auto") return v1::CALIBRATION_DEVICE_AUTO;
  if (device == "cpu") return v1::CALIBRATION_DEVICE_CPU;
  if (device == "cuda") return v1::CALIBRATION_DEVICE_CUDA;
  return absl::InvalidArgumentError(fmt::format("--calibration-device must be auto, cpu or cuda, got \"{}\"", device));
}

absl::Status ReadCalibration(const Flags& flags, v1::CalibrationOptions* c) {
  const std::string text = flags.Get("calibration").value_or("none");
  if (text != "none") c->set_text(text);
  if (flags.Has("calibration-device")) {
    ASSIGN_OR_RETURN(const v1::CalibrationDevice device, CalibrationDevice(flags));
    c->set_device(device);
  }
  RETURN_IF_ERROR(SetInt(flags, "calibration-samples", [c](int64_t v) { c->set_samples(v); }));
  RETURN_IF_ERROR(SetInt(flags, "calibration-length", [c](int64_t v) { c->set_max_length(v); }));
  return SetInt(flags, "calibration-documents", [c](int64_t v) { c->set_documents(v); });
}

}  // namespace

absl::StatusOr<v1::SubmitJobRequest> SubmitRequestFromFlags(const Flags& flags) {
  for (const char* local_only : {"eval-text", "force"}) {
    if (flags.Has(local_only)) {
      return absl::InvalidArgumentError(fmt::format("--{} is for in-process conversions, not --server", local_only));
    }
  }
  v1::SubmitJobRequest request;
  ASSIGN_OR_RETURN(*request.mutable_source_model(), flags.Required("model"));
  request.set_job_id(flags.Get("job-id").value_or(""));
  for (const std::string& label : flags.GetAll("label")) {
    const size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(fmt::format("--label must be KEY=VALUE, got \"{}\"", label));
    }
    (*request.mutable_labels())[label.substr(0, eq)] = label.substr(eq + 1);
  }
  v1::ConversionOptions* o = request.mutable_options();
  ASSIGN_OR_RETURN(const v1::ConversionMode mode, Mode(flags));
  o->set_mode(mode);
  ASSIGN_OR_RETURN(const v1::Rotation rotation, Rotation(flags));
  o->set_rotation(rotation);
  ASSIGN_OR_RETURN(const v1::Balance balance, Balance(flags));
  o->set_balance(balance);
  ASSIGN_OR_RETURN(const v1::OutputDType dtype, OutputDType(flags));
  o->set_dtype(dtype);
  RETURN_IF_ERROR(SetInt(flags, "kv-lora-rank", [o](int64_t v) { o->set_kv_lora_rank(v); }));
  RETURN_IF_ERROR(SetInt(flags, "qk-rope-head-dim", [o](int64_t v) { o->set_qk_rope_head_dim(v); }));
  RETURN_IF_ERROR(SetInt(flags, "rope-pairs", [o](int64_t v) { o->set_rope_pairs(v); }));
  RETURN_IF_ERROR(SetInt(flags, "collapse", [o](int64_t v) { o->set_collapse(v); }));
  RETURN_IF_ERROR(SetInt(flags, "freqfold", [o](int64_t v) { o->set_freqfold(v); }));
  RETURN_IF_ERROR(SetInt(flags, "q-lora-rank", [o](int64_t v) { o->set_q_lora_rank(v); }));
  if (flags.Has("alpha")) {
    ASSIGN_OR_RETURN(const double alpha, flags.Double("alpha", 1.0));
    o->set_alpha(alpha);
  }
  o->set_no_value_refit(flags.Bool("no-value-refit"));
  RETURN_IF_ERROR(ReadCalibration(flags, o->mutable_calibration()));
  return request;
}

}  // namespace transmla::cli
