#!/usr/bin/env python3
"""How well transformers' own BF16 agrees with its FP32 on a model (run on the GPU machine).

  python3 scripts/gpu/transformers_bf16_agreement.py DIR [DIR...]

The CUDA tests hold our BF16 engine to <= 2e-2 relative L2 against FP32 and report its raw top-1
agreement over 512 positions (94.7% / 96.1% on the synthetic 1B models, whose random weights give
near-flat logits). This measures the same two figures for transformers (stock LlamaForCausalLM or
DeepseekV3ForCausalLM, sdpa, no remote code) on the same folders and the same kind of 512 random
tokens, FP32 with TF32 off as the reference: what BF16 itself costs, whoever runs it.
"""
import sys

import torch
from transformers import AutoConfig, DeepseekV3ForCausalLM, LlamaForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def logits(directory, dtype, ids):
    config = AutoConfig.from_pretrained(directory)
    cls = DeepseekV3ForCausalLM if config.model_type == "deepseek_v3" else LlamaForCausalLM
    model = cls.from_pretrained(directory, torch_dtype=dtype, attn_implementation="sdpa").to("cuda").eval()
    with torch.no_grad():
        out = model(input_ids=ids[None].cuda()).logits[0].float().cpu()
    del model
    torch.cuda.empty_cache()
    return out, config.vocab_size


def main():
    for directory in sys.argv[1:]:
        vocab = AutoConfig.from_pretrained(directory).vocab_size
        ids = torch.randint(0, vocab, (512,), generator=torch.Generator().manual_seed(7))
        reference, _ = logits(directory, torch.float32, ids)
        bf16, _ = logits(directory, torch.bfloat16, ids)
        relative = ((bf16 - reference).norm() / reference.norm()).item()
        top1 = (bf16.argmax(-1) == reference.argmax(-1)).float().mean().item()
        rms = (bf16 - reference).pow(2).mean(-1).sqrt()
        top2 = reference.topk(2, dim=-1).values
        decisive = (top2[:, 0] - top2[:, 1]) > 4 * rms
        decisive_top1 = (bf16.argmax(-1) == reference.argmax(-1))[decisive].float().mean().item()
        print(f"{directory}: transformers bf16 vs fp32 over 512 positions: relative L2 {relative:.4g}, "
              f"top-1 {top1:.4f} raw, {decisive_top1:.4f} over {int(decisive.sum())} decisive positions")


if __name__ == "__main__":
    main()
