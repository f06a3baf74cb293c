// Writes a synthetic checkpoint of a real model's shape (random weights, HF layout) for conversion,
// engine and GPU work at scale: config.json, sharded safetensors written tensor by tensor
// (bounded memory), and the bundled stories260K tokenizer when the vocabulary is 512.
//
//   build/tools/make_synthetic_model --preset llama3-8b --out DIR [--dtype bf16|f16|f32] [--seed N]
//                                    [--layers N] [--chunk-values N] [--force]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace {

struct Preset {
  int64_t hidden, intermediate, layers, heads, kv_heads, vocab, max_pos;
  double rope_theta;
  bool bias = false;
  bool llama3_scaling = false;
  bool tie = false;
  std::string model_type = "llama";
};

const std::map<std::string, Preset>& Presets() {
  static const std::map<std::string, Preset> presets = {
      {"llama3-8b", {4096, 14336, 32, 32, 8, 128256, 131072, 500000.0, false, true}},
      {"llama2-7b", {4096, 11008, 32, 32, 32, 32000, 4096, 10000.0}},
      {"qwen2.5-7b", {3584, 18944, 28, 28, 4, 152064, 32768, 1000000.0, true, false, false, "qwen2"}},
      {"mistral-7b", {4096, 14336, 32, 32, 8, 32000, 32768, 1000000.0, false, false, false, "mistral"}},
      {"llama-1b", {2048, 8192, 16, 32, 8, 128256, 131072, 500000.0, false, true, true}},
      // ~100M parameters with a 32K vocabulary (Llama-2 tokenizer size).
      {"llama-100m", {768, 2048, 12, 12, 4, 32000, 2048, 10000.0}},
      {"tiny", {64, 172, 2, 8, 4, 512, 512, 10000.0, false, false, true}},
      // Qwen2.5-0.5B's widths (q/k/v biases, tied embeddings) over 6 layers and a 32K vocabulary:
      // the biased architecture at a size whose CPU reference runs in seconds.
      {"qwen2-small", {896, 4864, 6, 14, 2, 32000, 32768, 1000000.0, true, false, true, "qwen2"}},
      // ~30M parameters, stories260K's vocabulary: slow enough on CPU (a few ms a token) that
      // serving tests can cancel or unload mid-generation.
      {"serving-test", {512, 1536, 8, 8, 4, 512, 2048, 10000.0}},
  };
  return presets;
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// splitmix64: fast, seedable, good enough for random weights, and seekable: draw j of seed s is
// the output of state s + j * kGolden, so any stretch of values is generated on its own.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += kGolden);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Approximately normal: sum of 4 uniforms, rescaled to unit variance.
  float Normal() {
    double s = 0;
    for (int i = 0; i < 4; ++i) s += static_cast<double>(Next() >> 11) * 0x1.0p-53;
    return static_cast<float>((s - 2.0) * std::sqrt(3.0));
  }
};

std::string Arg(int argc, char** argv, const std::string& flag, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return fallback;
}

bool HasFlag(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == flag) return true;
  }
  return false;
}

int Fail(const std::string& message) {
  std::cerr << "make_synthetic_model: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string preset_name = Arg(argc, argv, "--preset", "");
  const std::filesystem::path out = Arg(argc, argv, "--out", "");
  const auto it = Presets().find(preset_name);
  if (it == Presets().end() || out.empty()) {
    std::string names;
    for (const auto& [name, p] : Presets()) names += " " + name;
    return Fail("usage: make_synthetic_model --preset NAME --out DIR [--dtype bf16|f16|f32] [--seed N] [--layers N] "
                "[--chunk-values N] [--force]; presets:" + names);
  }
  Preset p = it->second;
  p.layers = std::stoll(Arg(argc, argv, "--layers", std::to_string(p.layers)));
  const std::string dtype_name = Arg(argc, argv, "--dtype", "bf16");
  absl::StatusOr<transmla::DType> dtype = transmla::ParseFloatDTypeOption(dtype_name);
  if (!dtype.ok()) return Fail(std::string(dtype.status().message()));
  const uint64_t seed = std::stoull(Arg(argc, argv, "--seed", "1"));
  if (std::filesystem::exists(out)) {
    if (!HasFlag(argc, argv, "--force")) return Fail(out.string() + " exists (use --force)");
    std::filesystem::remove_all(out);
  }
  std::filesystem::create_directories(out);

  const int64_t head_dim = p.hidden / p.heads;
  std::vector<transmla::TensorSpec> specs;
  std::set<std::string> norms;  // drawn around 1; weights and biases around 0
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    specs.push_back({name, *dtype, std::move(shape)});
  };
  auto add_norm = [&](const std::string& name, std::vector<int64_t> shape) {
    add(name, std::move(shape));
    norms.insert(name);
  };
  add("model.embed_tokens.weight", {p.vocab, p.hidden});
  for (int64_t i = 0; i < p.layers; ++i) {
    const std::string l = fmt::format("model.layers.{}.", i);
    add_norm(l + "input_layernorm.weight", {p.hidden});
    add(l + "self_attn.q_proj.weight", {p.heads * head_dim, p.hidden});
    add(l + "self_attn.k_proj.weight", {p.kv_heads * head_dim, p.hidden});
    add(l + "self_attn.v_proj.weight", {p.kv_heads * head_dim, p.hidden});
    if (p.bias) {
      add(l + "self_attn.q_proj.bias", {p.heads * head_dim});
      add(l + "self_attn.k_proj.bias", {p.kv_heads * head_dim});
      add(l + "self_attn.v_proj.bias", {p.kv_heads * head_dim});
    }
    add(l + "self_attn.o_proj.weight", {p.hidden, p.heads * head_dim});
    add_norm(l + "post_attention_layernorm.weight", {p.hidden});
    add(l + "mlp.gate_proj.weight", {p.intermediate, p.hidden});
    add(l + "mlp.up_proj.weight", {p.intermediate, p.hidden});
    add(l + "mlp.down_proj.weight", {p.hidden, p.intermediate});
  }
  add_norm("model.norm.weight", {p.hidden});
  if (!p.tie) add("lm_head.weight", {p.vocab, p.hidden});

  transmla::SafetensorsWriterOptions options;
  options.max_shard_bytes = size_t{2} << 30;
  auto writer = transmla::SafetensorsWriter::Create(out, specs, options);
  if (!writer.ok()) return Fail(std::string(writer.status().message()));
  // Value k of the checkpoint (tensors in order) is the normal of draws 4k to 4k + 3 of the seed,
  // made in chunks by all cores: the same bytes as one sequential stream, without a tensor-sized
  // buffer (the embedding alone is 2 GB of floats).
  const size_t chunk_values = std::stoull(Arg(argc, argv, "--chunk-values", std::to_string(size_t{1} << 24)));
  if (chunk_values == 0) return Fail("--chunk-values must be positive");
  std::vector<float> values;
  int64_t parameters = 0;
  for (size_t t = 0; t < specs.size(); ++t) {
    const transmla::TensorSpec& spec = specs[t];
    const size_t n = spec.NumBytes() / transmla::DTypeSize(spec.dtype);
    const bool norm = norms.count(spec.name) > 0;
    for (size_t begin = 0; begin < n; begin += chunk_values) {
      const int64_t count = static_cast<int64_t>(std::min(chunk_values, n - begin));
      const uint64_t first = static_cast<uint64_t>(parameters) + begin;
      values.resize(static_cast<size_t>(count));
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < count; ++i) {
        Rng rng{seed + 4 * (first + static_cast<uint64_t>(i)) * kGolden};
        const float z = rng.Normal();
        values[static_cast<size_t>(i)] = norm ? 1.0f + 0.05f * z : 0.02f * z;
      }
      if (auto s = (*writer)->WriteFloatsAt(spec.name, begin, values.data(), static_cast<size_t>(count)); !s.ok()) {
        return Fail(std::string(s.message()));
      }
    }
    parameters += static_cast<int64_t>(n);
    std::fprintf(stderr, "\rmake_synthetic_model: %zu/%zu tensors", t + 1, specs.size());
  }
  std::fprintf(stderr, "\n");
  if (auto files = (*writer)->Commit(); !files.ok()) return Fail(std::string(files.status().message()));

  nlohmann::json config = {{"architectures", {p.model_type == "qwen2" ? "Qwen2ForCausalLM" : (p.model_type == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM")}},
                           {"model_type", p.model_type},
                           {"hidden_size", p.hidden},
                           {"intermediate_size", p.intermediate},
                           {"num_hidden_layers", p.layers},
                           {"num_attention_heads", p.heads},
                           {"num_key_value_heads", p.kv_heads},
                           {"head_dim", head_dim},
                           {"vocab_size", p.vocab},
                           {"max_position_embeddings", p.max_pos},
                           {"rms_norm_eps", 1e-5},
                           {"rope_theta", p.rope_theta},
                           {"hidden_act", "silu"},
                           {"tie_word_embeddings", p.tie},
                           {"attention_bias", p.bias},
                           {"bos_token_id", 1},
                           {"eos_token_id", 2},
                           {"torch_dtype", dtype_name == "bf16" ? "bfloat16" : (dtype_name == "f16" ? "float16" : "float32")}};
  if (p.llama3_scaling) {
    config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  }
  std::ofstream(out / "config.json") << config.dump(2) << "\n";
  const std::filesystem::path tokenizer_source =
      std::filesystem::path(Arg(argc, argv, "--tokenizer-from", TRANSMLA_SOURCE_DIR "/models/stories260K"));
  if (p.vocab == 512) {
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      std::filesystem::copy_file(tokenizer_source / f, out / f, std::filesystem::copy_options::overwrite_existing);
    }
  }
  std::printf("wrote %s: preset %s, %lld parameters, %s\n", out.c_str(), preset_name.c_str(),
              static_cast<long long>(parameters), dtype_name.c_str());
  return 0;
}
