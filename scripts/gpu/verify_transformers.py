#!/usr/bin/env python3
"""Checks transmla's outputs against Hugging Face transformers (run on the GPU machine, which has it).

  python3 scripts/gpu/verify_transformers.py --original DIR --reference-logits FILE \
      --converted NAME=DIR[:OURS] ... [--greedy-out FILE] [--json OUT]

For each converted folder it loads the stock DeepseekV3ForCausalLM (no remote code, fp32) and
reports, on the reference sequences (ids_i in the reference file):
  - max |logit| difference against transformers' LlamaForCausalLM on the original folder
    (the function a conversion approximates; ~0 for mode exact);
  - max |logit| difference against our engine's logits for the same converted folder (OURS: a
    safetensors file of logits_i written by `transmla logits`), which must be <= 1e-3;
  - greedy agreement of 64 tokens from BOS.
With --greedy-out it also writes transformers' greedy 256 tokens from BOS for the original model.
"""
import argparse
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoConfig, DeepseekV3ForCausalLM, LlamaForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEV = "cuda" if torch.cuda.is_available() else "cpu"


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids[None].to(DEV)).logits[0].float().cpu()


def greedy(model, n, bos):
    with torch.no_grad():
        out = model.generate(torch.tensor([[bos]], device=DEV), max_new_tokens=n, do_sample=False,
                             min_new_tokens=n, pad_token_id=0)
    return out[0, 1:].tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--original", required=True)
    ap.add_argument("--reference-logits", required=True)
    ap.add_argument("--converted", action="append", default=[])
    ap.add_argument("--greedy-out")
    ap.add_argument("--json")
    args = ap.parse_args()

    ref = load_file(args.reference_logits)
    seqs = [ref[f"ids_{i}"].long() for i in range(4) if f"ids_{i}" in ref]
    orig = LlamaForCausalLM.from_pretrained(args.original, dtype=torch.float32).to(DEV).eval()
    orig_logits = [logits_of(orig, s) for s in seqs]
    bos = orig.config.bos_token_id
    result = {"device": torch.cuda.get_device_name() if DEV == "cuda" else "cpu",
              "torch": torch.__version__, "transformers": __import__("transformers").__version__,
              "original_vs_reference_file": max(float((a - ref[f"logits_{i}"]).abs().max())
                                                for i, a in enumerate(orig_logits)),
              "converted": {}}
    orig_greedy = greedy(orig, 256, bos)
    if args.greedy_out:
        json.dump({"model": "stories260K", "source": "transformers LlamaForCausalLM fp32 greedy from BOS",
                   "transformers": result["transformers"], "bos": bos, "token_ids": orig_greedy},
                  open(args.greedy_out, "w"), indent=1)
    for spec in args.converted:
        name, rest = spec.split("=", 1)
        path, ours = (rest.split(":", 1) + [None])[:2]
        cfg = AutoConfig.from_pretrained(path)
        model = DeepseekV3ForCausalLM.from_pretrained(path, dtype=torch.float32).to(DEV).eval()
        conv_logits = [logits_of(model, s) for s in seqs]
        rec = {"config_class": type(cfg).__name__,
               "rope": getattr(cfg, "rope_parameters", None) and {k: v for k, v in cfg.rope_parameters.items()
                                                                  if not isinstance(v, list)},
               "max_abs_vs_original": max(float((a - b).abs().max()) for a, b in zip(conv_logits, orig_logits)),
               "max_rel_vs_original": max(float((a - b).abs().max() / b.abs().max())
                                          for a, b in zip(conv_logits, orig_logits))}
        if ours:
            mine = load_file(ours)
            rec["max_abs_vs_transmla_engine"] = max(float((a - mine[f"logits_{i}"]).abs().max())
                                                    for i, a in enumerate(conv_logits))
        g = greedy(model, 64, bos)
        rec["greedy64_equal_to_original"] = g == orig_greedy[:64]
        rec["greedy64_first_divergence"] = next((i for i, (a, b) in enumerate(zip(g, orig_greedy)) if a != b), None)
        result["converted"][name] = rec
        print(name, json.dumps(rec), flush=True)
    print(json.dumps(result, indent=1))
    if args.json:
        json.dump(result, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
