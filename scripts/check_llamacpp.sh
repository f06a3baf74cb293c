#!/usr/bin/env bash
# Checks that llama.cpp (deepseek2) runs our converted models as our engine does: converts
# stories260K, exports GGUF, and compares perplexity on stories 200-399 and a greedy completion.
# Usage: scripts/check_llamacpp.sh LLAMA_CPP_BUILD_DIR [TRANSMLA_BINARY]
# llama.cpp is built outside the repo (SPEC §10); its bin/ needs llama-perplexity and llama-completion.
set -euo pipefail
llama_bin="${1:?usage: $0 LLAMA_CPP_BUILD_DIR [TRANSMLA_BINARY]}/bin"
repo="$(cd "$(dirname "$0")/.." && pwd)"
transmla="${2:-$repo/build/client/transmla}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
text="$repo/models/tinystories_val_head.txt"
prompt="Once upon a time"
# Stories 200-399 (blank-line separated), the held-out range of the quality table.
awk -v RS= -v ORS='\n\n' 'NR > 200 && NR <= 400' "$text" > "$work/held_out.txt"

printf '| mode | export | llama.cpp ppl (ctx 128 chunks) | transmla ppl (per story) | greedy %s tokens equal |\n' 32
printf '|---|---|---|---|---|\n'
for mode in deepseek exact; do
  "$transmla" convert --model "$repo/models/stories260K" --out "$work/$mode" --mode "$mode" \
    --calibration "$text" --calibration-documents 200 > "$work/$mode.convert.log" 2>&1
  ours_ppl=$("$transmla" perplexity --model "$work/$mode" --text "$text" --skip 200 --limit 200 --json |
    python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["ppl"])')
  if ! "$transmla" export-gguf --model "$work/$mode" --out "$work/$mode.gguf" > "$work/$mode.export.log" 2>&1; then
    printf '| %s | refused: %s | - | %s | - |\n' "$mode" "$(tail -1 "$work/$mode.export.log" | cut -c1-90)" "$ours_ppl"
    continue
  fi
  "$llama_bin/llama-perplexity" -m "$work/$mode.gguf" -f "$work/held_out.txt" -c 128 -b 128 -t 2 \
    > "$work/$mode.ppl.log" 2>&1
  llama_ppl=$(grep -o 'Final estimate: PPL = [0-9.]*' "$work/$mode.ppl.log" | awk '{print $NF}')
  "$llama_bin/llama-completion" -m "$work/$mode.gguf" -p "$prompt" -n 32 --temp 0 --top-k 1 -no-cnv \
    --seed 1 -t 2 2> "$work/$mode.gen.err" | tr -d '\0' > "$work/$mode.llama.txt" || true
  "$transmla" generate --model "$work/$mode" --prompt "$prompt" --max-tokens 32 --temperature 0 \
    2> /dev/null > "$work/$mode.ours.txt"
  llama_text=$(tr '\n' ' ' < "$work/$mode.llama.txt" | sed "s/^ *$prompt//" | sed 's/ *$//')
  ours_text=$(tr '\n' ' ' < "$work/$mode.ours.txt" | sed 's/ *$//')
  same=no; [[ "$llama_text" == "$ours_text" ]] && same=yes
  printf '| %s | ok | %s | %s | %s |\n' "$mode" "$llama_ppl" "$ours_ppl" "$same"
  printf '  llama.cpp: %s\n  transmla : %s\n' "$llama_text" "$ours_text" >&2
done
