"""Time the library's MultiHeadAttention against torch's own, with a causal mask (`make bench`).

Same shapes for all three (batch 8, 8 heads, seq 512, d_model 512), forward only, no grad:

* ours:  ``transformer_lib.MultiHeadAttention(..., is_causal=True)``
* torch: ``nn.MultiheadAttention`` with the causal mask and ``need_weights=False``
* raw:   one packed input projection + ``F.scaled_dot_product_attention(is_causal=True)`` + output projection

Prints the median time of each and the ratios ours/torch and ours/raw.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

import transformer_lib as tl
from transformer_lib.tools.cost import median_seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    device = tl.get_device()
    tl.set_seed(0)
    theirs = nn.MultiheadAttention(args.d_model, args.heads, batch_first=True, device=device).eval()
    ours = tl.MultiHeadAttention.from_torch(theirs).eval()
    x = torch.randn(args.batch, args.seq, args.d_model, device=device)
    blocked = tl.to_torch_mha(tl.subsequent_mask(args.seq, device=device))

    def run_ours():
        return ours(x, is_causal=True)[0]

    def run_torch():
        return theirs(x, x, x, attn_mask=blocked, is_causal=True, need_weights=False)[0]

    def run_raw():
        b, s, d = x.shape
        q, k, v = F.linear(x, theirs.in_proj_weight, theirs.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.view(b, s, args.heads, d // args.heads).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return theirs.out_proj(out.transpose(1, 2).reshape(b, s, d))

    with torch.no_grad():
        torch.testing.assert_close(run_ours(), run_torch(), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(run_ours(), run_raw(), atol=1e-4, rtol=1e-4)
        t_ours, t_torch, t_raw = (median_seconds(f, args.repeats, warmup=3) for f in (run_ours, run_torch, run_raw))

    print(
        f"device {device}, threads {torch.get_num_threads()}, batch {args.batch}, heads {args.heads}, "
        f"seq {args.seq}, d_model {args.d_model}, causal, forward, median of {args.repeats}"
    )
    print(f"transformer_lib.MultiHeadAttention   {t_ours * 1e3:8.2f} ms")
    print(f"torch.nn.MultiheadAttention          {t_torch * 1e3:8.2f} ms")
    print(f"raw SDPA + projections               {t_raw * 1e3:8.2f} ms")
    print(f"ratio ours / nn.MultiheadAttention   {t_ours / t_torch:8.3f}  (target <= 1.0)")
    print(f"ratio ours / raw SDPA + projections  {t_ours / t_raw:8.3f}  (target <= 1.2)")


if __name__ == "__main__":
    main()
