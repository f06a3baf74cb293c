#include "client/sampling_flags.h"

#include <cstdlib>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cli {

absl::StatusOr<SamplingParams> ReadSamplingFlags(const Flags& flags) {
  SamplingParams p;
  ASSIGN_OR_RETURN(const int64_t max_tokens, flags.Int("max-tokens", 64));
  ASSIGN_OR_RETURN(const double temperature, flags.Double("temperature", 0.0));
  ASSIGN_OR_RETURN(const int64_t top_k, flags.Int("top-k", 0));
  ASSIGN_OR_RETURN(const double top_p, flags.Double("top-p", 1.0));
  ASSIGN_OR_RETURN(const double penalty, flags.Double("repetition-penalty", 1.0));
  p.max_tokens = static_cast<int>(max_tokens);
  p.temperature = static_cast<float>(temperature);
  p.top_k = static_cast<int>(top_k);
  p.top_p = static_cast<float>(top_p);
  p.repetition_penalty = static_cast<float>(penalty);
  if (flags.Has("seed")) {
    ASSIGN_OR_RETURN(const int64_t seed, flags.Int("seed", 0));
    p.seed = static_cast<uint64_t>(seed);
  }
  p.stop = flags.GetAll("stop");
  for (const std::string& id : flags.GetAll("stop-id")) {
    char* end = nullptr;
    const long value = std::strtol(id.c_str(), &end, 10);
    if (id.empty() || *end != '\0') return absl::InvalidArgumentError(fmt::format("--stop-id must be an integer, got \"{}\"", id));
    p.stop_token_ids.push_back(static_cast<int32_t>(value));
  }
  RETURN_IF_ERROR(ValidateSamplingParams(p));
  return p;
}

}  // namespace transmla::cli
