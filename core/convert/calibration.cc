#include "core/convert/calibration.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "core/engine/cpu/ops.h"
#include "core/engine/cpu/weight_loader.h"
#include "core/eval/perplexity.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::convert {

absl::StatusOr<std::vector<std::vector<int32_t>>> LoadCalibrationSequences(const Tokenizer& tokenizer,
                                                                           const CalibrationOptions& options) {
  if (options.samples < 1) return absl::InvalidArgumentError(fmt::format("calibration samples must be >= 1, got {}", options.samples));
  if (options.max_length < 2) {
    return absl::InvalidArgumentError(fmt::format("calibration length must be >= 2, got {}", options.max_length));
  }
  std::ifstream in(options.text, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("calibration text not found: {}", options.text.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<std::string_view> docs = SplitDocuments(text);
  const size_t first = std::min(docs.size(), static_cast<size_t>(std::max<int64_t>(options.first_document, 0)));
  docs.erase(docs.begin(), docs.begin() + first);
  if (options.documents >= 0 && static_cast<size_t>(options.documents) < docs.size()) docs.resize(options.documents);
  if (docs.empty()) return absl::InvalidArgumentError(fmt::format("no text in {}", options.text.string()));
  std::mt19937_64 rng(options.seed);
  std::shuffle(docs.begin(), docs.end(), rng);
  docs.resize(std::min<size_t>(docs.size(), static_cast<size_t>(options.samples)));
  std::vector<std::vector<int32_t>> sequences;
  for (std::string_view doc : docs) {
    std::vector<int32_t> ids = tokenizer.Encode(doc, /*add_bos=*/true, /*parse_special=*/false);
    if (static_cast<int64_t>(ids.size()) > options.max_length) ids.resize(options.max_length);
    sequences.push_back(std::move(ids));
  }
  return sequences;
}

absl::StatusOr<std::unique_ptr<LayerwiseCalibration>> LayerwiseCalibration::Start(
    const ModelConfig& config, const TensorStore& store, std::vector<std::vector<int32_t>> sequences,
    std::unique_ptr<BlockRunner> runner) {
  ASSIGN_OR_RETURN(cpu::Mat embed, cpu::LoadMatrix(store, "model.embed_tokens.weight", config.vocab_size,
                                                   config.hidden_size));
  std::unique_ptr<LayerwiseCalibration> c(new LayerwiseCalibration());
  c->runner_ = std::move(runner);
  int64_t rows = 0;
  for (const auto& s : sequences) rows += static_cast<int64_t>(s.size());
  c->hidden_.resize(rows, config.hidden_size);
  int64_t row = 0;
  for (const auto& s : sequences) {
    c->slices_.push_back({nullptr, row, static_cast<int64_t>(s.size()), 0});
    for (int32_t id : s) {
      if (id < 0 || id >= config.vocab_size) return absl::InvalidArgumentError(fmt::format("token id {} outside the vocabulary", id));
      c->hidden_.row(row++) = embed.row(id);
    }
  }
  return c;
}

cpu::Mat LayerwiseCalibration::NormedInput(const VecD& input_norm_weight, double eps) const {
  cpu::Mat normed;
  cpu::RmsNorm(hidden_, input_norm_weight.cast<float>(), static_cast<float>(eps), &normed);
  return normed;
}

InputMoment LayerwiseCalibration::Moment(const VecD& input_norm_weight, double eps) const {
  const cpu::Mat normed = NormedInput(input_norm_weight, eps);
  const int64_t d = normed.cols();
  InputMoment m;
  m.tokens = normed.rows();
  m.moment.resize(d + 1, d + 1);
  const Eigen::MatrixXf gram = normed.transpose() * normed;
  m.moment.topLeftCorner(d, d) = gram.cast<double>();
  const Eigen::VectorXd sums = normed.colwise().sum().transpose().cast<double>();
  m.moment.topRightCorner(d, 1) = sums;
  m.moment.bottomLeftCorner(1, d) = sums.transpose();
  m.moment(d, d) = static_cast<double>(m.tokens);
  return m;
}

absl::StatusOr<cpu::Mat> LayerwiseCalibration::Run(const ModelConfig& config, const TensorStore& block_store,
                                                   int64_t index) {
  return runner_->Run(config, block_store, index, hidden_, slices_);
}

InputMoment PriorMoment(const VecD& input_norm_weight) {
  const int64_t d = input_norm_weight.size();
  InputMoment m;
  m.tokens = 1;
  m.moment = MatD::Zero(d + 1, d + 1);
  m.moment.topLeftCorner(d, d).diagonal() = input_norm_weight.cwiseAbs2();
  m.moment(d, d) = 1.0;
  m.diagonal = true;
  return m;
}

}  // namespace transmla::convert
