#!/usr/bin/env bash
# Where one decode step's (or one prefill pass's) GPU time goes: runs cuda_bench under Nsight
# Compute on exactly one step and prints the kernels' total time, grouped by kernel name, then by
# kernel and grid size with the DRAM bandwidth each reached (kernels serialized, as ncu runs them).
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
ncu --clock-control none --profile-from-start off --csv --print-units base \
  --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,launch__grid_size \
  "$build/bench/cuda_bench" --model "$model" "${cells[@]}" --repeats 1 --profile-last-step 1 > "$csv" 2>/dev/null
python3 - "$csv" "$label" <<'PY'
import collections, csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head = rows[0]
launches = collections.defaultdict(dict)  # launch id -> kernel name and metrics
for r in rows[1:]:
    launch = launches[r[head.index("ID")]]
    launch["name"] = r[head.index("Kernel Name")].split("(")[0][-60:]
    launch[r[head.index("Metric Name")]] = float(r[head.index("Metric Value")].replace(",", ""))
total, count = collections.Counter(), collections.Counter()
shapes = collections.defaultdict(list)  # (name, grid) -> launches
for launch in launches.values():
    total[launch["name"]] += launch["gpu__time_duration.sum"] / 1e3
    count[launch["name"]] += 1
    shapes[(launch["name"], int(launch["launch__grid_size"]))].append(launch)
print(f"== {sys.argv[2]}: {sum(total.values()):.0f} us of kernels, {sum(count.values())} launches")
for name, us in total.most_common(16):
    print(f"  {name:60s} {count[name]:5d} {us:9.0f} us")
# Per kernel and grid size (a GEMM's grid tells its shape): mean time and DRAM bytes per launch.
print("  by grid: kernel, blocks, launches, us each, MB each (read + written), GB/s")
for (name, grid), group in sorted(shapes.items(), key=lambda kv: -sum(l["gpu__time_duration.sum"] for l in kv[1])):
    ns = sum(l["gpu__time_duration.sum"] for l in group) / len(group)
    moved = sum(l.get("dram__bytes_read.sum", 0) + l.get("dram__bytes_write.sum", 0) for l in group) / len(group)
    print(f"  {name[-40:]:40s} {grid:7d} {len(group):4d} {ns / 1e3:9.1f} {moved / 1e6:9.1f} {moved / ns:7.0f}")
PY
