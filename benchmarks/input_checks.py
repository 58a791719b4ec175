"""What the input checks cost a training step (`make bench`).

A model checks its inputs once, at its door (``GPT.forward`` checks the ids: a ``(batch, seq)``
integer tensor, positions within ``max_len``, every id in the vocabulary with one reduction,
``torch.aminmax``, on a GPU one wait for its result), and runs its stack with ``checked=True``. This
times a GPT training step (forward, backward, AdamW) through the door and without it (the same
modules, called as the door calls them once it has checked), the two interleaved, and prints the
medians, the difference, the door's checks alone and how many calls of ``validate``'s functions one
forward makes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import transformer_lib as tl
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.tools.cost import check_calls
from transformer_lib.training.objectives import causal_lm_shift, token_loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)

    device = tl.get_device()
    tl.set_seed(0)
    model = GPT(GPTConfig(vocab_size=512, max_len=args.seq, num_layers=args.layers)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 512, (args.batch, args.seq), device=device)
    inputs, targets = causal_lm_shift(ids, pad_id=0)

    def unchecked(ids: torch.Tensor) -> torch.Tensor:
        """GPT.forward behind its door: the same modules, each told its inputs are checked."""
        return model.lm_head(model.blocks(model.embed(ids, checked=True), checked=True))

    torch.testing.assert_close(unchecked(inputs), model(inputs))

    def step(forward) -> float:
        start = time.perf_counter()
        loss = token_loss(forward(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(min(10, args.steps)):  # warm-up
        step(model)
    checked, bare = [], []
    for i in range(args.steps):  # interleaved, in alternating order, so that drift and order cancel
        for with_check in (True, False) if i % 2 else (False, True):
            if with_check:
                checked.append(step(model))
            else:
                bare.append(step(unchecked))
    alone = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.embed.check_ids(inputs)  # everything the door checks
        if device.type == "cuda":
            torch.cuda.synchronize()
        alone.append(time.perf_counter() - start)
    calls = sum(check_calls(lambda: model(inputs)).values())
    with_check, without = statistics.median(checked), statistics.median(bare)
    print(
        f"GPT training step on {device} (batch {args.batch}, seq {args.seq}, d_model 64, {args.layers} layers), "
        f"median of {args.steps}:"
    )
    print(f"  through the door {with_check * 1e3:.3f} ms, without its checks {without * 1e3:.3f} ms")
    print(
        f"  difference {(with_check - without) * 1e6:.1f} us = {(with_check / without - 1) * 100:.2f} % "
        "(timing noise included)"
    )
    check = statistics.median(alone)
    print(f"  the door's checks alone {check * 1e6:.1f} us = {check / without * 100:.3f} % of a step")
    print(f"  check calls per forward: {calls} (validate's functions; the same at any depth)")


if __name__ == "__main__":
    main()
