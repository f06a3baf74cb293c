#ifndef TRANSMLA_CORE_ENGINE_MODEL_LOADER_H_
#define TRANSMLA_CORE_ENGINE_MODEL_LOADER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/engine/engine_options.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {


// A model ready to run: its tokenizer and an engine holding its weights.
struct LoadedModel {
  std::filesystem::path path;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the folder has no tokenizer.json
  std::unique_ptr<Engine> engine;
};

// Loads an HF folder (config.json + safetensors + tokenizer.json) or a .gguf file. Fails with
// NotFound for missing files and InvalidArgument naming what is unsupported or inconsistent.
absl::StatusOr<LoadedModel> LoadModel(const std::filesystem::path& path, const EngineOptions& options = {});

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_MODEL_LOADER_H_
