#!/usr/bin/env bash
# The CUDA benchmark of issue 4 on a Llama-3-8B-shaped BF16 model and its deepseek conversion
# (kv_lora_rank 512, qk_rope_head_dim 64): build/bench/cuda_bench and the transformers baseline on
# the same cells (two sdpa backend choices); then a timed conversion of the same model with calibration on the GPU
# ($out/convert_calibrated.txt). Run after scripts/gpu/check_cuda.sh (same BUILD_DIR).
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
# Transformers twice: torch's own sdpa backend choice (cuDNN attention on torch 2.11, about 1.3 ms of
# host time a call) and flash / memory-efficient attention only; docs/cuda.md compares with the
# faster of the two in each cell.
python3 scripts/gpu/bench_transformers.py --model "$models/llama3-8b" --model "$models/llama3-8b-mla" \
  --json "$out/transformers.json" | tee "$out/transformers.md"
python3 scripts/gpu/bench_transformers.py --model "$models/llama3-8b" --model "$models/llama3-8b-mla" \
  --sdpa-backends flash,efficient --json "$out/transformers_flash.json" | tee "$out/transformers_flash.md"

# The conversion again, calibrated, its blocks run on the GPU (--calibration-device cuda); the
# summary ends with the wall time, the report has per-layer details. The synthetic model has random
# weights and no tokenizer (make_synthetic_model copies stories260K's only for 512-token
# vocabularies), so a sibling folder links its files and adds the bundled stories260K tokenizer:
# its ids (< 512) are valid rows of the 128K embedding, and the timing depends on the token count,
# not on which ids. The calibration text is the bundled TinyStories slice with every 4 paragraphs
# joined into one document, so that most of the 128 samples reach the 256-token cut (about 31K
# tokens, the scale of a real 8B calibration) instead of ~90 tokens each.
calibrated_source="$models/llama3-8b-tokenized"
mkdir -p "$calibrated_source"
for f in "$models/llama3-8b"/*; do ln -sfn "$(realpath "$f")" "$calibrated_source/$(basename "$f")"; done
cp --remove-destination models/stories260K/tokenizer.json models/stories260K/tokenizer_config.json "$calibrated_source/"
awk 'BEGIN { RS = ""; ORS = "" }
     { doc = doc (n % 4 ? "\n" : "") $0; if (++n % 4 == 0) { print doc "\n\n"; doc = "" } }
     END { if (doc != "") print doc "\n" }' models/tinystories_val_head.txt > "$out/calibration_text.txt"
"$build/client/transmla" convert --model "$calibrated_source" --out "$models/llama3-8b-mla-calibrated" \
  --kv-lora-rank 512 --qk-rope-head-dim 64 --dtype bf16 --calibration "$out/calibration_text.txt" \
  --calibration-samples "${CALIBRATION_SAMPLES:-128}" --calibration-length "${CALIBRATION_LENGTH:-256}" \
  --calibration-device cuda --force 2>&1 | tee "$out/convert_calibrated.txt"
cp "$models/llama3-8b-mla-calibrated/conversion_report.json" "$out/convert_calibrated_report.json"
