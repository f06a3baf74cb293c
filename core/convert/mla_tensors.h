#ifndef TRANSMLA_CORE_CONVERT_MLA_TENSORS_H_
#define TRANSMLA_CORE_CONVERT_MLA_TENSORS_H_

#include <string>
#include <vector>

#include "core/convert/mla_layer.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors.h"

namespace transmla::convert {

// What the output checkpoint holds beyond the MLA shape.
struct OutputLayout {
  MlaShape shape;
  bool attention_bias = false;  // kv_a_proj_with_mqa.bias, o_proj.bias and q_a_proj.bias (stock DeepSeek)
  bool tie_word_embeddings = false;
};

// Every tensor of the output, in writing order, with its shape and `dtype`.
std::vector<TensorSpec> PlanOutputTensors(const ModelConfig& source, const OutputLayout& layout, DType dtype);

// A float32 tensor ready to write or to load into an engine.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// The attention tensors of block `layer` under the stock DeepSeek-V3 names, o_proj times
// `output_scale` (the residual-stream scale). Absent biases are written as zeros when the layout
// declares them.
std::vector<NamedTensor> AttentionTensors(const MlaLayer& mla, int64_t layer, const OutputLayout& layout,
                                          double output_scale);

// A ModelConfig describing the converted model, for our engine (calibration and tests).
ModelConfig MlaModelConfig(const ModelConfig& source, const OutputLayout& layout, double rope_theta,
                           const std::vector<double>& longrope_factors, double rms_norm_eps);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_MLA_TENSORS_H_
