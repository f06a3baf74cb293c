#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/command.h"
#include "client/progress_bar.h"
#include "core/engine/model_loader.h"
#include "core/eval/perplexity.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace transmla::cli {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("text file not found: {}", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status RunPerplexity(const Flags& flags) {
  ASSIGN_OR_RETURN(const std::string model_path, flags.Required("model"));
  ASSIGN_OR_RETURN(const std::string text_path, flags.Required("text"));
  PerplexityOptions options;
  const std::string docs = flags.Get("docs").value_or("blank-line");
  if (docs == "blank-line") {
    options.mode = PerplexityOptions::Mode::kDocuments;
  } else if (docs == "none") {
    options.mode = PerplexityOptions::Mode::kWindows;
  } else {
    return absl::InvalidArgumentError(fmt::format("--docs must be blank-line or none, got \"{}\"", docs));
  }
  ASSIGN_OR_RETURN(options.skip, flags.Int("skip", 0));
  ASSIGN_OR_RETURN(options.limit, flags.Int("limit", -1));
  ASSIGN_OR_RETURN(options.max_len, flags.Int("max-len", 512));
  ASSIGN_OR_RETURN(const std::string text, ReadText(text_path));
  ASSIGN_OR_RETURN(LoadedModel model, LoadModel(model_path));
  if (model.tokenizer == nullptr) return absl::FailedPreconditionError(model_path + " has no tokenizer.json");
  ProgressBar bar("perplexity");
  options.on_progress = [&](int64_t done, int64_t total) { bar.Update(done, total); };
  ASSIGN_OR_RETURN(const PerplexityResult r, ComputePerplexity(*model.engine, *model.tokenizer, text, options));
  bar.Finish();
  if (flags.Bool("json")) {
    std::cout << nlohmann::json{{"tokens", r.tokens}, {"mean_nll", r.mean_nll}, {"ppl", r.ppl},
                                {"sequences", r.sequences}, {"kv_bytes_per_token", model.engine->KvBytesPerToken()}}
                     .dump()
              << "\n";
  } else {
    std::printf("ppl %.4f (mean NLL %.5f over %lld tokens, %lld sequences)\n", r.ppl, r.mean_nll,
                static_cast<long long>(r.tokens), static_cast<long long>(r.sequences));
  }
  return absl::OkStatus();
}

}  // namespace

Command PerplexityCommand() {
  return {"perplexity",
          "perplexity of a model over a text file",
          "transmla perplexity --model DIR|FILE.gguf --text FILE [--docs blank-line|none] [--skip N] [--limit N] "
          "[--max-len N] [--json]",
          {"model", "text", "docs", "skip", "limit", "max-len"},
          {"json"},
          RunPerplexity};
}

}  // namespace transmla::cli
