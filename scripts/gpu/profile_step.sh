#!/usr/bin/env bash
# Where one decode step's (or one prefill pass's) GPU time goes: runs cuda_bench under Nsight
# Compute on exactly one step and prints the kernels' total time, grouped by kernel name.
#
#   scripts/gpu/profile_step.sh BUILD_DIR MODEL_DIR decode BATCH CONTEXT
#   scripts/gpu/profile_step.sh BUILD_DIR MODEL_DIR prefill LENGTH
#
# Clocks are left to the driver (--clock-control none) so that times compare with cuda_bench's.
set -euo pipefail
build=$1 model=$2 phase=$3
if [[ $phase == decode ]]; then
  cells=(--batches "$4" --contexts "$5" --prefill "")
  label="decode batch $4 x $5"
else
  cells=(--batches "" --contexts "" --prefill "$4")
  label="prefill $4"
fi
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
ncu --clock-control none --profile-from-start off --csv --metrics gpu__time_duration.sum \
  "$build/bench/cuda_bench" --model "$model" "${cells[@]}" --repeats 1 --profile-last-step 1 > "$csv" 2>/dev/null
python3 - "$csv" "$label" <<'PY'
import collections, csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head = rows[0]
name_col, value_col = head.index("Kernel Name"), head.index("Metric Value")
total, count = collections.Counter(), collections.Counter()
for r in rows[1:]:
    name = r[name_col].split("(")[0][-60:]
    total[name] += float(r[value_col].replace(",", "")) / 1e3
    count[name] += 1
print(f"== {sys.argv[2]}: {sum(total.values()):.0f} us of kernels, {sum(count.values())} launches")
for name, us in total.most_common(16):
    print(f"  {name:60s} {count[name]:5d} {us:9.0f} us")
PY
