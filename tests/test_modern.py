"""The modern decoder's pieces: RMSNorm, SwiGLU, rotary positions, grouped-query attention, the
Llama-like model, and the Python-documentation text with its BPE tokenizer."""

import pytest
import torch
import torch.nn.functional as F

from transformer_lib.data import python_docs
from transformer_lib.data.tokens import BOS, EOS, PAD
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.nn.layers import FeedForward, RMSNorm, SwiGLU
from transformer_lib.nn.multihead import KVCache, MultiHeadAttention
from transformer_lib.nn.rotary import RotaryEmbedding, rotate_half


def test_rmsnorm_matches_torch():
    torch.manual_seed(0)
    ours, theirs = RMSNorm(16, eps=1e-6), torch.nn.RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        theirs.weight.copy_(ours.weight)
    x = torch.randn(3, 5, 16) * 4 + 1
    torch.testing.assert_close(ours(x), theirs(x))
    # unit root mean square before the weight, whatever the scale and the mean
    out = RMSNorm(16)(x)
    torch.testing.assert_close(out.pow(2).mean(-1), torch.ones(3, 5), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="d_model=16"):
        ours(torch.randn(2, 8))


def test_swiglu_is_its_formula_and_matches_a_gelu_network_in_size():
    torch.manual_seed(0)
    ffn = SwiGLU(8, 12)
    x = torch.randn(2, 3, 8)
    expected = ffn.w_down(F.silu(ffn.w_gate(x)) * ffn.w_up(x))
    torch.testing.assert_close(ffn(x), expected)
    assert sum(p.numel() for p in ffn.parameters()) == 3 * 8 * 12
    # at about 2/3 of the width, as many parameters as the GELU network with biases
    gelu = sum(p.numel() for p in FeedForward(64, 256, activation="gelu").parameters())
    swiglu = sum(p.numel() for p in SwiGLU(64, 172).parameters())
    assert abs(swiglu - gelu) / gelu < 0.01


def rotate_complex(x, positions, base=10000.0):
    """RoPE as complex multiplication: the pair (x_i, x_{i + d/2}) is the number x_i + i x_{i + d/2}."""
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.complex(x[..., : d // 2].double(), x[..., d // 2 :].double())
    z = z * torch.polar(torch.ones_like(theta), positions.double()[:, None] * theta)
    return torch.cat([z.real, z.imag], dim=-1).float()


def test_rotary_matches_complex_multiplication_and_keeps_norms():
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, max_len=32)
    x = torch.randn(2, 3, 10, 8)
    torch.testing.assert_close(rope(x), rotate_complex(x, torch.arange(10)))
    torch.testing.assert_close(rope(x, start=5), rotate_complex(x, torch.arange(5, 15)))
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotate_half(rotate_half(x)), -x)
    with pytest.raises(ValueError, match="more than max_len=32"):
        rope(x, start=25)


@pytest.mark.parametrize("seed", range(3))
def test_rotated_scores_depend_only_on_the_offset(seed):
    g = torch.Generator().manual_seed(seed)
    rope = RotaryEmbedding(16, max_len=64)
    q, k = torch.randn(1, 1, 1, 16, generator=g), torch.randn(1, 1, 1, 16, generator=g)

    def score(m, n):
        return (rope(q, start=m) * rope(k, start=n)).sum()

    for offset in (0, 1, 7, -3):
        pairs = [(m, m + offset) for m in range(3, 40, 9)]
        scores = torch.stack([score(m, n) for m, n in pairs])
        torch.testing.assert_close(scores, scores[:1].expand_as(scores), atol=1e-5, rtol=1e-5)
    assert not torch.isclose(score(5, 6), score(5, 9), atol=1e-4)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_query_attention_matches_torch(kv_heads):
    torch.manual_seed(kv_heads)
    mha = MultiHeadAttention(32, 4, bias=False, num_kv_heads=kv_heads).eval()
    assert mha.k_proj.weight.shape == (kv_heads * 8, 32)
    x = torch.randn(2, 6, 32)
    q, k, v = mha.split_heads(mha.q_proj(x)), mha.split_heads(mha.k_proj(x)), mha.split_heads(mha.v_proj(x))
    assert k.shape == (2, kv_heads, 6, 8)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(mha(x, is_causal=True)[0], mha.out_proj(mha.merge_heads(expected)))
    # with the weights too (the explicit path), and with a cache one token at a time
    out, weights = mha(x, is_causal=True, need_weights=True)
    torch.testing.assert_close(out, mha(x, is_causal=True)[0])
    assert weights.shape == (2, 4, 6, 6)
    cache = KVCache()
    steps = [mha(x[:, t : t + 1], is_causal=True, cache=cache)[0] for t in range(6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), out)
    assert cache.k.shape == (2, kv_heads, 6, 8) and cache.nbytes == 2 * 2 * kv_heads * 6 * 8 * 4


def test_attention_options_are_checked():
    with pytest.raises(ValueError, match="num_kv_heads must divide num_heads"):
        MultiHeadAttention(32, 4, num_kv_heads=3)
    with pytest.raises(ValueError, match="head_dim=4"):
        MultiHeadAttention(32, 4, rotary=RotaryEmbedding(4, 8))
    rotary = MultiHeadAttention(32, 4, rotary=RotaryEmbedding(8, 8))
    with pytest.raises(ValueError, match="rotary positions are for self-attention"):
        rotary(torch.randn(1, 2, 32), torch.randn(1, 3, 32))
    with pytest.raises(ValueError, match=r"nn\.MultiheadAttention has neither"):
        MultiHeadAttention(32, 4, num_kv_heads=2).to_torch()


def test_rotary_attention_with_a_cache_rotates_each_key_at_its_own_position():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2, bias=False, num_kv_heads=1, rotary=RotaryEmbedding(8, 16)).eval()
    x = torch.randn(1, 7, 16)
    full = mha(x, is_causal=True)[0]
    cache = KVCache()
    first = mha(x[:, :4], is_causal=True, cache=cache)[0]
    rest = [mha(x[:, t : t + 1], is_causal=True, cache=cache)[0] for t in range(4, 7)]
    torch.testing.assert_close(torch.cat([first, *rest], dim=1), full)
    # the cached keys are the rotated keys: key t rotated by position t
    keys = mha.split_heads(mha.k_proj(x))
    torch.testing.assert_close(cache.k, mha.rotary(keys))


def small_llama(seed=0, **kw):
    torch.manual_seed(seed)
    return Llama(LlamaConfig(40, d_model=32, num_heads=4, num_kv_heads=2, max_len=16, **kw)).eval()


def test_llama_is_causal_position_aware_and_caches_fewer_heads():
    model = small_llama()
    x = torch.randint(5, 40, (2, 10), generator=torch.Generator().manual_seed(1))
    changed = x.clone()
    changed[:, 6:] = 7
    torch.testing.assert_close(model(x)[:, :6], model(changed)[:, :6])
    # attention alone is blind to order (the keys are a set); the rotations make it see order: in one
    # layer, swapping two earlier tokens changes the last position's prediction
    one_layer = small_llama(num_layers=1)
    swapped = x[:, [1, 0, 2]]
    assert not torch.allclose(one_layer(x[:, :3])[:, -1], one_layer(swapped)[:, -1], atol=1e-4)
    caches = model.new_caches()
    model(x, caches=caches)
    assert caches[0].k.shape == (2, 2, 10, 8)
    assert all(not any(isinstance(m, torch.nn.LayerNorm) for m in b.modules()) for b in model.blocks)
    assert all(getattr(m, "bias", None) is None for m in model.modules() if isinstance(m, torch.nn.Linear))
    # the rotations are not saved: they follow from the sizes
    assert not [name for name in model.state_dict() if name.endswith(("cos", "sin"))]


def test_llama_cache_memory_is_the_gpt_cache_divided_by_the_group_size():
    gpt = GPT(GPTConfig(40, d_model=32, num_heads=4, num_layers=2, max_len=16))
    llama = small_llama()
    x = torch.randint(5, 40, (3, 12))
    gpt_caches, llama_caches = gpt.blocks.new_caches(), llama.new_caches()
    gpt.blocks(gpt.embed(x), caches=gpt_caches)
    llama(x, caches=llama_caches)
    assert sum(c.nbytes for c in gpt_caches) == 2 * sum(c.nbytes for c in llama_caches)


def test_python_docs_split_tokenizer_and_windows():
    train, valid = python_docs.split_topics()
    table = python_docs.topics()
    assert len(train) + len(valid) == len(set(table.values())) and not set(train) & set(valid)
    assert sum(map(len, table.values())) > 400_000
    first, second = python_docs.train_tokenizer(train[:20], 400), python_docs.train_tokenizer(train[:20], 400)
    assert first.to_str() == second.to_str(), "BPE training must be deterministic"
    assert first.get_vocab_size() == 400
    specials = ["<pad>", "<bos>", "<eos>", "<unk>", "<mask>"]
    assert [first.token_to_id(t) for t in specials] == [PAD, BOS, EOS, 3, 4]
    text = valid[0][:300]
    assert first.decode(first.encode(text).ids) == text, "byte-level BPE round-trips any text"
    ids = python_docs.encode_texts(first, valid[:2])
    assert ids.dtype == torch.long and (ids == EOS).sum() == 2 and ids[-1] == EOS
    inputs, targets = python_docs.random_windows(ids, 4, 16, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4, 16) and torch.equal(inputs[:, 1:], targets[:, :-1])
    with pytest.raises(ValueError, match="vocab_size"):
        python_docs.train_tokenizer(train, 100)
    with pytest.raises(ValueError, match="longer than seq_len=16"):
        python_docs.random_windows(ids[:10], 4, 16)
