#!/usr/bin/env python3
"""The transformers baseline for build/bench/cuda_bench: same cells, bf16, sdpa, on this GPU.

  python3 scripts/gpu/bench_transformers.py --model DIR [--model DIR]... [--batches 1,8,32]
      [--contexts 1024,8192,32768] [--prefill 2048,8192] [--repeats 5] [--sdpa-backends flash,efficient]
      [--json OUT]

Decode: a DynamicCache (transformers' default) is filled with zeros to the context length for
every sequence (same bytes as a real prompt, no prefill run), then one token per sequence per
step; medians of --repeats steps after 2 warm-up steps. A cell that runs out of memory retries
at half the batch. Prefill: one sequence of N tokens from an empty cache. --sdpa-backends limits
sdpa to those backends; by default torch picks (cuDNN attention for these shapes on torch 2.11,
whose host time per call makes decode host-bound: scripts/gpu/profile_transformers_step.py).
"""
import argparse
import contextlib
import json
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoConfig, DeepseekV3ForCausalLM, DynamicCache, LlamaForCausalLM

BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}


def sdpa_backends(names):
    """The context that limits sdpa to the named backends (comma-separated); empty: torch's choice."""
    if not names:
        return contextlib.nullcontext()
    return sdpa_kernel([BACKENDS[n] for n in names.split(",")])


def load(path):
    config = AutoConfig.from_pretrained(path)
    cls = DeepseekV3ForCausalLM if config.model_type == "deepseek_v3" else LlamaForCausalLM
    model = cls.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
    return model, config


def cache_shapes(model, config):
    """Per layer (key, value) shapes per token as the model's attention caches them: probed with
    one token, since transformers' DeepSeek-V3 layout has changed between versions."""
    if config.model_type == "deepseek_v3":
        probe = DynamicCache()
        with torch.no_grad():
            model(input_ids=torch.ones(1, 1, dtype=torch.long, device="cuda"), past_key_values=probe, use_cache=True)
        k, v = probe.layers[0].keys, probe.layers[0].values
        return (k.shape[1], k.shape[3]), (v.shape[1], v.shape[3])
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return (config.num_key_value_heads, head_dim), (config.num_key_value_heads, head_dim)


def filled_cache(config, batch, context, key_shape, value_shape):
    """A DynamicCache holding `context` zero positions per sequence and layer."""
    (kh, kd), (vh, vd) = key_shape, value_shape
    cache = DynamicCache()
    for layer in range(config.num_hidden_layers):
        k = torch.zeros(batch, kh, context, kd, dtype=torch.bfloat16, device="cuda")
        v = torch.zeros(batch, vh, context, vd, dtype=torch.bfloat16, device="cuda")
        cache.update(k, v, layer)
    return cache


def timed(fn, repeats, warmup):
    times = []
    for i in range(warmup + repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


@torch.no_grad()
def decode_cell(model, config, batch, context, repeats):
    (kh, kd), (vh, vd) = cache_shapes(model, config)
    requested = batch
    while batch >= 1:
        cache = None
        try:
            cache = filled_cache(config, batch, context, (kh, kd), (vh, vd))
            ids = torch.ones(batch, 1, dtype=torch.long, device="cuda")
            seconds = timed(lambda: model(input_ids=ids, past_key_values=cache, use_cache=True), repeats, 2)
            kv_bytes = (kh * kd + vh * vd) * 2 * config.num_hidden_layers
            return {"phase": "decode", "batch": batch, "requested_batch": requested, "context": context,
                    "seconds": seconds, "tokens_per_second": batch / seconds, "kv_bytes_per_token": kv_bytes}
        except torch.cuda.OutOfMemoryError:
            del cache
            torch.cuda.empty_cache()
            batch //= 2
        except Exception as e:  # noqa: BLE001 - reported in the table, the other cells still run
            return {"phase": "decode", "batch": batch, "requested_batch": requested, "context": context,
                    "error": f"{type(e).__name__}: {e}"[:200]}
    return {"phase": "decode", "batch": 0, "requested_batch": requested, "context": context, "error": "does not fit"}


@torch.no_grad()
def prefill_cell(model, length, repeats):
    ids = torch.arange(length, device="cuda").remainder(1000).add(1).unsqueeze(0)
    try:
        seconds = timed(lambda: model(input_ids=ids, past_key_values=DynamicCache(), use_cache=True), repeats, 1)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {"phase": "prefill", "batch": 1, "context": length, "error": "does not fit"}
    except Exception as e:  # noqa: BLE001
        return {"phase": "prefill", "batch": 1, "context": length, "error": f"{type(e).__name__}: {e}"[:200]}
    return {"phase": "prefill", "batch": 1, "context": length, "seconds": seconds, "tokens_per_second": length / seconds}


def ints(text):
    return [int(x) for x in text.split(",") if x]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--contexts", default="1024,8192,32768")
    parser.add_argument("--prefill", default="2048,8192")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sdpa-backends", default="", help="e.g. flash,efficient; default: torch's choice")
    parser.add_argument("--json")
    args = parser.parse_args()
    import transformers
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}, "
          f"sdpa backends: {args.sdpa_backends or 'torch default'}")
    print("| model | phase | batch | context | tok/s | ms/step |")
    print("|---|---|---|---|---|---|")
    cells = []
    for path in args.model:
        model, config = load(path)
        with sdpa_backends(args.sdpa_backends):
            rows = [prefill_cell(model, n, args.repeats) for n in ints(args.prefill)]
            for context in ints(args.contexts):
                for batch in ints(args.batches):
                    rows.append(decode_cell(model, config, batch, context, args.repeats))
        for r in rows:
            r["model"] = path
            r["sdpa_backends"] = args.sdpa_backends or "default"
            batch = str(r["batch"]) if r.get("requested_batch", r["batch"]) == r["batch"] else f"{r['batch']} (of {r['requested_batch']})"
            if "error" in r:
                print(f"| {path} | {r['phase']} | {batch} | {r['context']} | - | {r['error']} |", flush=True)
            else:
                print(f"| {path} | {r['phase']} | {batch} | {r['context']} | {r['tokens_per_second']:.1f} | "
                      f"{r['seconds'] * 1e3:.2f} |", flush=True)
        cells.extend(rows)
        del model
        torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cells": cells}, f, indent=2)


if __name__ == "__main__":
    main()
