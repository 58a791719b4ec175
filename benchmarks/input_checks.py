"""What checking token ids against the vocabulary costs a training step (`make bench`).

Every model's ids enter through ``Embeddings``, which checks them with one reduction
(``torch.aminmax``; on a GPU one wait for its result) before ``nn.Embedding`` sees them. This times a
GPT training step (forward, backward, AdamW) with the check and with it replaced by a no-op, the two
interleaved, and prints the medians and the difference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

import torch

import transformer_lib as tl
from transformer_lib import layers
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.objectives import causal_lm_shift, token_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    args = parser.parse_args()

    device = tl.get_device()
    tl.set_seed(0)
    model = GPT(GPTConfig(vocab_size=512, max_len=args.seq)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 512, (args.batch, args.seq), device=device)
    inputs, targets = causal_lm_shift(ids, pad_id=0)

    def step() -> float:
        start = time.perf_counter()
        loss = token_loss(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(10):  # warm-up
        step()
    checked, unchecked = [], []
    for i in range(args.steps):  # interleaved, in alternating order, so that drift and order cancel
        for with_check in (True, False) if i % 2 else (False, True):
            if with_check:
                checked.append(step())
            else:
                with mock.patch.object(layers, "check_id_range", lambda *a: None):
                    unchecked.append(step())
    alone = []
    for _ in range(args.steps):
        start = time.perf_counter()
        layers.check_id_range("ids", inputs, 512)
        if device.type == "cuda":
            torch.cuda.synchronize()
        alone.append(time.perf_counter() - start)
    with_check, without = statistics.median(checked), statistics.median(unchecked)
    print(
        f"GPT training step on {device} (batch {args.batch}, seq {args.seq}, d_model 64, 2 layers), "
        f"median of {args.steps}:"
    )
    print(f"  with the id check {with_check * 1e3:.3f} ms, without {without * 1e3:.3f} ms")
    print(
        f"  difference {(with_check - without) * 1e6:.1f} us = {(with_check / without - 1) * 100:.2f} % "
        "(timing noise included)"
    )
    check = statistics.median(alone)
    print(f"  the check alone {check * 1e6:.1f} us = {check / without * 100:.3f} % of a step")


if __name__ == "__main__":
    main()
