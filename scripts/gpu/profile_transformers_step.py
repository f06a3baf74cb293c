#!/usr/bin/env python3
"""Where one transformers decode step's time goes (the baseline of bench_transformers.py): the
step's wall time, the GPU time of its kernels, how many it launched, and the operators that took
the most host time, from torch.profiler over --steps steps after 2 warm-up steps.

  python3 scripts/gpu/profile_transformers_step.py --model DIR [--batch 1] [--context 1024] [--steps 3]
      [--sdpa-backends flash,efficient]
"""
import argparse
import os
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_transformers import cache_shapes, filled_cache, load, sdpa_backends  # noqa: E402


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sdpa-backends", default="", help="e.g. flash,efficient; default: torch's choice")
    args = parser.parse_args()
    model, config = load(args.model)
    key_shape, value_shape = cache_shapes(model, config)
    cache = filled_cache(config, args.batch, args.context, key_shape, value_shape)
    ids = torch.ones(args.batch, 1, dtype=torch.long, device="cuda")
    step = lambda: model(input_ids=ids, past_key_values=cache, use_cache=True)  # noqa: E731
    with sdpa_backends(args.sdpa_backends):
        for _ in range(2):
            step()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            torch.cuda.synchronize()
            wall = (time.perf_counter() - t0) / args.steps
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=60))
    on_device = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    device_ms = sum(e.self_device_time_total for e in on_device) / args.steps / 1e3
    kernels = sum(e.count for e in on_device) / args.steps
    print(f"{args.model}: batch {args.batch} x {args.context}: {wall * 1e3:.1f} ms a step under the profiler, "
          f"{device_ms:.1f} ms of it on the GPU, {kernels:.0f} kernels a step")


if __name__ == "__main__":
    main()
