#ifndef TRANSMLA_SERVER_INFERENCE_REQUEST_CONVERSION_H_
#define TRANSMLA_SERVER_INFERENCE_REQUEST_CONVERSION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/generate.h"
#include "core/tokenizer/tokenizer.h"
#include "server/inference/model_registry.h"
#include "transmla/v1/inference_service.pb.h"

namespace transmla::server {

// Sampling from the wire (vLLM's defaults for unset fields; max_tokens 16). InvalidArgument naming
// "sampling.<field>" for values out of range.
absl::StatusOr<SamplingParams> SamplingFromProto(const transmla::v1::SamplingParams& in);

// The prompt's token ids: the text tokenized with BOS, or the ids as given (each checked against
// the vocabulary). InvalidArgument when both or neither are set.
absl::StatusOr<std::vector<int32_t>> PromptIds(const transmla::v1::GenerateRequest& request, const Tokenizer& tokenizer,
                                               int64_t vocab_size);

transmla::v1::Model ModelToProto(const ModelInfo& info);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_REQUEST_CONVERSION_H_
