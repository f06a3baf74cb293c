#ifndef TRANSMLA_CORE_CONVERT_CALIBRATION_H_
#define TRANSMLA_CORE_CONVERT_CALIBRATION_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/convert/joint_pca.h"
#include "core/engine/block_runner.h"
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
  // Where the blocks run: "auto" (the GPU when the program has a usable one), "cpu" or "cuda"
  // (see calibration_device.h).
  std::string device = "auto";
};

// Calibration documents: `text` split on blank lines, the chosen range shuffled with `seed`, the first `samples`,
// each BOS + tokens cut at max_length. Fails with InvalidArgument when the options are out of range
// or the text holds no document.
absl::StatusOr<std::vector<std::vector<int32_t>>> LoadCalibrationSequences(const Tokenizer& tokenizer,
                                                                           const CalibrationOptions& options);

// Runs calibration tokens through the model one layer at a time, the layers being the converted
// ones as they are produced, so each layer is calibrated on the activations the converted model
// really feeds it. Holds the hidden states of all calibration tokens ([tokens x hidden] floats);
// `runner` runs the blocks.
class LayerwiseCalibration {
 public:
  static absl::StatusOr<std::unique_ptr<LayerwiseCalibration>> Start(const ModelConfig& config,
                                                                     const TensorStore& store,
                                                                     std::vector<std::vector<int32_t>> sequences,
                                                                     std::unique_ptr<BlockRunner> runner);

  // The augmented second moment of the next layer's attention input: RMSNorm(hidden) * weight.
  InputMoment Moment(const VecD& input_norm_weight, double eps) const;

  // The hidden states after block `index` of `block_store` (shaped by `config`), without moving
  // the stream. Errors as BlockRunner::Run.
  absl::StatusOr<cpu::Mat> Run(const ModelConfig& config, const TensorStore& block_store, int64_t index);

  // Moves the stream on to `hidden`, the output of Run for the block kept.
  void Advance(cpu::Mat hidden) { hidden_ = std::move(hidden); }

  int64_t tokens() const { return hidden_.rows(); }
  // Where the blocks run ("cpu", "cuda:0 <device name>").
  std::string device() const { return runner_->device(); }
  BlockRunner* runner() const { return runner_.get(); }

  // The next layer's attention input, RMSNorm(hidden) * weight ([tokens x hidden]), and where each
  // calibration sequence's rows are in it.
  cpu::Mat NormedInput(const VecD& input_norm_weight, double eps) const;
  const std::vector<cpu::SequenceSlice>& slices() const { return slices_; }

 private:
  LayerwiseCalibration() = default;

  std::vector<cpu::SequenceSlice> slices_;  // caches are made per run
  cpu::Mat hidden_;
  std::unique_ptr<BlockRunner> runner_;
};

// The weights-only prior for data-free conversion: E[x x^T] = diag(gamma^2) for the attention input
// x = RMSNorm(h) * gamma of a whitened residual stream, with no mean.
InputMoment PriorMoment(const VecD& input_norm_weight);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_CALIBRATION_H_
