"""The library's GPT-2 against Hugging Face's ``GPT2LMHeadModel`` (`make bench`): the same weights,
random (no download), converted by ``transformer_lib.models.hub``.

Two timings, each the median of ``--repeats``: a forward pass over a ``(batch, seq)`` batch, and
greedy generation of ``--new-tokens`` tokens after a prompt of ``--prompt`` with each side's KV cache
(both must write the same tokens). Printed with the ratio library / Hugging Face (below 1: the
library is faster). The defaults are GPT-2 small (124M parameters). Needs ``transformers``.
"""

from __future__ import annotations

import argparse
import functools

import torch
import transformers

import transformer_lib as tl
from transformer_lib.models import hub
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.tools.cost import median_seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--d-model", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    transformers.logging.set_verbosity_error()
    device = tl.get_device()
    d = args.d_model
    max_len = max(1024, args.seq, args.prompt + args.new_tokens)  # GPT-2's 1024 positions at least
    sizes = {"vocab_size": args.vocab, "d_model": d, "num_heads": args.heads, "num_layers": args.layers}
    config = GPTConfig.gpt2(**sizes, d_ff=4 * d, max_len=max_len)
    tl.set_seed(0)
    ours = GPT(config).to(device).eval()
    theirs = hub.to_hf(ours).eval()
    params = sum(p.numel() for p in ours.parameters())
    print(f"GPT-2 shape: {args.layers} layers, d_model {d}, {params:,} parameters, on {device}")

    ids = torch.randint(0, args.vocab, (args.batch, args.seq), device=device)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), theirs(ids).logits, atol=1e-4, rtol=1e-4)
        forward = {
            "library": median_seconds(functools.partial(ours, ids), args.repeats),
            "Hugging Face": median_seconds(functools.partial(theirs, ids), args.repeats),
        }
    prompt = ids[:1, : args.prompt]
    run_ours = functools.partial(ours.generate, prompt, args.new_tokens)
    run_theirs = functools.partial(
        theirs.generate, prompt, max_new_tokens=args.new_tokens, do_sample=False, eos_token_id=None
    )
    assert torch.equal(run_ours(), run_theirs()), "greedy generation differs from Hugging Face's"
    rates = {
        "library": args.new_tokens / median_seconds(run_ours, args.repeats),
        "Hugging Face": args.new_tokens / median_seconds(run_theirs, args.repeats),
    }
    print(f"{'':14s} {'forward (batch ' + str(args.batch) + ' x ' + str(args.seq) + ')':>26s} {'greedy tokens/s':>16s}")
    for name in forward:
        print(f"{name:14s} {forward[name] * 1e3:23.1f} ms {rates[name]:16,.1f}")
    ratio_forward = forward["library"] / forward["Hugging Face"]
    ratio_rate = rates["library"] / rates["Hugging Face"]
    print(f"library / Hugging Face: forward time x{ratio_forward:.2f}, generation tokens/s x{ratio_rate:.2f}")


if __name__ == "__main__":
    main()
