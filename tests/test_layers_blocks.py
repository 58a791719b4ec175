import math

import pytest
import torch
from torch import nn

import transformer_lib as tl


def test_addnorm_equals_layernorm_by_hand():
    torch.manual_seed(0)
    add_norm = tl.AddNorm(8, dropout=0.0)
    with torch.no_grad():
        add_norm.ln.weight.uniform_()
        add_norm.ln.bias.uniform_()
    x, y = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
    s = x + y
    by_hand = (s - s.mean(-1, keepdim=True)) / torch.sqrt(s.var(-1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(add_norm(x, y), by_hand * add_norm.ln.weight + add_norm.ln.bias)
    torch.testing.assert_close(add_norm(x, y), nn.functional.layer_norm(s, (8,), add_norm.ln.weight, add_norm.ln.bias))


def test_addnorm_article_example_shapes_and_eval():
    torch.manual_seed(0)
    add_norm = tl.AddNorm([3, 4], 0.5).eval()
    out = add_norm(torch.ones(2, 3, 4), torch.ones(2, 3, 4))
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out, torch.zeros(2, 3, 4))  # constant input normalizes to 0 in eval


def test_addnorm_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        tl.AddNorm(4)(torch.ones(2, 4), torch.ones(3, 4))
    with pytest.raises(ValueError, match="normalized shape"):
        tl.AddNorm(4)(torch.ones(2, 5), torch.ones(2, 5))


def test_sinusoidal_encoding_values():
    pe = tl.sinusoidal_encoding(10, 6)
    assert pe.shape == (10, 6)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1, 0, 1, 0, 1]))
    assert math.isclose(pe[3, 2].item(), math.sin(3 / 10000 ** (2 / 6)), rel_tol=1e-5)
    assert math.isclose(pe[3, 5].item(), math.cos(3 / 10000 ** (4 / 6)), rel_tol=1e-5)
    with pytest.raises(ValueError, match="even"):
        tl.sinusoidal_encoding(4, 5)


def test_positional_encoding_adds_and_validates():
    layer = tl.PositionalEncoding(8, max_len=5)
    x = torch.zeros(2, 4, 8)
    torch.testing.assert_close(layer(x)[1], tl.sinusoidal_encoding(4, 8))
    with pytest.raises(ValueError, match="max_len=5"):
        layer(torch.zeros(1, 6, 8))
    with pytest.raises(ValueError, match="d_model=8"):
        layer(torch.zeros(1, 3, 7))


def test_embeddings_scale():
    emb = tl.Embeddings(10, 8, max_len=6)
    ids = torch.tensor([[1, 2, 3]])
    expected = emb.token(ids) * math.sqrt(8) + tl.sinusoidal_encoding(3, 8)
    torch.testing.assert_close(emb(ids), expected)
    with pytest.raises(ValueError, match="integer token ids"):
        emb(torch.zeros(1, 3))


def test_feed_forward():
    ffn = tl.FeedForward(8, 32)
    assert ffn(torch.randn(2, 3, 8)).shape == (2, 3, 8)
    with pytest.raises(ValueError, match="activation"):
        tl.FeedForward(8, 32, activation="tanh")
    with pytest.raises(ValueError, match="d_model=8"):
        ffn(torch.randn(2, 3, 4))


def torch_decoder_masks(tgt_keep, src_keep):
    return dict(
        tgt_mask=tl.to_torch_mha(tl.subsequent_mask(tgt_keep.shape[1])),
        tgt_key_padding_mask=tl.to_torch_mha(tgt_keep),
        memory_key_padding_mask=tl.to_torch_mha(src_keep),
    )


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_block_to_and_from_torch(norm_first, activation):
    torch.manual_seed(0)
    ours = tl.EncoderBlock(16, 4, 32, norm_first=norm_first, activation=activation).eval()
    theirs = ours.to_torch()
    assert isinstance(theirs, nn.TransformerEncoderLayer) and not theirs.training and theirs.norm_first == norm_first
    x = torch.randn(2, 5, 16)
    keep = tl.padding_mask(torch.tensor([5, 3]))
    ref = theirs(x, src_key_padding_mask=tl.to_torch_mha(keep))
    out = ours(x, keep)
    torch.testing.assert_close(out[0], ref[0])
    torch.testing.assert_close(out[1, :3], ref[1, :3])  # torch's fast path may zero padded rows
    back = tl.EncoderBlock.from_torch(theirs)
    assert back.norm_first == norm_first and back.ffn.activation_name == activation and not back.training
    torch.testing.assert_close(back(x, keep), out, rtol=0, atol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_block_to_and_from_torch(norm_first, activation):
    torch.manual_seed(0)
    theirs = nn.TransformerDecoderLayer(
        16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation
    ).eval()
    ours = tl.DecoderBlock.from_torch(theirs)
    x, memory = torch.randn(2, 4, 16), torch.randn(2, 6, 16)
    tgt_keep, src_keep = tl.padding_mask(torch.tensor([4, 3])), tl.padding_mask(torch.tensor([6, 2]))
    ref = theirs(x, memory, **torch_decoder_masks(tgt_keep, src_keep))
    real = tgt_keep[..., None]
    torch.testing.assert_close(ours(x, memory, tgt_keep, src_keep) * real, ref * real)
    again = ours.to_torch()(x, memory, **torch_decoder_masks(tgt_keep, src_keep))
    torch.testing.assert_close(again * real, ref * real, rtol=0, atol=0)


def test_block_interop_refuses_what_it_cannot_copy():
    with pytest.raises(ValueError, match=r"nn\.TransformerEncoderLayer"):
        tl.EncoderBlock.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="batch_first"):
        tl.EncoderBlock.from_torch(nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.raises(ValueError, match="activation"):
        tl.DecoderBlock.from_torch(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True, activation=nn.Tanh()))


def test_residual_sublayer_checks_both_paths():
    for norm_first in (False, True):
        sub = tl.ResidualSublayer(4, norm_first=norm_first)
        with pytest.raises(ValueError, match="same shape"):
            sub(torch.ones(2, 4), lambda h: h[:1])
    pre = tl.ResidualSublayer(4, norm_first=True)
    x = torch.randn(2, 4)
    torch.testing.assert_close(pre(x, lambda h: 2 * h), x + 2 * pre.ln(x))


def test_stacks_and_decoder_causality():
    torch.manual_seed(0)
    enc = tl.Encoder(2, 16, 4, 32, norm_first=True).eval()
    dec = tl.Decoder(2, 16, 4, 32).eval()
    src, tgt = torch.randn(2, 6, 16), torch.randn(2, 5, 16)
    memory = enc(src)
    out = dec(tgt, memory)
    assert memory.shape == (2, 6, 16) and out.shape == (2, 5, 16)
    tgt2 = tgt.clone()
    tgt2[:, 3:] = torch.randn(2, 2, 16)
    torch.testing.assert_close(dec(tgt2, memory)[:, :3], out[:, :3])
    decoder_only = tl.DecoderOnly(2, 16, 4, 32).eval()
    torch.testing.assert_close(decoder_only(tgt2)[:, :3], decoder_only(tgt)[:, :3])
    assert not torch.allclose(enc(tgt2)[:, :3], enc(tgt)[:, :3]), "the encoder sees both sides"


def test_embeddings_token_vectors_have_the_size_of_the_encoding():
    torch.manual_seed(0)
    emb = tl.Embeddings(1000, 64)
    scaled = emb.token.weight * math.sqrt(64)
    assert 0.9 < scaled.std().item() < 1.1  # not sqrt(64) = 8 times the encoding's size
