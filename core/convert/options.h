#ifndef TRANSMLA_CORE_CONVERT_OPTIONS_H_
#define TRANSMLA_CORE_CONVERT_OPTIONS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "core/convert/calibration.h"
#include "core/convert/deepseek_mode.h"
#include "core/io/dtype.h"
#include "core/io/hf_config.h"

namespace transmla::convert {

enum class Mode {
  kExact,     // GQA as MLA with the same function and the same KV cache (TransMLA v1)
  kDeepseek,  // RoRoPE + joint PCA to a smaller latent (TransMLA v2), the default
};

struct ConversionOptions {
  Mode mode = Mode::kDeepseek;
  // deepseek mode: shape, RoRoPE and balance choices (0 picks the default for the source's shape)
  // and the calibration text (empty: data-free, from weights only).
  DeepseekModeOptions deepseek;
  CalibrationOptions calibration;
  // Output dtype; unset: the source's torch_dtype (F32 when absent).
  std::optional<DType> dtype;
  // Largest relative deviation the stock-norm folds may introduce for any token.
  double max_norm_deviation = 1e-9;
  // Output shard size.
  size_t max_shard_bytes = size_t{4} << 30;
  // Replace an existing output directory.
  bool force = false;
};

// Parses "exact" / "deepseek".
absl::StatusOr<Mode> ParseMode(const std::string& name);
std::string ModeName(Mode mode);

struct ConversionProgress {
  std::string stage;  // "calibrate", "convert", "write", "done"
  int64_t done = 0;
  int64_t total = 0;
  int64_t bytes_written = 0;
};
using ProgressCallback = std::function<void(const ConversionProgress&)>;
// Polled between layers; returning true stops the conversion with CANCELLED, leaving nothing.
using CancelCheck = std::function<bool()>;

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_OPTIONS_H_
