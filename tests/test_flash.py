"""FlashAttention (``transformer_lib.nn.flash`` and its Triton kernel): the same attention as SDPA.

The tiles in PyTorch and the Triton kernel (through Triton's interpreter on a CPU, compiled where CUDA
exists) are compared with ``F.scaled_dot_product_attention`` and the library's attention on random
shapes drawn by Hypothesis: head dims, lengths that are not a multiple of the tile, the causal mask,
padding masks with fully masked rows. The recomputing backward passes ``gradcheck`` in float64 and
equals autograd through SDPA in float32; the memory kept for the backward grows like ``n`` for the
tiles and like ``n^2`` for the naive attention (log-log slopes asserted).

Hypothesis runs few, derandomized examples here (the interpreter is slow); ``HYPOTHESIS_PROFILE=fuzz``
(``make fuzz``) draws more, at random.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transformer_lib as tl
from transformer_lib.data.tokens import PAD
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.models.transformer import Transformer, TransformerConfig
from transformer_lib.nn.flash import causal_tile_skipped, flash_attention, tile_counts, triton_available
from transformer_lib.tools import cost

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def few(examples: int):
    """Hypothesis settings: ``examples`` derandomized draws (ten times as many, random, when fuzzing)."""
    return settings(
        max_examples=examples * 10 if FUZZ else examples,
        derandomize=not FUZZ,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@st.composite
def attention_inputs(draw, dtypes=(torch.float32, torch.float64), max_len=40):
    """``(q, k, v, mask, is_causal)``: 2 to 4 dimensions, a head dim among the usual sizes and odd ones,
    lengths up to ``max_len``, no mask, the causal mask, or a padding mask (a fully masked row now and
    then) or a random one."""
    dtype = draw(st.sampled_from(dtypes))
    lead = draw(st.sampled_from([(), (2,), (2, 3), (1, 2)]))
    d_k, d_v = draw(st.sampled_from([4, 8, 16, 5, 24])), draw(st.sampled_from([4, 16, 7]))
    kind = draw(st.sampled_from(["none", "causal", "padding", "random"]))
    seq_q = draw(st.integers(1, max_len))
    seq_k = seq_q if kind == "causal" else draw(st.integers(1, max_len))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    q = torch.randn(*lead, seq_q, d_k, generator=g).to(dtype)
    k = torch.randn(*lead, seq_k, d_k, generator=g).to(dtype)
    v = torch.randn(*lead, seq_k, d_v, generator=g).to(dtype)
    mask = None
    if kind == "padding":  # (..., 1, seq_k): True at the real keys, a length of 0 now and then
        lengths = torch.randint(0, seq_k + 1, lead[:1] or (1,), generator=g)
        mask = tl.padding_mask(lengths, seq_k).reshape(*(lead[:1] or ()), *(1,) * max(len(lead) - 1, 0), 1, seq_k)
    elif kind == "random":
        mask = torch.rand(*lead, seq_q, seq_k, generator=g) > 0.4
    return q, k, v, mask, kind == "causal"


def reference(q, k, v, mask, is_causal):
    """The library's step-by-step attention (zero rows where every key is masked), in float64."""
    if is_causal:
        mask = tl.subsequent_mask(q.shape[-2])
    out, _ = tl.scaled_dot_product_attention(q.double(), k.double(), v.double(), mask)
    return out


@few(25)
@given(attention_inputs(), st.sampled_from([(16, 16), (8, 32), (64, 64), (5, 3)]))
def test_tiles_equal_attention(inputs, blocks):
    q, k, v, mask, is_causal = inputs
    out, lse = flash_attention(q, k, v, mask, is_causal, block_q=blocks[0], block_k=blocks[1], return_lse=True)
    assert out.dtype == q.dtype and out.shape == (*q.shape[:-1], v.shape[-1])
    tol = 1e-12 if q.dtype == torch.float64 else 2e-6
    torch.testing.assert_close(out.double(), reference(q, k, v, mask, is_causal), atol=tol, rtol=tol)
    scores = (q.double() @ k.double().transpose(-2, -1)) / q.shape[-1] ** 0.5
    allowed = tl.subsequent_mask(q.shape[-2]) if is_causal else mask
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    torch.testing.assert_close(lse.double(), scores.logsumexp(dim=-1), atol=tol * 10, rtol=tol)
    # torch's own kernel, which also gives zero rows where no key may be attended
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal), atol=tol, rtol=tol
    )


def test_fully_masked_rows_are_zero_with_zero_gradients():
    q, k, v = (torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.ones(2, 5, 5, dtype=torch.bool)
    mask[0, 2] = False  # query 2 of sequence 0 sees nothing
    out, lse = flash_attention(q, k, v, mask, block_q=2, block_k=2, return_lse=True)
    assert torch.equal(out[0, 2], torch.zeros(8, dtype=torch.float64)) and lse[0, 2] == float("-inf")
    out.square().sum().backward()
    assert torch.equal(q.grad[0, 2], torch.zeros(8, dtype=torch.float64))
    assert torch.isfinite(k.grad).all() and torch.isfinite(v.grad).all()


@pytest.mark.parametrize("kind", ["none", "causal", "padding"])
def test_gradcheck_float64(kind):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 11, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = tl.padding_mask(torch.tensor([11, 6]), 11)[:, None, :] if kind == "padding" else None
    assert torch.autograd.gradcheck(
        lambda q, k, v: flash_attention(q, k, v, mask, kind == "causal", block_q=4, block_k=3), (q, k, v)
    )


@few(10)
@given(attention_inputs(dtypes=(torch.float32,), max_len=30))
def test_backward_equals_autograd_through_attention(inputs):
    q, k, v, mask, is_causal = inputs
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    grad = torch.randn(*q.shape[:-1], v.shape[-1], generator=torch.Generator().manual_seed(1))
    ours = torch.autograd.grad(flash_attention(*leaves, mask, is_causal, block_q=8, block_k=16), leaves, grad)
    allowed = tl.subsequent_mask(q.shape[-2]) if is_causal else mask
    theirs = torch.autograd.grad(tl.scaled_dot_product_attention(*leaves, allowed)[0], leaves, grad)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_backward_keeps_linear_memory_and_the_naive_one_quadratic():
    lengths = [512, 1024, 2048]  # long enough for the n^2 term to dominate the naive attention's bytes
    tiled, naive = [], []
    for n in lengths:
        q, k, v = (torch.randn(1, 2, n, 16, requires_grad=True) for _ in range(3))
        tiled.append(cost.saved_tensor_bytes(lambda: flash_attention(q, k, v, is_causal=True)))  # noqa: B023
        naive.append(cost.saved_tensor_bytes(lambda: tl.scaled_dot_product_attention(q, k, v)))  # noqa: B023
    # q, k, v, the output (4 bytes each of n * 16) and the lse (n): nothing of size n^2
    assert tiled == [2 * n * (4 * 16 * 4 + 4) for n in lengths]
    assert abs(cost.loglog_slope(lengths, tiled) - 1) < 0.01
    assert abs(cost.loglog_slope(lengths, naive) - 2) < 0.1


def test_causal_tiles():
    assert causal_tile_skipped(0, 4, 4) and not causal_tile_skipped(0, 4, 3)
    assert tile_counts(256, 256, 64, 64, is_causal=True) == (10, 6)
    assert tile_counts(256, 256, 64, 64, is_causal=False) == (16, 0)
    computed, skipped = tile_counts(4096, 4096, 64, 64, is_causal=True)
    assert computed / (computed + skipped) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"q": torch.randn(4, 8), "k": torch.randn(4, 6)}, "k"),
        ({"mask": torch.ones(4, 4)}, "mask"),
        ({"mask": torch.ones(4, 4, dtype=torch.bool), "is_causal": True}, "is_causal"),
        ({"block_q": 0}, "block_q"),
    ],
)
def test_wrong_arguments_are_named(kwargs, named):
    args = {"q": torch.randn(4, 8), "k": torch.randn(4, 8), "v": torch.randn(4, 8)} | kwargs
    with pytest.raises(ValueError, match=named):
        flash_attention(**args)


MODELS = {
    "transformer": lambda: Transformer(
        TransformerConfig(20, 20, d_model=16, num_heads=2, d_ff=32, num_encoder_layers=1, num_decoder_layers=1)
    ),
    "bert": lambda: Bert(BertConfig(20, d_model=16, num_heads=2, num_layers=2, d_ff=32, max_len=16)),
    "gpt": lambda: GPT(GPTConfig(20, d_model=16, num_heads=2, num_layers=2, d_ff=32, max_len=16)),
    "llama": lambda: Llama(LlamaConfig(20, d_model=16, num_heads=4, num_kv_heads=2, d_ff=32, max_len=16)),
}


def use_backend(model: torch.nn.Module, backend: str) -> int:
    """Switch every attention of ``model`` to ``backend``; return how many there are."""
    attentions = [m for m in model.modules() if isinstance(m, tl.MultiHeadAttention)]
    for m in attentions:
        m.backend = backend
    return len(attentions)


@pytest.mark.parametrize("name", MODELS)
def test_flash_backend_gives_the_same_models(name):
    tl.set_seed(0)
    model = MODELS[name]().eval()
    ids = torch.randint(4, 20, (2, 9))
    pad = torch.tensor([[True] * 9, [True] * 5 + [False] * 4])

    def run():
        if name == "transformer":
            return model(ids, ids[:, :7], src_padding_mask=pad, tgt_padding_mask=pad[:, :7])
        if name == "bert":  # its padding mask comes from the padding ids
            return model(ids.masked_fill(~pad, PAD))
        return model(ids)

    fused = run()
    fused_grads = torch.autograd.grad(fused.square().sum(), list(model.parameters()), allow_unused=True)
    assert use_backend(model, "flash") >= 1
    flash = run()
    flash_grads = torch.autograd.grad(flash.square().sum(), list(model.parameters()), allow_unused=True)
    torch.testing.assert_close(flash, fused, atol=1e-5, rtol=1e-5)
    for a, b in zip(flash_grads, fused_grads, strict=True):
        if a is not None:
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    if name in ("gpt", "llama"):  # generation with a cache: an offset causal mask through the tiles
        flash_ids = model.generate(ids[:, :3], 5)
        use_backend(model, "fused")
        assert torch.equal(flash_ids, model.generate(ids[:, :3], 5))


def test_flash_backend_refuses_dropout_and_unknown_names():
    with pytest.raises(ValueError, match="backend"):
        tl.MultiHeadAttention(16, 2, backend="fast")
    mha = tl.MultiHeadAttention(16, 2, dropout=0.1, backend="flash").train()
    with pytest.raises(ValueError, match="dropout"):
        mha(torch.randn(1, 3, 16))


# The Triton kernel: interpreted on a CPU (conftest.py sets TRITON_INTERPRET=1 before anything imports
# Triton there), compiled on a GPU.
needs_triton = pytest.mark.skipif(not triton_available(), reason="triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@needs_triton
def test_the_library_imports_without_triton():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['triton'] = None\n"  # an import of triton now fails, as if absent
        "import transformer_lib as tl, torch\n"
        "from transformer_lib.nn import flash\n"
        "print(tl.flash_attention(torch.ones(2, 4), torch.ones(2, 4), torch.ones(2, 4)).shape)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "(2, 4)" in done.stdout.replace("torch.Size([2, 4])", "(2, 4)"), done.stderr


@needs_triton
@few(8)
@given(attention_inputs(dtypes=(torch.float32, torch.float16), max_len=36), st.sampled_from([16, 32]))
def test_triton_kernel_equals_attention(inputs, block):
    from transformer_lib.nn.flash_triton import flash_attention_triton

    q, k, v, mask, is_causal = (t.to(DEVICE) if isinstance(t, torch.Tensor) else t for t in inputs)
    out, lse = flash_attention_triton(q, k, v, mask, is_causal, block_q=block, block_k=block, return_lse=True)
    assert out.dtype == q.dtype
    expected = reference(*(t.cpu() if isinstance(t, torch.Tensor) else t for t in (q, k, v, mask, is_causal)))
    tol = 2e-6 if q.dtype == torch.float32 else 2e-3  # float16 inputs and output, float32 inside
    torch.testing.assert_close(out.cpu().double(), expected, atol=tol, rtol=tol)
    tiles_out, tiles_lse = flash_attention(q, k, v, mask, is_causal, return_lse=True)
    torch.testing.assert_close(lse.cpu(), tiles_lse.cpu().float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, tiles_out, atol=tol, rtol=tol)


@needs_triton
def test_triton_gradients_and_arguments():
    from transformer_lib.nn.flash_triton import flash_attention_triton

    q, k, v = (torch.randn(2, 20, 8, device=DEVICE, requires_grad=True) for _ in range(3))
    ours = torch.autograd.grad(flash_attention_triton(q, k, v, is_causal=True).sum(), (q, k, v))
    theirs = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, is_causal=True).sum(), (q, k, v))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="block_q"):
        flash_attention_triton(q, k, v, block_q=24)
