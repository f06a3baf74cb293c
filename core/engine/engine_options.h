#ifndef TRANSMLA_CORE_ENGINE_ENGINE_OPTIONS_H_
#define TRANSMLA_CORE_ENGINE_ENGINE_OPTIONS_H_

#include <cstdint>
#include <string>

namespace transmla {

struct EngineOptions {
  std::string device = "cpu";  // "cpu", "cuda", "auto"
  int threads = 0;             // 0: all cores
  int64_t max_kv_bytes = 0;    // 0: unlimited; otherwise the budget across all live sequences
  bool absorbed_mla = true;    // MLA decode in absorbed form (latent cache never expanded)
  // GPU only: how weights and the KV cache are held ("f32", "bf16", "f16"); "auto" keeps the
  // checkpoint's 16-bit type and float32 otherwise.
  std::string gpu_dtype = "auto";
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_ENGINE_OPTIONS_H_
