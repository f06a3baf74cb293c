#ifndef TRANSMLA_CORE_CONVERT_CALIBRATION_H_
#define TRANSMLA_CORE_CONVERT_CALIBRATION_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/convert/joint_pca.h"
#include "core/engine/cpu/decoder_layer.h"
#include "core/engine/cpu/kv_cache.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla::convert {

struct CalibrationOptions {
  std::filesystem::path text;  // empty: data-free (weights only)
  int64_t first_document = 0;  // documents considered: [first_document, first_document + documents)
  int64_t documents = -1;      // -1: to the end of the text
  int64_t samples = 128;       // documents drawn from those
  int64_t max_length = 256;    // tokens per document, BOS included
  uint64_t seed = 42;
};

// Calibration documents: `text` split on blank lines, the chosen range shuffled with `seed`, the first `samples`,
// each BOS + tokens cut at max_length. Fails with InvalidArgument when the options are out of range
// or the text holds no document.
absl::StatusOr<std::vector<std::vector<int32_t>>> LoadCalibrationSequences(const Tokenizer& tokenizer,
                                                                           const CalibrationOptions& options);

// Runs calibration tokens through the model one layer at a time, the layers being the converted
// ones as they are produced, so each layer is calibrated on the activations the converted model
// really feeds it. Holds the hidden states of all calibration tokens ([tokens x hidden] floats).
class LayerwiseCalibration {
 public:
  static absl::StatusOr<std::unique_ptr<LayerwiseCalibration>> Start(const ModelConfig& config,
                                                                     const TensorStore& store,
                                                                     std::vector<std::vector<int32_t>> sequences);

  // The augmented second moment of the next layer's attention input: RMSNorm(hidden) * weight.
  InputMoment Moment(const VecD& input_norm_weight, double eps) const;

  // The hidden states after `layer`, without moving the stream.
  cpu::Mat Run(const cpu::DecoderLayer& layer) const;

  // Moves the hidden states through `layer`.
  void Advance(const cpu::DecoderLayer& layer) { hidden_ = Run(layer); }

  int64_t tokens() const { return hidden_.rows(); }

  // The next layer's attention input, RMSNorm(hidden) * weight ([tokens x hidden]), and where each
  // calibration sequence's rows are in it.
  cpu::Mat NormedInput(const VecD& input_norm_weight, double eps) const;
  const std::vector<cpu::SequenceSlice>& slices() const { return slices_; }

 private:
  LayerwiseCalibration() = default;

  std::vector<cpu::SequenceSlice> slices_;  // caches are made per run
  cpu::Mat hidden_;
};

// The weights-only prior for data-free conversion: E[x x^T] = diag(gamma^2) for the attention input
// x = RMSNorm(h) * gamma of a whitened residual stream, with no mean.
InputMoment PriorMoment(const VecD& input_norm_weight);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_CALIBRATION_H_
