#include "client/generation_summary.h"

#include <cstdio>
#include <iostream>

#include "nlohmann/json.hpp"

namespace transmla::cli {

void PrintGenerationSummary(bool json, const GenerationSummary& s) {
  if (json) {
    const nlohmann::json out = {{"token_ids", s.token_ids},
                                {"text", s.text},
                                {"prompt_tokens", s.prompt_tokens},
                                {"finish_reason", s.finish_reason},
                                {"time_to_first_token_s", s.time_to_first_token_s},
                                {"tokens_per_s", s.tokens_per_s}};
    std::cout << out.dump() << "\n";
    return;
  }
  std::fprintf(stdout, "\n");
  std::fprintf(stderr, "[%zu tokens, %s, TTFT %.3fs, %.1f tokens/s]\n", s.token_ids.size(), s.finish_reason.c_str(),
               s.time_to_first_token_s, s.tokens_per_s);
}

}  // namespace transmla::cli
