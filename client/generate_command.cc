#include <cstdio>
#include <iostream>

#include "client/command.h"
#include "core/engine/generate.h"
#include "core/engine/model_loader.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace transmla::cli {
namespace {

absl::StatusOr<SamplingParams> ReadSampling(const Flags& flags) {
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
  for (const std::string& id : flags.GetAll("stop-id")) p.stop_token_ids.push_back(std::stoi(id));
  RETURN_IF_ERROR(ValidateSamplingParams(p));
  return p;
}

absl::Status RunGenerate(const Flags& flags) {
  ASSIGN_OR_RETURN(const std::string model_path, flags.Required("model"));
  ASSIGN_OR_RETURN(const SamplingParams params, ReadSampling(flags));
  EngineOptions options;
  ASSIGN_OR_RETURN(const int64_t threads, flags.Int("threads", 0));
  options.threads = static_cast<int>(threads);
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(model_path, options));
  if (model.tokenizer == nullptr) return absl::FailedPreconditionError(model_path + " has no tokenizer.json");
  const std::vector<int32_t> prompt = model.tokenizer->Encode(flags.Get("prompt").value_or(""), /*add_bos=*/true);
  const bool json = flags.Bool("json");
  TokenCallback stream;
  if (!json) {
    stream = [](int32_t, const std::string& delta) {
      std::fwrite(delta.data(), 1, delta.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  ASSIGN_OR_RETURN(const GenerationResult result, Generate(*model.engine, *model.tokenizer, prompt, params, stream));
  const double decode_s = result.total_time_s - result.time_to_first_token_s;
  const double tokens_per_s =
      result.token_ids.size() > 1 && decode_s > 0 ? (result.token_ids.size() - 1) / decode_s : 0.0;
  if (json) {
    const nlohmann::json out = {{"token_ids", result.token_ids},
                                {"text", result.text},
                                {"prompt_tokens", result.prompt_ids.size()},
                                {"finish_reason", result.finish_reason},
                                {"time_to_first_token_s", result.time_to_first_token_s},
                                {"tokens_per_s", tokens_per_s}};
    std::cout << out.dump() << "\n";
  } else {
    std::fprintf(stdout, "\n");
    std::fprintf(stderr, "[%zu tokens, %s, TTFT %.3fs, %.1f tokens/s]\n", result.token_ids.size(),
                 result.finish_reason.c_str(), result.time_to_first_token_s, tokens_per_s);
  }
  return absl::OkStatus();
}

}  // namespace

Command GenerateCommand() {
  return {"generate",
          "generate text from a prompt (greedy by default)",
          "transmla generate --model DIR|FILE.gguf [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K] "
          "[--top-p P] [--seed S] [--repetition-penalty R] [--stop STR]... [--stop-id ID]... [--threads N] [--json]",
          {"model", "prompt", "max-tokens", "temperature", "top-k", "top-p", "seed", "repetition-penalty", "stop",
           "stop-id", "threads"},
          {"json"},
          RunGenerate};
}

}  // namespace transmla::cli
