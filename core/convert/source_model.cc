#include "core/convert/source_model.h"

#include <vector>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::convert {

absl::StatusOr<MatD> ReadMatrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols) {
  ASSIGN_OR_RETURN(TensorView view, store.Get(name, {rows, cols}));
  std::vector<float> values;
  RETURN_IF_ERROR(ConvertToFloat(view, &values));
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(values.data(), rows,
                                                                                                 cols)
      .cast<double>();
}

absl::StatusOr<VecD> ReadVector(const TensorStore& store, const std::string& name, int64_t size) {
  ASSIGN_OR_RETURN(TensorView view, store.Get(name, {size}));
  std::vector<float> values;
  RETURN_IF_ERROR(ConvertToFloat(view, &values));
  return Eigen::Map<const Eigen::VectorXf>(values.data(), size).cast<double>();
}

absl::StatusOr<GqaLayer> ReadGqaLayer(const TensorStore& store, const ModelConfig& config, int64_t layer) {
  const std::string p = fmt::format("model.layers.{}.self_attn.", layer);
  const int64_t d = config.hidden_size;
  const int64_t q_dim = config.num_attention_heads * config.head_dim;
  const int64_t kv_dim = config.num_key_value_heads * config.head_dim;
  GqaLayer out;
  ASSIGN_OR_RETURN(out.wq, ReadMatrix(store, p + "q_proj.weight", q_dim, d));
  ASSIGN_OR_RETURN(out.wk, ReadMatrix(store, p + "k_proj.weight", kv_dim, d));
  ASSIGN_OR_RETURN(out.wv, ReadMatrix(store, p + "v_proj.weight", kv_dim, d));
  ASSIGN_OR_RETURN(out.wo, ReadMatrix(store, p + "o_proj.weight", d, q_dim));
  if (config.attention_bias) {
    ASSIGN_OR_RETURN(out.bq, ReadVector(store, p + "q_proj.bias", q_dim));
    ASSIGN_OR_RETURN(out.bk, ReadVector(store, p + "k_proj.bias", kv_dim));
    ASSIGN_OR_RETURN(out.bv, ReadVector(store, p + "v_proj.bias", kv_dim));
  }
  return out;
}

}  // namespace transmla::convert
