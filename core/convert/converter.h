#ifndef TRANSMLA_CORE_CONVERT_CONVERTER_H_
#define TRANSMLA_CORE_CONVERT_CONVERTER_H_

#include <filesystem>

#include "absl/status/statusor.h"
#include "core/convert/options.h"
#include "nlohmann/json.hpp"

namespace transmla::convert {

// Converts the Llama-family HF folder `source` (llama, mistral, qwen2; GQA or MHA) into a stock
// DeepSeek-V3 HF folder at `destination`: config.json, sharded safetensors, tokenizer files and
// conversion_report.json. Streams layer by layer from the memory-mapped source. The output is
// built in a staging directory and renamed into place at the end, so a failure or cancellation
// leaves nothing that looks like a model. Calibration runs its blocks where
// options.calibration.device says (the GPU backend registered by the program, or the CPU); the
// report's calibration.device names it. Returns the report.
//
// Errors: NotFound (missing source files), InvalidArgument (unsupported architecture, options out
// of range, malformed checkpoint, naming the field or tensor), FailedPrecondition (calibration
// device "cuda" where no GPU can run the model, saying why), AlreadyExists (destination exists
// and !options.force), ResourceExhausted (disk full, or out of GPU memory), Cancelled
// (`cancelled` returned true).
absl::StatusOr<nlohmann::json> ConvertModel(const std::filesystem::path& source,
                                            const std::filesystem::path& destination,
                                            const ConversionOptions& options,
                                            const ProgressCallback& progress = nullptr,
                                            const CancelCheck& cancelled = nullptr);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_CONVERTER_H_
