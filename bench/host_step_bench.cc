// The host's share of a decode step: sampling the next token from a 128K vocabulary and the
// streamed text, per sequence, next to what the same work cost before (a full sort of the
// vocabulary; the whole prompt + generated text decoded at every step), and a batch's step on one
// core vs all (StepEach), timed in the same run. The 8B GPU step (docs/cuda.md) takes 5-23 ms.
//
//   build/bench/host_step_bench [--tokenizer DIR]   (default: ../shared/tokenizers/llama3)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/engine/decode_state.h"
#include "core/engine/sampler.h"
#include "core/tokenizer/tokenizer.h"

namespace {

using transmla::SamplingParams;

// Median milliseconds of `runs` calls.
double MedianMs(int runs, const std::function<void()>& work) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(ms.begin(), ms.begin() + runs / 2, ms.end());
  return ms[static_cast<size_t>(runs / 2)];
}

// The sampler as it was: the logits sorted (the top k of them with top-k, else all), softmax,
// top-p and a draw.
int32_t FullSortSample(const std::vector<float>& logits, const SamplingParams& p, std::mt19937_64& rng) {
  std::vector<float> work(logits);
  for (float& v : work) v /= p.temperature;
  std::vector<int32_t> order(work.size());
  std::iota(order.begin(), order.end(), 0);
  const auto higher = [&](int32_t a, int32_t b) { return work[a] > work[b]; };
  const size_t keep = p.top_k > 0 ? std::min<size_t>(p.top_k, order.size()) : order.size();
  std::partial_sort(order.begin(), order.begin() + static_cast<int64_t>(keep), order.end(), higher);
  std::vector<double> probs(keep);
  double total = 0, mass = 0;
  for (size_t i = 0; i < keep; ++i) total += probs[i] = std::exp(static_cast<double>(work[order[i]] - work[order[0]]));
  size_t cut = 0;
  while (cut < keep && mass < p.top_p * total) mass += probs[cut++];
  probs.resize(std::max<size_t>(cut, 1));
  std::discrete_distribution<size_t> pick(probs.begin(), probs.end());
  return order[pick(rng)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer_dir = "../shared/tokenizers/llama3";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--tokenizer") == 0) tokenizer_dir = argv[i + 1];
  }
  absl::StatusOr<std::unique_ptr<transmla::Tokenizer>> tokenizer = transmla::LoadTokenizer(tokenizer_dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tokenizer.status().message()).c_str());
    return 1;
  }
  constexpr int kVocab = 128256, kRuns = 21;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(kVocab);
  for (float& v : logits) v = normal(rng);

  std::printf("| host work per sequence and token | before ms | now ms | before / now |\n|---|---|---|---|\n");
  struct Setting {
    const char* name;
    float temperature, top_p;
    int top_k;
  };
  for (const Setting& s : {Setting{"sample, temperature 1", 1.0f, 1.0f, 0}, Setting{"sample, top_p 0.9", 0.8f, 0.9f, 0},
                           Setting{"sample, top_k 50", 0.8f, 1.0f, 50}}) {
    SamplingParams params;
    params.temperature = s.temperature;
    params.top_p = s.top_p;
    params.top_k = s.top_k;
    params.seed = 7;
    transmla::Sampler sampler(params);
    std::mt19937_64 before_rng(7);
    const double before = MedianMs(kRuns, [&] { FullSortSample(logits, params, before_rng); });
    const double now = MedianMs(kRuns, [&] { sampler.Sample(logits, {}); });
    std::printf("| %s (%d-token vocabulary) | %.3f | %.3f | %.0fx |\n", s.name, kVocab, before, now, before / now);
  }
  {
    // A step of 32 sequences sampling at temperature 1: one after another, as before, and StepEach.
    constexpr int kBatch = 32;
    SamplingParams params;
    params.temperature = 1.0f;
    params.max_tokens = 1 << 20;
    params.ignore_eos = true;
    std::vector<transmla::DecodeState> states;
    std::vector<transmla::DecodeState*> batch;
    states.reserve(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      params.seed = i;
      batch.push_back(&states.emplace_back(std::vector<int32_t>{1000 + i}, params));
    }
    const std::vector<std::vector<float>> batch_logits(kBatch, logits);
    const double before = MedianMs(kRuns, [&] {
      for (int i = 0; i < kBatch; ++i) batch[i]->Step(tokenizer->get(), batch_logits[i]);
    });
    const double now = MedianMs(kRuns, [&] { transmla::StepEach(batch, tokenizer->get(), batch_logits); });
    std::printf("| a step of %d sequences at temperature 1 (one by one vs StepEach on all cores) | %.3f | %.3f | %.1fx |\n",
                kBatch, before, now, before / now);
  }
  struct Text {
    int prompt, generated;
  };
  for (const Text& t : {Text{1024, 0}, Text{8192, 0}, Text{1024, 4096}}) {
    std::vector<int32_t> prompt(static_cast<size_t>(t.prompt));
    for (int i = 0; i < t.prompt; ++i) prompt[static_cast<size_t>(i)] = 1000 + (i * 7919) % 100000;
    SamplingParams params;
    params.max_tokens = 1 << 20;
    params.ignore_eos = true;
    transmla::DecodeState state(prompt, params);
    // Greedy steps over a short logits vector, so that the time is the text's, not an argmax's.
    std::vector<float> step_logits(4096, 0.0f);
    std::vector<int32_t> generated;
    int32_t next = 0;
    const auto step = [&] {
      next = 1000 + (next * 31 + 7) % 3000;
      step_logits[static_cast<size_t>(next)] = 1.0f;
      state.Step(tokenizer->get(), step_logits);
      step_logits[static_cast<size_t>(next)] = 0.0f;
      generated.push_back(next);
    };
    for (int i = 0; i < t.generated; ++i) step();
    const double now = MedianMs(kRuns, step);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    const double before = MedianMs(kRuns, [&] {
      (*tokenizer)->Decode(all, true);
      (*tokenizer)->Decode(prompt, true);
    });
    std::printf("| streamed text, %d-token prompt, after %d generated | %.3f | %.3f | %.0fx |\n", t.prompt,
                t.generated, before, now, before / now);
  }
  return 0;
}
