#ifndef TRANSMLA_CLIENT_GENERATION_SUMMARY_H_
#define TRANSMLA_CLIENT_GENERATION_SUMMARY_H_

#include <cstdint>
#include <string>
#include <vector>

namespace transmla::cli {

struct GenerationSummary {
  std::vector<int32_t> token_ids;
  std::string text;
  size_t prompt_tokens = 0;
  std::string finish_reason;
  double time_to_first_token_s = 0;
  double tokens_per_s = 0;
};

// After a streamed generation: the JSON object (--json) on stdout, or a newline on stdout and a
// one-line summary on stderr. In-process and --server print the same.
void PrintGenerationSummary(bool json, const GenerationSummary& s);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_GENERATION_SUMMARY_H_
