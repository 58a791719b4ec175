import pytest
import torch
from torch import nn

import transformer_lib as tl


@pytest.fixture
def pair():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    return tl.MultiHeadAttention.from_torch(theirs).eval(), theirs


def inputs(seq=5, batch=2, d=16, seed=1):
    return torch.randn(batch, seq, d, generator=torch.Generator().manual_seed(seed))


def test_no_mask_matches_torch(pair):
    ours, theirs = pair
    x = inputs()
    out, w = ours(x, need_weights=True)
    ref, ref_w = theirs(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(w, ref_w)


def test_key_padding_mask_matches_torch(pair):
    ours, theirs = pair
    x = inputs()
    keep = tl.padding_mask(torch.tensor([5, 3]))
    out, _ = ours(x, key_padding_mask=keep)
    ref, _ = theirs(x, x, x, key_padding_mask=tl.to_torch_mha(keep))
    torch.testing.assert_close(out[0], ref[0])
    torch.testing.assert_close(out[1], ref[1])


def test_attn_mask_matches_torch(pair):
    ours, theirs = pair
    x = inputs()
    causal = tl.subsequent_mask(5)
    out, w = ours(x, attn_mask=causal, need_weights=True)
    ref, ref_w = theirs(x, x, x, attn_mask=tl.to_torch_mha(causal), average_attn_weights=False)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(w, ref_w)
    torch.testing.assert_close(ours(x, is_causal=True)[0], ref)


def test_both_masks_match_torch(pair):
    ours, theirs = pair
    x = inputs()
    keep = tl.padding_mask(torch.tensor([5, 4]))
    causal = tl.subsequent_mask(5)
    ref, _ = theirs(x, x, x, key_padding_mask=tl.to_torch_mha(keep), attn_mask=tl.to_torch_mha(causal))
    torch.testing.assert_close(ours(x, attn_mask=causal, key_padding_mask=keep)[0], ref)
    torch.testing.assert_close(ours(x, key_padding_mask=keep, is_causal=True)[0], ref)
    torch.testing.assert_close(ours(x, key_padding_mask=keep, is_causal=True, need_weights=True)[0], ref)


def test_cross_attention_different_lengths(pair):
    ours, theirs = pair
    query, memory = inputs(seq=3), inputs(seq=6, seed=2)
    keep = tl.padding_mask(torch.tensor([6, 2]))
    out, w = ours(query, memory, key_padding_mask=keep, need_weights=True)
    ref, _ = theirs(query, memory, memory, key_padding_mask=tl.to_torch_mha(keep))
    torch.testing.assert_close(out, ref)
    assert w.shape == (2, 4, 3, 6)
    assert (w[1, :, :, 2:] == 0).all()


def test_round_trip_to_torch(pair):
    ours, _ = pair
    x = inputs()
    back = ours.to_torch().eval()
    torch.testing.assert_close(back(x, x, x)[0], ours(x)[0])


def test_dropout_only_in_training():
    torch.manual_seed(0)
    mha = tl.MultiHeadAttention(16, 4, dropout=0.5)
    x = inputs()
    mha.eval()
    torch.testing.assert_close(mha(x)[0], mha(x)[0])
    mha.train()
    assert not torch.allclose(mha(x)[0], mha(x)[0])


def test_causal_leak():
    torch.manual_seed(0)
    mha = tl.MultiHeadAttention(16, 4).eval()
    x = inputs()
    x2 = x.clone()
    x2[:, 3:] += 5.0
    torch.testing.assert_close(mha(x, is_causal=True)[0][:, :3], mha(x2, is_causal=True)[0][:, :3])


def test_bad_inputs():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        tl.MultiHeadAttention(10, 3)
    mha = tl.MultiHeadAttention(16, 4)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, seq_q, d_model\)"):
        mha(torch.randn(5, 16))
    with pytest.raises(ValueError, match="d_model=16"):
        mha(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="same batch size"):
        mha(inputs(), inputs()[:1])
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(batch, seq_k\) = \(2, 5\)"):
        mha(inputs(), key_padding_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        mha(inputs(), attn_mask=torch.ones(5, 5))
    with pytest.raises(ValueError, match="attn_mask must broadcast"):
        mha(inputs(), attn_mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="is_causal needs seq_q == seq_k"):
        mha(inputs(seq=3), inputs(seq=4), is_causal=True)


def test_kv_cache_one_token_at_a_time_equals_full_causal_pass():
    torch.manual_seed(0)
    mha = tl.MultiHeadAttention(16, 4).eval()
    x = inputs(seq=6)
    full, _ = mha(x, is_causal=True)
    cache = tl.KVCache()
    steps = [mha(x[:, t : t + 1], is_causal=True, cache=cache)[0] for t in range(6)]
    assert len(cache) == 6 and cache.k.shape == (2, 4, 6, 4)
    torch.testing.assert_close(torch.cat(steps, dim=1), full)


def test_kv_cache_prefill_then_steps_with_padding_and_weights():
    torch.manual_seed(0)
    mha = tl.MultiHeadAttention(16, 4).eval()
    x = inputs(seq=6)
    keep = tl.padding_mask(torch.tensor([6, 4]))  # the second sequence ends with two padding tokens
    assert not keep.all()
    full, full_w = mha(x, is_causal=True, key_padding_mask=keep, need_weights=True)
    cache = tl.KVCache()
    first, _ = mha(x[:, :4], is_causal=True, cache=cache, key_padding_mask=keep[:, :4])
    rest, w = mha(x[:, 4:], is_causal=True, cache=cache, key_padding_mask=keep, need_weights=True)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full)
    torch.testing.assert_close(w, full_w[:, :, 4:])
    with pytest.raises(ValueError, match="cache is for self-attention"):
        mha(x, x, cache=tl.KVCache())


def test_decoder_only_stack_with_caches_and_position_offset():
    torch.manual_seed(0)
    emb = tl.Embeddings(11, 16, max_len=8).eval()
    stack = tl.DecoderOnly(2, 16, 4, 32).eval()
    ids = torch.randint(0, 11, (2, 7), generator=torch.Generator().manual_seed(3))
    full = stack(emb(ids))
    caches = stack.new_caches()
    steps = [stack(emb(ids[:, t : t + 1], start=t), caches=caches) for t in range(7)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full)
    with pytest.raises(ValueError, match="one KVCache per layer"):
        stack(emb(ids), caches=tl.Caches(1))
    with pytest.raises(TypeError, match="caches must be the Caches"):
        stack(emb(ids), caches=[tl.KVCache(), tl.KVCache()])
