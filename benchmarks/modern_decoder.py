"""The GPT-like and the Llama-like decoder side by side: size, KV-cache memory, generation speed
(`make bench`; chapter 9d measures the same at the chapter's sizes).

Both models have random weights and the same width, depth and number of query heads; the Llama-like
one is run with 8, 4, 2 and 1 key/value heads. For each: the parameter count, the KV cache after a
prompt plus ``--steps`` generated tokens (measured from the caches' tensors and checked against the
formula ``2 * layers * kv_heads * d_k * positions * 4 bytes``), and greedy generation's tokens per
second with and without the cache (median of ``--repeats``; both must give the same tokens).
"""

from __future__ import annotations

import argparse
import functools

import torch

import transformer_lib as tl
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.tools.cost import median_seconds


def cache_bytes(model: torch.nn.Module, ids: torch.Tensor) -> int:
    """Bytes of the KV caches after a forward pass over ``ids``."""
    caches = model.new_caches()
    model(ids, caches=caches)
    return sum(c.nbytes for c in caches)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--steps", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    device = tl.get_device()
    d, h, n, vocab = args.d_model, args.heads, args.layers, 1024
    positions = args.prompt + args.steps
    models = {"GPT-like": GPT(GPTConfig(vocab, d, h, n, 4 * d, positions))}
    for kv in (8, 4, 2, 1):
        if h % kv == 0:
            config = LlamaConfig(vocab, d, h, kv, n, d_ff=(8 * d // 3 + 15) // 16 * 16, max_len=positions)
            models[f"Llama-like, {kv} kv heads"] = Llama(config)
    tl.set_seed(0)
    prompt = torch.randint(5, vocab, (1, args.prompt), device=device)
    print(
        f"d_model {d}, {h} query heads, {n} layers, prompt {args.prompt} + {args.steps} generated tokens, on {device}"
    )
    print(f"{'model':26s} {'parameters':>11s} {'KV cache':>10s} {'tokens/s, no cache':>19s} {'with cache':>11s}")
    for name, model in models.items():
        model = model.to(device).eval()
        ids = torch.randint(5, vocab, (1, positions), device=device)
        measured = cache_bytes(model, ids)
        kv_heads = getattr(model.config, "num_kv_heads", h)
        assert measured == 2 * n * kv_heads * (d // h) * positions * 4, name
        rates = {}
        outputs = {}
        for use_cache in (False, True):
            run = functools.partial(model.generate, prompt, args.steps, use_cache=use_cache)
            outputs[use_cache] = run()
            rates[use_cache] = args.steps / median_seconds(run, args.repeats)
        assert torch.equal(outputs[False], outputs[True]), f"{name}: the cache changed the tokens"
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:26s} {params:11,d} {measured / 1024:8.0f} KB {rates[False]:19,.0f} {rates[True]:11,.0f}")


if __name__ == "__main__":
    main()
