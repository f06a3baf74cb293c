#!/usr/bin/env bash
# Builds transmla with the CUDA backend on a GPU machine and runs the CUDA engine's tests: the
# bundled model in F32 (logits, greedy 256, batching, budget, MLA conversions); BF16 and FP16 on a
# ~1B synthetic Llama and its deepseek conversion, BF16 on a small synthetic Qwen2 (q/k/v biases)
# and its conversion (relative error and top-1 against the CPU engine, batched == one at a time).
#
#   scripts/gpu/check_cuda.sh [BUILD_DIR] [MODELS_DIR]     (extra cmake flags: $CMAKE_ARGS)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-/tmp/transmla-cuda-build}
models=${2:-/tmp/transmla-cuda-models}
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRANSMLA_WITH_GRPC=OFF ${CMAKE_ARGS:-} > "$build.configure.log"
ninja -C "$build" transmla transmla_tests make_synthetic_model cuda_bench
mkdir -p "$models"
if [[ ! -f "$models/gqa/config.json" ]]; then
  "$build/tools/make_synthetic_model" --preset llama-1b --out "$models/gqa" --dtype bf16
fi
if [[ ! -f "$models/mla/config.json" ]]; then
  "$build/client/transmla" convert --model "$models/gqa" --out "$models/mla" --calibration none --force
fi
if [[ ! -f "$models/qwen/config.json" ]]; then
  "$build/tools/make_synthetic_model" --preset qwen2-small --out "$models/qwen" --dtype bf16
fi
if [[ ! -f "$models/qwen-mla/config.json" ]]; then
  "$build/client/transmla" convert --model "$models/qwen" --out "$models/qwen-mla" --calibration none --force
fi
TRANSMLA_SHARED=${TRANSMLA_SHARED:-../shared} TRANSMLA_CUDA_MODELS="$models" \
  "$build/tests/transmla_tests" --gtest_filter='*Cuda*'
