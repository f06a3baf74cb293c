#ifndef TRANSMLA_CORE_ENGINE_ENGINE_H_
#define TRANSMLA_CORE_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/io/hf_config.h"

namespace transmla {

// The per-sequence state an engine keeps between steps: its KV cache. Created by
// Engine::NewSequence(); owned by the caller; destroying it frees its cache.
class Sequence {
 public:
  virtual ~Sequence() = default;
  // Tokens held in the cache (the position the next token gets).
  virtual int64_t length() const = 0;
  // Bytes of KV cache this sequence holds now.
  virtual int64_t kv_bytes() const = 0;
  // Drops cached positions >= `length` (used to retry or share a prompt prefix).
  virtual void Truncate(int64_t length) = 0;
};

// One sequence's share of a batched step: `tokens` are appended at positions
// sequence->length() ... and the cache grows by tokens.size().
struct ForwardStep {
  Sequence* sequence = nullptr;
  absl::Span<const int32_t> tokens;
  bool all_logits = false;  // logits for every new position; otherwise the last one only
  // Set when the caller needs only the greedy next token: the engine writes the first maximum of
  // the last position's logits here (torch.argmax; NaN never wins) and leaves this step's logits
  // empty, so a GPU engine picks it on the device instead of copying a vocabulary of floats out.
  // Not with all_logits.
  int32_t* greedy_token = nullptr;
};

// A causal LM that runs batched steps over independent sequences. Not thread-safe: one
// Forward() at a time (the services serialise through their scheduler).
class Engine {
 public:
  virtual ~Engine() = default;

  virtual const ModelConfig& config() const = 0;
  // "cpu" or "cuda:N".
  virtual std::string device() const = 0;
  // KV-cache bytes one token occupies across all layers, as this engine stores it.
  virtual int64_t KvBytesPerToken() const = 0;
  virtual int64_t NumParameters() const = 0;
  // How the weights are held ("f32", "bf16", ...) and their bytes.
  virtual std::string WeightDType() const { return "f32"; }
  virtual int64_t WeightBytes() const { return NumParameters() * 4; }
  // The weight bytes a decode step reads: all but the embedding table, of which it gathers one row
  // per token (the floor of a memory-bound step).
  virtual int64_t WeightBytesReadPerStep() const { return WeightBytes(); }

  virtual std::unique_ptr<Sequence> NewSequence() = 0;

  // Runs all steps as one batch. On success (*logits)[i] holds n_i x vocab_size floats, row-major,
  // where n_i is steps[i].tokens.size() when all_logits, 0 when greedy_token is set, else 1. Fails
  // with InvalidArgument for token ids outside the vocabulary, empty steps or a greedy token with
  // all logits, and ResourceExhausted when a sequence would exceed the KV budget or
  // max_position_embeddings (the sequence is left unchanged then).
  virtual absl::Status Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) = 0;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_ENGINE_H_
