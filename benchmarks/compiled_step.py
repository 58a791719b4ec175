"""A GPT training step compiled by ``torch.compile`` next to the eager one (`make bench`).

The library's models compile whole (``fullgraph=True``: no Python branch on a tensor's value inside,
the id check steps aside while compiling). This times a GPT training step (forward, backward, AdamW)
eagerly and with the model compiled (the default backend, inductor, generates fused kernels: C++ on a
CPU, Triton on a GPU), interleaved, after the compiled model's first call, which compiles it; that
first call's time is printed as the compile time. Both start from the same weights and are checked to
give the same loss.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

import transformer_lib as tl
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.training.objectives import causal_lm_shift, token_loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--backend", default="inductor", help="torch.compile's backend (eager: capture only)")
    args = parser.parse_args(argv)

    device = tl.get_device()
    tl.set_seed(0)
    config = GPTConfig(512, d_model=args.d_model, d_ff=4 * args.d_model, num_layers=args.layers, max_len=args.seq)
    eager = GPT(config).to(device)
    twin = copy.deepcopy(eager)
    compiled = torch.compile(twin, fullgraph=True, backend=args.backend)
    ids = torch.randint(0, 512, (args.batch, args.seq), device=device)
    inputs, targets = causal_lm_shift(ids, pad_id=0)

    def trainer(model: torch.nn.Module, params):
        optimizer = torch.optim.AdamW(params, lr=1e-3)

        def step() -> tuple[float, float]:
            start = time.perf_counter()
            loss = token_loss(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - start, loss.item()

        return step

    eager_step, compiled_step = trainer(eager, eager.parameters()), trainer(compiled, twin.parameters())
    compile_time, first_loss = compiled_step()  # the first call traces and compiles
    _, eager_loss = eager_step()
    assert abs(first_loss - eager_loss) < 1e-4, (first_loss, eager_loss)
    for _ in range(min(5, args.steps)):  # warm-up
        eager_step(), compiled_step()
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for i in range(args.steps):  # interleaved, in alternating order, so that drift and order cancel
        for name in ("eager", "compiled") if i % 2 else ("compiled", "eager"):
            times[name].append((eager_step if name == "eager" else compiled_step)()[0])
    t_eager, t_compiled = statistics.median(times["eager"]), statistics.median(times["compiled"])
    print(
        f"GPT training step on {device}, threads {torch.get_num_threads()} (batch {args.batch}, seq {args.seq}, "
        f"d_model {args.d_model}, {args.layers} layers), median of {args.steps}:"
    )
    print(f"  eager                          {t_eager * 1e3:8.2f} ms")
    print(f"  torch.compile ({args.backend:>9})      {t_compiled * 1e3:8.2f} ms   ({t_eager / t_compiled:.2f} x)")
    print(f"  compile time (first call)      {compile_time:8.2f} s")


if __name__ == "__main__":
    main()
