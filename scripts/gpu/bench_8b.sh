#!/usr/bin/env bash
# The CUDA benchmark of issue 4 on a Llama-3-8B-shaped BF16 model and its deepseek conversion
# (kv_lora_rank 512, qk_rope_head_dim 64): build/bench/cuda_bench and the transformers baseline on
# the same cells. Run after scripts/gpu/check_cuda.sh (same BUILD_DIR).
#
#   scripts/gpu/bench_8b.sh [BUILD_DIR] [MODELS_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-/tmp/transmla-cuda-build}
models=${2:-/tmp/transmla-cuda-models}
out=${3:-/tmp/transmla-cuda-bench}
mkdir -p "$models" "$out"
if [[ ! -f "$models/llama3-8b/config.json" ]]; then
  "$build/tools/make_synthetic_model" --preset llama3-8b --out "$models/llama3-8b" --dtype bf16
fi
if [[ ! -f "$models/llama3-8b-mla/config.json" ]]; then
  # The summary ends with the conversion's wall time.
  "$build/client/transmla" convert --model "$models/llama3-8b" --out "$models/llama3-8b-mla" \
    --kv-lora-rank 512 --qk-rope-head-dim 64 --dtype bf16 --calibration none --force | tee "$out/convert.txt"
fi
"$build/bench/cuda_bench" --model "$models/llama3-8b" --model "$models/llama3-8b-mla" --json "$out/ours.json" \
  | tee "$out/ours.md"
python3 scripts/gpu/bench_transformers.py --model "$models/llama3-8b" --model "$models/llama3-8b-mla" \
  --json "$out/transformers.json" | tee "$out/transformers.md"
