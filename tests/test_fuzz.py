"""Property-based tests of the public API with Hypothesis: every wrong input gets a sentence.

Each draw (random shapes, including batch 0 and 1 and sequence 1; dtypes; masks of legal and illegal
shapes and dtypes; ids in and out of the vocabulary) must either

* match the reference (torch's own function or module where there is one, the definition otherwise),
  with finite outputs whenever the inputs are finite, or
* raise ``ValueError`` whose message names the argument that was wrong.

Any other exception type fails the test. Two profiles: ``ci`` (the default, run by ``make test``:
``CI_EXAMPLES`` draws per test, derandomized so that every run tries the same inputs) and ``fuzz``
(``make fuzz``: ``FUZZ_EXAMPLES`` fresh random draws per test).
"""

from __future__ import annotations

import os
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import transformer_lib as tl
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.generation import sample_next
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.models.t5 import T5, T5Config
from transformer_lib.models.transformer import Transformer, TransformerConfig

CI_EXAMPLES, FUZZ_EXAMPLES = 40, 1000
common = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, **common)
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, **common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
FLOATS = [torch.float32, torch.float64]
ILLEGAL_FLOATS = [torch.int64, torch.bool]
sizes = st.integers(0, 4)  # 0 allowed where a size may be empty
positive = st.integers(1, 4)


def outcome(call, names: list[str]):
    """Run ``call``: return its result, or ``None`` when it raised a ``ValueError`` naming one of ``names``.

    Any other exception, or a ``ValueError`` naming none of the arguments, fails the test.
    """
    try:
        result = call()
    except ValueError as err:
        event("refused with a ValueError that names the argument")
        message = str(err)
        assert any(re.search(rf"(^|\W){re.escape(n)}(\W|$)", message) for n in names), (
            f"the message names none of {names}: {message}"
        )
        return None
    event("accepted: compared with the reference")
    return result


def finite(*tensors: torch.Tensor) -> bool:
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def mask_strategy(target: tuple[int, ...]):
    """A boolean mask that broadcasts to ``target``, or an illegal one (wrong shape or dtype)."""
    legal_shape = st.tuples(*[st.sampled_from(sorted({1, n})) for n in target]).flatmap(
        lambda shape: st.integers(0, len(shape)).map(lambda drop: shape[drop:])
    )
    any_shape = st.lists(positive, min_size=1, max_size=len(target) + 1).map(tuple)
    dtype = st.sampled_from([torch.bool] * 4 + [torch.float32, torch.int64])
    return st.one_of(st.none(), st.tuples(st.one_of(legal_shape, any_shape), dtype, st.integers(0, 2**16)))


def make_mask(spec, device):
    if spec is None:
        return None
    shape, dtype, seed = spec
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.7).to(dtype).to(device)


def tensor(shape, dtype, seed, device):
    g = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype).to(device)
    return torch.randint(0, 3, shape, generator=g).to(dtype).to(device)


@pytest.mark.parametrize("device", DEVICES)
@given(
    lengths=st.lists(st.integers(-1, 6), max_size=4),
    dtype=st.sampled_from([torch.int64, torch.int32, torch.float32]),
    width=st.one_of(st.none(), st.integers(0, 7)),
    size=st.one_of(st.integers(-1, 6), st.booleans(), st.floats(0, 3)),
)
def test_masks(device, lengths, dtype, width, size):
    t = torch.tensor(lengths, dtype=dtype, device=device)
    got = outcome(lambda: tl.padding_mask(t, width), ["lengths", "width"])
    if got is not None:
        columns = max(lengths, default=0) if width is None else width
        assert torch.equal(got, torch.arange(columns, device=device)[None, :] < t[:, None])
        assert torch.equal(tl.to_torch_mha(got), ~got) and torch.equal(tl.to_additive(got) == 0, got)
    causal = outcome(lambda: tl.subsequent_mask(size, device=device), ["size"])
    if causal is not None:
        assert torch.equal(causal, torch.ones(size, size, dtype=torch.bool, device=device).tril())


@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_combine_masks(device, data):
    specs = data.draw(st.lists(mask_strategy((2, 1, 3, 4)), max_size=3))
    masks = [make_mask(s, device) for s in specs]
    got = outcome(lambda: tl.combine_masks(*masks), [f"masks[{i}]" for i in range(len(masks))])
    present = [m for m in masks if m is not None]
    if got is None or not present:
        assert got is None
        return
    expected = present[0]
    for m in present[1:]:
        expected = expected & m
    assert torch.equal(got, expected)


@pytest.mark.parametrize("device", DEVICES)
@given(
    batch=sizes,
    heads=positive,
    seq_q=positive,
    seq_k=sizes,
    d_k=positive,
    d_v=positive,
    dtypes=st.one_of(
        st.sampled_from(FLOATS).map(lambda d: (d, d, d)), st.tuples(*[st.sampled_from(FLOATS + ILLEGAL_FLOATS)] * 3)
    ),
    rank=st.sampled_from([2, 3, 4, 4, 5]),
    data=st.data(),
)
def test_attention(device, batch, heads, seq_q, seq_k, d_k, d_v, dtypes, rank, data):
    lead = (batch, heads)[: max(rank - 2, 0)] if rank <= 4 else (batch, heads, 1)
    k_lead = data.draw(st.sampled_from([lead, lead, (*lead[:-1], heads + 1) if lead else lead]))
    q = tensor((*lead, seq_q, d_k), dtypes[0], 1, device)
    k = tensor((*k_lead, seq_k, d_k + data.draw(st.sampled_from([0, 0, 0, 1]))), dtypes[1], 2, device)
    v = tensor((*k_lead, seq_k, d_v), dtypes[2], 3, device)
    mask = make_mask(data.draw(mask_strategy((*lead, seq_q, seq_k))), device)
    names = ["q", "k", "v", "mask", "k and v", "q, k and v"]
    result = outcome(lambda: tl.scaled_dot_product_attention(q, k, v, mask), names)
    fast = outcome(lambda: tl.fast_attention(q, k, v, mask), names)
    assert (result is None) == (fast is None), "both functions accept and refuse the same inputs"
    if result is None:
        return
    out, weights = result
    assert out.shape == (*lead, seq_q, d_v) and weights.shape == (*lead, seq_q, seq_k) and finite(out, weights)
    has_key = torch.full(weights.shape[:-1], seq_k > 0, device=device)  # a query with no key attends to nothing
    if mask is not None:
        has_key = mask.expand_as(weights).any(-1)
    torch.testing.assert_close(weights.sum(-1), has_key.to(weights.dtype))
    assert (out[~has_key] == 0).all() and finite(fast)
    torch.testing.assert_close(fast, out)
    if seq_k and has_key.all():  # torch's own function where every query has a key
        full = None if mask is None else mask.expand(weights.shape)  # torch's function wants 2 axes at least
        torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=full), out)


@pytest.mark.parametrize("device", DEVICES)
@given(
    batch=sizes,
    seq_q=positive,
    seq_k=positive,
    heads=st.sampled_from([1, 2, 4]),
    width=st.sampled_from([4, 8, 6]),
    self_attention=st.booleans(),
    is_causal=st.booleans(),
    need_weights=st.booleans(),
    dtype=st.sampled_from(FLOATS + [torch.float32] * 3 + [torch.float16, torch.int64]),
    data=st.data(),
)
def test_multihead(device, batch, seq_q, seq_k, heads, width, self_attention, is_causal, need_weights, dtype, data):
    d_model = data.draw(st.sampled_from([width, width, width + 1]))  # sometimes the input is too wide
    query = tensor((batch, seq_q, d_model), dtype, 4, device)
    memory = None if self_attention else tensor((batch, seq_k, d_model), dtype, 5, device)
    seq_k = seq_q if self_attention else seq_k
    attn_mask = make_mask(data.draw(mask_strategy((batch, heads, seq_q, seq_k))), device)
    kpm_spec = data.draw(st.one_of(st.none(), st.sampled_from([(batch, seq_k), (batch, seq_k + 1), (seq_k,)])))
    key_padding_mask = None if kpm_spec is None else make_mask((kpm_spec, torch.bool, 7), device)
    torch.manual_seed(0)
    mha = outcome(lambda: tl.MultiHeadAttention(width, heads), ["d_model"])
    if mha is None:
        return
    mha = mha.to(device).eval()
    names = ["query", "memory", "attn_mask", "key_padding_mask", "is_causal"]
    call = lambda: mha(query, memory, attn_mask, key_padding_mask, is_causal=is_causal, need_weights=need_weights)  # noqa: E731
    result = outcome(call, names)
    if result is None:
        return
    out, weights = result
    assert out.shape == (batch, seq_q, width) and finite(out)
    if need_weights:
        assert weights.shape == (batch, heads, seq_q, seq_k) and finite(weights)
    # torch's module, given one boolean mask (True = blocked), where every query has at least one key
    mask = tl.combine_masks(
        attn_mask,
        None if key_padding_mask is None else tl.key_mask_for_attention(key_padding_mask),
        tl.subsequent_mask(seq_q, device=device) if is_causal else None,
    )
    full = torch.ones(batch, heads, seq_q, seq_k, dtype=torch.bool, device=device)
    mask = full if mask is None else mask.expand_as(full)
    if batch and mask.any(-1).all():
        theirs = mha.to_torch().eval()
        kv = query if memory is None else memory
        expected, _ = theirs(query, kv, kv, attn_mask=tl.to_torch_mha(mask.reshape(-1, seq_q, seq_k)))
        torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("device", DEVICES)
@given(
    shape=st.lists(sizes, min_size=1, max_size=4).map(tuple),
    d_model=st.sampled_from([4, 6]),
    width=st.sampled_from([4, 6]),
    dtype=st.sampled_from(FLOATS + [torch.float32] * 2 + [torch.int64]),
    norm_first=st.booleans(),
)
def test_layers(device, shape, d_model, width, dtype, norm_first):
    x = tensor((*shape, width), dtype, 8, device)
    torch.manual_seed(0)
    ffn = tl.FeedForward(d_model, 8).to(device)
    got = outcome(lambda: ffn(x), ["x"])
    if got is not None:
        assert finite(got)
        torch.testing.assert_close(got, ffn.linear2(F.relu(ffn.linear1(x))))
    add_norm = tl.AddNorm(d_model).to(device)
    y = tensor((*shape, width), dtype, 9, device)
    got = outcome(lambda: add_norm(x, y), ["x", "y"])
    if got is not None:
        assert finite(got)
        torch.testing.assert_close(got, F.layer_norm(x + y, (d_model,), add_norm.ln.weight, add_norm.ln.bias))
    sub = tl.ResidualSublayer(d_model, norm_first=norm_first).to(device)
    got = outcome(lambda: sub(x, ffn), ["x", "y", "the sublayer's output"])
    if got is not None and norm_first:
        torch.testing.assert_close(got, x + ffn(sub.ln(x)))
    pe = tl.PositionalEncoding(d_model, max_len=3).to(device)
    start = 1 if len(shape) == 2 and shape[1] < 3 else 0
    got = outcome(lambda: pe(x, start), ["x"])
    if got is not None:
        torch.testing.assert_close(got, x + tl.sinusoidal_encoding(3, d_model).to(device)[start : start + shape[1]])


@pytest.mark.parametrize("device", DEVICES)
@given(
    batch=sizes,
    seq=st.integers(0, 6),
    low=st.integers(-2, 12),
    high=st.integers(0, 14),
    dtype=st.sampled_from([torch.int64] * 4 + [torch.int32, torch.float32, torch.bool]),
    rank=st.sampled_from([2, 2, 2, 1, 3]),
)
def test_embeddings_ids_in_and_out_of_the_vocabulary(device, batch, seq, low, high, dtype, rank):
    torch.manual_seed(0)
    emb = tl.Embeddings(10, 4, max_len=5).to(device)
    shape = ((batch, seq), (seq,), (batch, seq, 1))[[2, 1, 3].index(rank)]
    g = torch.Generator().manual_seed(batch * 100 + seq)
    ids = torch.randint(min(low, high), max(low, high) + 1, shape, generator=g).to(dtype).to(device)
    got = outcome(lambda: emb(ids), ["ids"])
    if got is None:
        return
    assert ids.numel() == 0 or (0 <= ids.min() and ids.max() < 10)
    assert got.shape == (*shape, 4) and finite(got)
    torch.testing.assert_close(got, emb.token(ids) * 2 + tl.sinusoidal_encoding(5, 4).to(device)[:seq])


@pytest.mark.parametrize("device", DEVICES)
@given(
    batch=sizes,
    seq_t=positive,
    seq_s=positive,
    norm_first=st.booleans(),
    activation=st.sampled_from(["relu", "gelu"]),
    lengths=st.lists(st.integers(0, 4), min_size=2, max_size=2),
)
def test_blocks_match_torch(device, batch, seq_t, seq_s, norm_first, activation, lengths):
    torch.manual_seed(0)
    enc = tl.EncoderBlock(8, 2, 16, norm_first=norm_first, activation=activation).to(device).eval()
    dec = tl.DecoderBlock(8, 2, 16, norm_first=norm_first, activation=activation).to(device).eval()
    x, memory = (
        tensor((batch, seq_t, 8), torch.float32, 10, device),
        tensor((batch, seq_s, 8), torch.float32, 11, device),
    )
    src_keep = tl.padding_mask(
        torch.tensor(([min(lengths[0], seq_s) or 1, seq_s] * batch)[:batch], dtype=torch.long), seq_s
    )
    src_keep = src_keep.to(device)
    out = enc(memory, src_keep)
    assert finite(out)
    if not batch:  # torch's own layers cannot take an empty batch; ours return an empty one
        assert out.shape == (0, seq_s, 8) and dec(x, memory, None, src_keep).shape == (0, seq_t, 8)
        return
    real = src_keep[..., None]
    expected = enc.to_torch().eval()(memory, src_key_padding_mask=tl.to_torch_mha(src_keep))
    torch.testing.assert_close(out * real, expected * real)
    out = dec(x, memory, None, src_keep)
    assert finite(out)
    expected = dec.to_torch().eval()(
        x,
        memory,
        tgt_mask=tl.to_torch_mha(tl.subsequent_mask(seq_t, device=device)),
        memory_key_padding_mask=tl.to_torch_mha(src_keep),
    )
    torch.testing.assert_close(out, expected)
    stack = tl.DecoderOnly(1, 8, 2, 16).to(device).eval()
    torch.testing.assert_close(stack(x)[:, :1], stack(x[:, :1]))


MODEL_CONFIGS = {
    Bert: BertConfig(12, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=6),
    GPT: GPTConfig(12, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=6),
    Llama: LlamaConfig(12, d_model=8, num_heads=2, num_kv_heads=1, num_layers=1, d_ff=16, max_len=6),
    T5: T5Config(12, d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=16, max_len=6),
    Transformer: TransformerConfig(12, 12, d_model=8, num_heads=2, d_ff=16, num_encoder_layers=1, max_len=6),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", list(MODEL_CONFIGS), ids=lambda c: c.__name__)
@given(
    batch=sizes,
    seq=st.integers(0, 8),
    seq_t=st.integers(0, 8),
    low=st.integers(-1, 12),
    high=st.integers(0, 13),
    max_new_tokens=st.integers(-1, 8),
    temperature=st.sampled_from([0.0, 0.0, 1.0, 0.5, -1.0]),
    top_k=st.sampled_from([None, None, 1, 3, 0]),
    eos=st.sampled_from([None, 2]),
    use_cache=st.booleans(),
)
def test_models_forward_and_generate(
    device, cls, batch, seq, seq_t, low, high, max_new_tokens, temperature, top_k, eos, use_cache
):
    torch.manual_seed(0)
    model = cls(MODEL_CONFIGS[cls]).to(device).eval()
    g = torch.Generator().manual_seed(seq * 10 + batch)
    ids = torch.randint(min(low, high), max(low, high) + 1, (batch, seq), generator=g).to(device)
    tgt = torch.randint(0, 12, (batch, seq_t), generator=g).to(device)
    encoder_decoder = cls in (T5, Transformer)
    args = (ids, tgt) if encoder_decoder else (ids,)
    names = ["src", "tgt_in"] if encoder_decoder else ["ids"]
    logits = outcome(lambda: model(*args), names)
    if logits is not None:
        assert logits.shape == (*args[-1].shape, 12) and finite(logits)
    if cls is Bert:
        return
    call = lambda: model.generate(  # noqa: E731
        ids, max_new_tokens, eos_id=eos, temperature=temperature, top_k=top_k, use_cache=use_cache
    )
    out = outcome(call, [names[0], "max_new_tokens", "temperature", "top_k"])
    if out is None:
        return
    prefix = seq if cls in (GPT, Llama) else 1
    assert out.shape[0] == batch and prefix <= out.shape[1] <= prefix + max_new_tokens
    assert out.dtype == torch.long and (0 <= out).all() and (out < 12).all()


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_out_of_range_ids_are_stopped_before_any_kernel(device):
    """On a GPU an out-of-range id reaching ``nn.Embedding`` is a device-side assert that poisons the
    CUDA context; the check must stop it first, and the device must stay usable."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: the GPU variant of this test did not run")
    model = GPT(MODEL_CONFIGS[GPT]).to(device)
    for bad, value in ((torch.tensor([[1, 12, 3]]), 12), (torch.tensor([[1, 2, -1]]), -1)):
        with pytest.raises(ValueError, match=rf"ids must hold token ids in \[0, 12\).*got {value} at position"):
            model(bad.to(device))
    assert model(torch.tensor([[1, 2, 3]], device=device)).shape == (1, 3, 12)  # the device still works


@given(
    batch=sizes,
    vocab=positive,
    temperature=st.floats(-1, 3, allow_nan=False),
    top_k=st.one_of(st.none(), st.integers(-1, 5)),
    rank=st.sampled_from([2, 2, 1, 3]),
)
def test_sample_next(batch, vocab, temperature, top_k, rank):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(*((batch, vocab), (vocab,), (batch, 1, vocab))[[2, 1, 3].index(rank)], generator=g)
    got = outcome(lambda: sample_next(logits, temperature, top_k, g), ["logits", "temperature", "top_k"])
    if got is None:
        return
    assert got.shape == (batch,) and ((0 <= got) & (got < vocab)).all()
    if temperature == 0:
        assert torch.equal(got, logits.argmax(-1))
    elif top_k is not None and batch:
        allowed = logits.topk(min(top_k, vocab), dim=-1).indices
        assert (allowed == got[:, None]).any(-1).all()
