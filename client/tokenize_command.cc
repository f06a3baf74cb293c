#include <cstdio>
#include <iostream>

#include "client/command.h"
#include "core/engine/model_loader.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace transmla::cli {
namespace {

absl::StatusOr<std::unique_ptr<Tokenizer>> OpenTokenizer(const std::filesystem::path& path) {
  if (path.extension() == ".gguf") {
    ASSIGN_OR_RETURN(LoadedModel model, LoadModel(path));
    return std::move(model.tokenizer);
  }
  return LoadTokenizer(path);
}

absl::Status RunTokenize(const Flags& flags) {
  ASSIGN_OR_RETURN(const std::string model_path, flags.Required("model"));
  ASSIGN_OR_RETURN(const std::string text, flags.Required("text"));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, OpenTokenizer(model_path));
  const std::vector<int32_t> ids = tokenizer->Encode(text, /*add_bos=*/!flags.Bool("no-bos"));
  if (flags.Bool("json")) {
    std::cout << nlohmann::json{{"ids", ids}}.dump() << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i == 0 ? "%d" : " %d", ids[i]);
    std::printf("\n");
  }
  return absl::OkStatus();
}

}  // namespace

Command TokenizeCommand() {
  return {"tokenize",
          "token ids of a text (any folder with a tokenizer.json, or a .gguf)",
          "transmla tokenize --model DIR|tokenizer.json|FILE.gguf --text TEXT [--no-bos] [--json]",
          {"model", "text"},
          {"json", "no-bos"},
          RunTokenize};
}

}  // namespace transmla::cli
