"""What attention costs as the sequence grows (`make bench`): the measurements of the chapter, as ratios.

One layer of width 64 (``transformer_lib.tools.cost.attention_and_gru``), forward + backward, batch 1 (16 on a
GPU), input and output ``(batch, n, 64)``:

* naive: ``transformer_lib.MultiHeadAttention`` (4 heads, four projections) with ``need_weights=True``,
  which materialises the (n, n) weights
* fused: the same module without the weights (``F.scaled_dot_product_attention``)
* GRU:   ``nn.GRU`` of width 64

Prints, per length, the median times and the ratios naive/fused and GRU/fused, the bytes saved for
backward (each storage once) and the ratio naive/fused, then the fitted log-log slopes; then the tokens
per second of greedy generation with and without a KV cache, and their ratio.

Timings measure the machine as it is: ``transformer_lib.tools.cost.run_native`` runs them in this process when
it has the machine's own numeric settings (as ``make bench`` starts it), and otherwise in a subprocess
without the book's canonical settings.
"""

from __future__ import annotations

import argparse

import torch

import transformer_lib as tl
from transformer_lib.tools import cost


def saved_bytes(lengths: list[int], d_model: int, heads: int) -> dict[str, list[int]]:
    """Bytes saved for backward by each layer, batch 1, on the CPU (a count, the same on every machine)."""
    tl.set_seed(0)
    layers = cost.attention_and_gru(d_model, heads)
    saved: dict[str, list[int]] = {name: [] for name in layers}
    for n in lengths:
        x = torch.randn(1, n, d_model, requires_grad=True)
        for name, layer in layers.items():
            saved[name].append(cost.saved_tensor_bytes(lambda layer=layer, x=x: layer(x)))
    return saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=256, help="tokens to generate")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)

    heads, d_model = 4, 64
    timed = cost.run_native(
        cost.layer_times, lengths=args.lengths, d_model=d_model, heads=heads, repeats=args.repeats, threads=args.threads
    )
    times, machine = timed["times"], timed["machine"]
    saved = saved_bytes(args.lengths, d_model, heads)
    print(
        f"device {timed['device']}, threads {machine['threads']}, CPU kernels {machine['cpu_capability']}, "
        f"batch {timed['batch']}, heads {heads}, d_model {d_model}, forward + backward, median of {args.repeats}"
    )
    print(
        f"{'n':>6} {'naive ms':>9} {'fused ms':>9} {'GRU ms':>9} {'naive/fused':>12} {'GRU/fused':>10}"
        f" {'saved naive/fused':>18}"
    )
    for i, n in enumerate(args.lengths):
        t = {name: by_pass["forward + backward"][i] for name, by_pass in times.items()}
        print(
            f"{n:6d} {t['naive'] * 1e3:9.2f} {t['fused'] * 1e3:9.2f} {t['GRU'] * 1e3:9.2f} "
            f"{t['naive'] / t['fused']:12.2f} {t['GRU'] / t['fused']:10.2f} "
            f"{saved['naive'][i] / saved['fused'][i]:18.1f}"
        )
    long = slice(-3, None)
    for name, by_pass in times.items():
        span = slice(None) if name == "GRU" else long
        ts = by_pass["forward + backward"]
        print(
            f"slope {name:5s} time {cost.loglog_slope(args.lengths[span], ts[span]):5.2f}   "
            f"saved bytes {cost.loglog_slope(args.lengths[long], saved[name][long]):5.2f}"
        )
    speed = cost.run_native(cost.generation_speed, steps=args.steps, d_model=d_model, heads=heads, threads=args.threads)
    plain, cached = speed["tokens_per_second"]["without cache"], speed["tokens_per_second"]["with cache"]
    print(f"greedy generation of {args.steps} tokens: {plain:.0f} tokens/s without cache, {cached:.0f} with")
    print(f"ratio cached / uncached tokens per second  {cached / plain:6.2f}  (target > 1)")


if __name__ == "__main__":
    main()
