"""What attention costs as the sequence grows (`make bench`): the measurements of the chapter, as ratios.

One layer, forward + backward, batch 1 (16 on a GPU), 4 heads of width 16 (d_model 64):

* naive: ``transformer_lib.scaled_dot_product_attention`` (materialises the (n, n) weights)
* fused: ``transformer_lib.fast_attention`` (``F.scaled_dot_product_attention``)
* GRU:   ``nn.GRU`` of width 64

Prints, per length, the median times and the ratios naive/fused and GRU/fused, the bytes saved for
backward and the ratio naive/fused, then the fitted log-log slopes; then the tokens per second of
greedy generation with and without a KV cache, and their ratio.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import transformer_lib as tl
from transformer_lib import cost


def layer_costs(lengths: list[int], batch: int, heads: int, d_k: int, repeats: int, device: torch.device):
    d_model = heads * d_k
    gru = nn.GRU(d_model, d_model, batch_first=True).to(device)
    times = {"naive": [], "fused": [], "GRU": []}
    saved = {"naive": [], "fused": [], "GRU": []}
    for n in lengths:
        q, k, v = (torch.randn(batch, heads, n, d_k, device=device, requires_grad=True) for _ in range(3))
        x = torch.randn(batch, n, d_model, device=device, requires_grad=True)
        layers = {
            "naive": lambda q=q, k=k, v=v: tl.scaled_dot_product_attention(q, k, v)[0],
            "fused": lambda q=q, k=k, v=v: tl.fast_attention(q, k, v),
            "GRU": lambda x=x: gru(x)[0],
        }
        for name, layer in layers.items():
            times[name].append(cost.median_seconds(lambda layer=layer: layer().sum().backward(), repeats=repeats))
            saved[name].append(cost.saved_tensor_bytes(layer))
    return times, saved


def generation_speed(steps: int, d_model: int, heads: int, device: torch.device) -> tuple[float, float]:
    """Tokens per second of greedy generation without and with a KV cache (asserts identical tokens)."""
    vocab = 64
    embed = tl.Embeddings(vocab, d_model, max_len=steps + 16).to(device).eval()
    stack = tl.Encoder(2, d_model, heads, 4 * d_model, norm_first=True).to(device).eval()
    head = nn.Linear(d_model, vocab).to(device)
    prompt = torch.randint(0, vocab, (1, 8), device=device)

    @torch.no_grad()
    def plain():
        ids = prompt
        for _ in range(steps):
            nxt = head(stack(embed(ids), causal=True)[:, -1]).argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
        return ids

    @torch.no_grad()
    def cached():
        caches = stack.new_caches()
        nxt = head(stack(embed(prompt), causal=True, caches=caches)[:, -1]).argmax(-1, keepdim=True)
        ids = torch.cat([prompt, nxt], dim=1)
        for _ in range(steps - 1):
            h = stack(embed(nxt, start=ids.shape[1] - 1), causal=True, caches=caches)
            nxt = head(h[:, -1]).argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
        return ids

    if not torch.equal(plain(), cached()):
        raise AssertionError("generation with and without the KV cache gave different tokens")
    return steps / cost.median_seconds(plain, repeats=3), steps / cost.median_seconds(cached, repeats=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=256, help="tokens to generate")
    args = parser.parse_args()

    device = tl.get_device()
    tl.set_seed(0)
    batch, heads, d_k = (1 if device.type == "cpu" else 16), 4, 16
    times, saved = layer_costs(args.lengths, batch, heads, d_k, args.repeats, device)
    print(
        f"device {device}, threads {torch.get_num_threads()}, batch {batch}, heads {heads}, d_k {d_k}, "
        f"forward + backward, median of {args.repeats}"
    )
    print(
        f"{'n':>6} {'naive ms':>9} {'fused ms':>9} {'GRU ms':>9} {'naive/fused':>12} {'GRU/fused':>10}"
        f" {'saved naive/fused':>18}"
    )
    for i, n in enumerate(args.lengths):
        t = {name: ts[i] for name, ts in times.items()}
        print(
            f"{n:6d} {t['naive'] * 1e3:9.2f} {t['fused'] * 1e3:9.2f} {t['GRU'] * 1e3:9.2f} "
            f"{t['naive'] / t['fused']:12.2f} {t['GRU'] / t['fused']:10.2f} "
            f"{saved['naive'][i] / saved['fused'][i]:18.1f}"
        )
    long = slice(-3, None)
    for name in times:
        span = slice(None) if name == "GRU" else long
        print(
            f"slope {name:5s} time {cost.loglog_slope(args.lengths[span], times[name][span]):5.2f}   "
            f"saved bytes {cost.loglog_slope(args.lengths, saved[name]):5.2f}"
        )
    plain, cached = generation_speed(args.steps, heads * d_k, heads, device)
    print(f"greedy generation of {args.steps} tokens: {plain:.0f} tokens/s without cache, {cached:.0f} with")
    print(f"ratio cached / uncached tokens per second  {cached / plain:6.2f}  (target > 1)")


if __name__ == "__main__":
    main()
