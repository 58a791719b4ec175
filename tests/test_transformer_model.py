"""Tests of transformer_lib.models.transformer: shapes, masks, parameter counts, attention maps.

The contract every model shares (config, save/load, generate) is tested in ``test_models.py``."""

import pytest
import torch

from transformer_lib.data.tasks import BOS, EOS, PAD, ToyTask
from transformer_lib.models.transformer import Transformer, TransformerConfig, exact_match
from transformer_lib.training.objectives import sequence_loss


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return Transformer(TransformerConfig(13, 13, d_model=16, num_heads=2, d_ff=32, **kw)).eval()


def test_forward_shape():
    b = ToyTask().make_batch([[1, 2, 3, 4], [5, 6]])
    logits = tiny()(b.src, b.tgt_in, b.src_padding_mask, b.tgt_padding_mask)
    assert logits.shape == (2, 5, 13)


def test_source_padding_is_ignored():
    model = tiny()
    b = ToyTask().make_batch([[1, 2, 3, 4], [5, 6]])
    ref = model(b.src, b.tgt_in, b.src_padding_mask, b.tgt_padding_mask)
    # change the ids under the padding, and add two more padding columns: nothing changes
    src = torch.cat([b.src, torch.zeros(2, 2, dtype=torch.long)], 1)
    src[1, 2:] = 9
    mask = torch.cat([b.src_padding_mask, torch.zeros(2, 2, dtype=torch.bool)], 1)
    torch.testing.assert_close(model(src, b.tgt_in, mask, b.tgt_padding_mask), ref)
    # no mask: derived from the PAD ids of the source
    torch.testing.assert_close(model(b.src, b.tgt_in, None, b.tgt_padding_mask), ref)
    # a mask that lets the padding through: the padding does change the outputs
    everything = torch.ones_like(mask)
    assert not torch.allclose(model(src, b.tgt_in, everything, b.tgt_padding_mask), ref, atol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_is_causal(norm_first):
    model = tiny(norm_first=norm_first)
    src = torch.randint(3, 13, (2, 5))
    tgt = torch.randint(3, 13, (2, 6))
    ref = model(src, tgt)
    for t in range(6):
        changed = tgt.clone()
        changed[:, t] = (changed[:, t] - 3 + 1) % 10 + 3
        out = model(src, changed)
        torch.testing.assert_close(out[:, :t], ref[:, :t])  # earlier positions do not see position t
        assert not torch.allclose(out[:, t:], ref[:, t:], atol=1e-5)


def test_generate_stops_at_eos_and_after_max_new_tokens():
    model = tiny()
    src = torch.randint(3, 13, (3, 4))
    out = model.generate(src, max_new_tokens=5, eos_id=EOS)
    assert out.shape[0] == 3 and 2 <= out.shape[1] <= 6 and (out[:, 0] == BOS).all()
    with torch.no_grad():
        model.lm_head.bias[EOS] = 1e4  # EOS always the most likely token: decoding stops after one step
    assert model.generate(src, max_new_tokens=5, eos_id=EOS).tolist() == [[BOS, EOS]] * 3
    with torch.no_grad():
        model.lm_head.bias[EOS] = -1e4  # EOS never: the loop runs to max_new_tokens
    out = model.generate(src, max_new_tokens=4, eos_id=EOS)
    assert out.shape == (3, 5) and (out != EOS).all()


def test_parameter_counts_and_attention_maps():
    model = tiny()
    counts = model.parameter_counts()
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert counts["source embedding"] == 13 * 16
    assert counts["decoder cross-attention"] == 2 * 4 * (16 * 16 + 16)
    b = ToyTask().make_batch([[1, 2, 3], [4, 5]])
    maps = model.attention_maps(b.src, b.tgt_in, b.src_padding_mask, b.tgt_padding_mask)
    assert [m.shape for m in maps["encoder"]] == [(2, 2, 3, 3)] * 2
    assert [m.shape for m in maps["cross"]] == [(2, 2, 4, 3)] * 2
    assert (maps["cross"][0][1, :, :, 2] == 0).all()  # the padded source position gets no weight
    assert torch.allclose(maps["decoder_self"][1][0].triu(1), torch.zeros(()))  # causal
    assert not model._forward_hooks and not model.decoder.layers[0].cross_attn._forward_hooks


def test_validation():
    model = tiny()
    src = torch.randint(3, 13, (2, 4))
    with pytest.raises(ValueError, match="src"):
        model(src.float(), src)
    with pytest.raises(ValueError, match="src_padding_mask"):
        model(src, src, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="tgt_padding_mask"):
        model(src, src, None, torch.ones(2, 4))
    with pytest.raises(ValueError, match="batch size"):
        model(src, src[:1])


def test_tiny_overfit():
    torch.manual_seed(0)
    task = ToyTask("copy", num_digits=5, shortest=2, longest=3, seed=0)
    model = Transformer(
        TransformerConfig(
            task.vocab_size,
            task.vocab_size,
            d_model=32,
            num_heads=2,
            d_ff=64,
            num_encoder_layers=1,
            num_decoder_layers=1,
        )
    )
    b = task.batch(8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        logits = model(b.src, b.tgt_in, b.src_padding_mask, b.tgt_padding_mask)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), b.tgt_out.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert loss.item() < 0.05
    out = model.generate(b.src, max_new_tokens=5, eos_id=EOS)
    assert torch.equal(out[:, 1 : b.tgt_out.shape[1] + 1][b.tgt_padding_mask], b.tgt_out[b.tgt_padding_mask])


def test_sequence_loss_and_exact_match():
    b = ToyTask("copy").make_batch([[1, 2], [3]])
    perfect = torch.nn.functional.one_hot(b.tgt_out, 13).float() * 100
    assert sequence_loss(perfect, b.tgt_out).item() < 1e-6
    perfect[1, 2] = 0  # a padding position: ignored
    assert sequence_loss(perfect, b.tgt_out).item() < 1e-6
    with pytest.raises(ValueError, match="tgt_out"):
        sequence_loss(perfect, b.tgt_out[:, :2])
    generated = torch.cat([torch.full((2, 1), BOS), b.tgt_out], 1)
    assert exact_match(generated, b.tgt_out).tolist() == [True, True]
    assert exact_match(generated[:, :3], b.tgt_out).tolist() == [False, True]  # first one cut before EOS
    generated[1, 1] = 5
    assert exact_match(generated, b.tgt_out).tolist() == [True, False]
