#include "tests/testing/test_paths.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "gtest/gtest.h"

namespace transmla::testing {

std::filesystem::path SharedDir() {
  const char* env = std::getenv("TRANSMLA_SHARED");
  std::filesystem::path dir = env != nullptr && *env != '\0'
                                  ? std::filesystem::path(env)
                                  : std::filesystem::path(TRANSMLA_SOURCE_DIR) / ".." / "shared";
  if (!std::filesystem::exists(dir / "models" / "stories260K")) {
    ADD_FAILURE() << "shared test data not found at " << dir
                  << " (set TRANSMLA_SHARED to the folder holding models/, data/, tokenizers/)";
    return {};
  }
  return std::filesystem::weakly_canonical(dir);
}

std::filesystem::path SourceDir() { return TRANSMLA_SOURCE_DIR; }

std::filesystem::path BundledModelDir() {
  return std::filesystem::path(TRANSMLA_SOURCE_DIR) / "models" / "stories260K";
}

std::filesystem::path BundledTextFile() {
  return std::filesystem::path(TRANSMLA_SOURCE_DIR) / "models" / "tinystories_val_head.txt";
}

std::filesystem::path CliBinary() { return std::filesystem::path(TRANSMLA_BINARY_DIR) / "client" / "transmla"; }

std::filesystem::path MakeSyntheticModelBinary() {
  return std::filesystem::path(TRANSMLA_BINARY_DIR) / "tools" / "make_synthetic_model";
}

std::filesystem::path MakeTempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  const std::filesystem::path dir = std::filesystem::path(TRANSMLA_BINARY_DIR) / "test_tmp" /
                                    (tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace transmla::testing
