#!/usr/bin/env bash
# The main job, end to end on the bundled model, in-process: set up, build, then
#   1. generate text and compute perplexity with the original GQA model;
#   2. convert it to a stock DeepSeek-V3 (MLA) checkpoint, calibrated on the bundled stories;
#   3. compare original and converted side by side (perplexity, KL, KV bytes/token) and generate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
transmla=build/client/transmla
model=models/stories260K
text=models/tinystories_val_head.txt
out=${TRANSMLA_DEMO_OUT:-build/demo/stories260K-mla}

echo "== generate (original GQA model)"
$transmla generate --model "$model" --prompt "Once upon a time" --max-tokens 64
echo "== perplexity (original, stories 200-399)"
$transmla perplexity --model "$model" --text "$text" --skip 200 --limit 200
echo "== convert to DeepSeek-V3 MLA (calibration: stories 0-199; evaluation: stories 200-399)"
mkdir -p "$(dirname "$out")"
$transmla convert --model "$model" --out "$out" --force \
  --calibration "$text" --calibration-documents 200 \
  --eval-text "$text" --eval-skip 200 --eval-limit 200
echo "== generate (converted MLA model)"
$transmla generate --model "$out" --prompt "Once upon a time" --max-tokens 64
