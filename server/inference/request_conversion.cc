#include "server/inference/request_conversion.h"

#include "fmt/format.h"

namespace transmla::server {

namespace v1 = transmla::v1;

absl::StatusOr<SamplingParams> SamplingFromProto(const v1::SamplingParams& in) {
  SamplingParams p;
  if (in.has_temperature()) p.temperature = in.temperature();
  if (in.has_top_p()) p.top_p = in.top_p();
  if (in.has_top_k()) p.top_k = in.top_k();
  if (in.has_max_tokens()) p.max_tokens = in.max_tokens();
  if (in.has_repetition_penalty()) p.repetition_penalty = in.repetition_penalty();
  if (in.has_seed()) p.seed = in.seed();
  p.stop.assign(in.stop().begin(), in.stop().end());
  p.stop_token_ids.assign(in.stop_token_ids().begin(), in.stop_token_ids().end());
  p.ignore_eos = in.ignore_eos();
  if (absl::Status s = ValidateSamplingParams(p); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("sampling.{}", std::string(s.message())));
  }
  return p;
}

absl::StatusOr<std::vector<int32_t>> PromptIds(const v1::GenerateRequest& request, const Tokenizer& tokenizer,
                                               int64_t vocab_size) {
  const bool has_text = !request.prompt().empty();
  const bool has_ids = request.prompt_token_ids_size() > 0;
  if (has_text == has_ids) {
    return absl::InvalidArgumentError(has_text ? "give prompt or prompt_token_ids, not both"
                                               : "prompt is empty (give prompt or prompt_token_ids)");
  }
  if (has_text) return tokenizer.Encode(request.prompt(), /*add_bos=*/true);
  std::vector<int32_t> ids(request.prompt_token_ids().begin(), request.prompt_token_ids().end());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      return absl::InvalidArgumentError(
          fmt::format("prompt_token_ids[{}] = {} is outside the vocabulary [0, {})", i, ids[i], vocab_size));
    }
  }
  return ids;
}

v1::Model ModelToProto(const ModelInfo& info) {
  v1::Model m;
  m.set_name(info.name);
  m.set_path(info.path);
  switch (info.state) {
    case ModelState::kLoading: m.set_state(v1::MODEL_STATE_LOADING); break;
    case ModelState::kReady: m.set_state(v1::MODEL_STATE_READY); break;
    case ModelState::kUnloading: m.set_state(v1::MODEL_STATE_UNLOADING); break;
    case ModelState::kFailed: m.set_state(v1::MODEL_STATE_FAILED); break;
  }
  m.set_failure_reason(info.failure_reason);
  m.set_architecture(info.architecture);
  m.set_parameters(info.parameters);
  m.set_dtype(info.dtype);
  m.set_device(info.device);
  m.set_kv_bytes_per_token(info.kv_bytes_per_token);
  m.set_weight_bytes(info.weight_bytes);
  m.set_kv_cache_bytes(info.serving.kv_bytes);
  m.set_requests_running(info.serving.running);
  m.set_requests_waiting(info.serving.waiting);
  m.set_max_position_embeddings(info.max_position_embeddings);
  return m;
}

}  // namespace transmla::server
