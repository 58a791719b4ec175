import pytest
import torch
import torch.nn.functional as F

import transformer_lib as tl


def qkv(batch=2, heads=3, seq_q=5, seq_k=7, d_k=8, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, seq_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(batch, heads, seq_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(batch, heads, seq_k, d_k, generator=g, dtype=dtype)
    return q, k, v


def test_no_mask_matches_torch():
    q, k, v = qkv()
    out, weights = tl.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_bool_mask_matches_torch():
    q, k, v = qkv()
    mask = torch.rand(5, 7, generator=torch.Generator().manual_seed(1)) > 0.3
    mask[:, 0] = True
    out, _ = tl.scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    torch.testing.assert_close(tl.fast_attention(q, k, v, mask), out)


def test_causal_matches_torch_is_causal():
    q, k, v = qkv(seq_q=6, seq_k=6)
    out, weights = tl.scaled_dot_product_attention(q, k, v, tl.subsequent_mask(6))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    torch.testing.assert_close(tl.fast_attention(q, k, v, is_causal=True), out)
    assert (weights.triu(1) == 0).all()


def test_padding_matches_torch_and_padded_keys_get_zero_weight():
    q, k, v = qkv()
    pad = tl.key_mask_for_attention(tl.padding_mask(torch.tensor([7, 4]), width=7))
    out, weights = tl.scaled_dot_product_attention(q, k, v, pad)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=pad))
    assert (weights[1, :, :, 4:] == 0).all()


def test_causal_leak_changing_future_keeps_past():
    q, k, v = qkv(seq_q=6, seq_k=6)
    mask = tl.subsequent_mask(6)
    out, _ = tl.scaled_dot_product_attention(q, k, v, mask)
    k2, v2 = k.clone(), v.clone()
    k2[..., 4:, :] += 10.0
    v2[..., 4:, :] -= 10.0
    out2, _ = tl.scaled_dot_product_attention(q, k2, v2, mask)
    torch.testing.assert_close(out2[..., :4, :], out[..., :4, :])
    assert not torch.allclose(out2[..., 4:, :], out[..., 4:, :])


def test_fully_masked_rows_are_zero_not_nan():
    q, k, v = qkv()
    mask = torch.ones(5, 7, dtype=torch.bool)
    mask[2] = False
    q.requires_grad_(True)
    out, weights = tl.scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert (out[..., 2, :] == 0).all() and (weights[..., 2, :] == 0).all()
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
    torch.testing.assert_close(tl.fast_attention(q, k, v, mask), out)


def test_dropout_off_is_deterministic_and_on_changes_weights():
    q, k, v = qkv()
    torch.manual_seed(0)
    off = [tl.scaled_dot_product_attention(q, k, v)[1] for _ in range(2)]
    assert torch.equal(*off), "without dropout two calls give the same weights"
    _, w_drop = tl.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    w = off[0]
    kept = w_drop != 0
    assert 0 < kept.sum() < kept.numel(), "dropout zeroes some weights and keeps others"
    torch.testing.assert_close(w_drop[kept], w[kept] * 2)  # the kept ones scaled by 1 / (1 - p)


def test_gradcheck_float64():
    q, k, v = (t.requires_grad_(True) for t in qkv(batch=1, heads=2, seq_q=3, seq_k=4, d_k=5, dtype=torch.float64))
    mask = tl.subsequent_mask(4)[:3]
    mask[0] = False  # one fully masked row as well
    assert torch.autograd.gradcheck(lambda q, k, v: tl.scaled_dot_product_attention(q, k, v, mask)[0], (q, k, v))


def test_three_dim_inputs_work():
    q, k, v = (t[0] for t in qkv())
    out, weights = tl.scaled_dot_product_attention(q, k, v)
    assert out.shape == (3, 5, 8) and weights.shape == (3, 5, 7)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((torch.randn(4), torch.randn(4), torch.randn(4)), "q must have shape (..., seq_q, d_k)"),
        ((torch.randn(2, 3, 4), torch.randn(2, 3, 5), torch.randn(2, 3, 5)), "d_k equal to q's"),
        ((torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 6, 4)), "same number of keys"),
        ((torch.randn(2, 3, 4), torch.randn(3, 3, 4), torch.randn(3, 3, 4)), "leading (batch, heads)"),
        ((torch.ones(2, 3, 4, dtype=torch.long),) * 3, "floating-point"),
    ],
)
def test_bad_shapes_raise(args, words):
    with pytest.raises(ValueError) as err:
        tl.scaled_dot_product_attention(*args)
    assert words in str(err.value)


def test_bad_masks_raise():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="boolean"):
        tl.scaled_dot_product_attention(q, k, v, torch.ones(5, 7))
    with pytest.raises(ValueError, match=r"broadcast to \(\.\.\., seq_q, seq_k\)"):
        tl.scaled_dot_product_attention(q, k, v, torch.ones(7, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="either mask or is_causal"):
        tl.fast_attention(q, k, v, torch.ones(5, 7, dtype=torch.bool), is_causal=True)
