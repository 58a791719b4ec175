"""Tests of the three model families (BERT-like, GPT-like, T5-like) and of saving / loading them."""

import pytest
import torch

from transformer_lib.checkpoint import load_model, save_model
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.gpt import GPT, GPTConfig, sample_next
from transformer_lib.models.t5 import T5, T5Config

V, EOS, PAD = 30, 3, 0
SMALL = dict(d_model=16, num_heads=2, d_ff=32, max_len=12)


def ids(batch=3, seq=7, seed=0):
    return torch.randint(5, V, (batch, seq), generator=torch.Generator().manual_seed(seed))


def make(kind, seed=0):
    torch.manual_seed(seed)
    if kind == "bert":
        return Bert(BertConfig(V, num_layers=2, num_classes=4, **SMALL)).eval()
    if kind == "gpt":
        return GPT(GPTConfig(V, num_layers=2, **SMALL)).eval()
    return T5(T5Config(V, num_encoder_layers=2, num_decoder_layers=1, **SMALL)).eval()


def test_forward_shapes():
    x = ids()
    bert, gpt, t5 = make("bert"), make("gpt"), make("t5")
    assert bert(x).shape == (3, 7, V) and bert.encode(x).shape == (3, 7, 16) and bert.classify(x).shape == (3, 4)
    assert gpt(x).shape == (3, 7, V)
    assert t5(x, ids(3, 5, 1)).shape == (3, 5, V)
    memory, mask = t5.encode(x)
    assert memory.shape == (3, 7, 16) and mask.shape == (3, 7) and mask.dtype == torch.bool


def test_models_validate_inputs():
    with pytest.raises(ValueError, match="ids"):
        make("gpt")(ids()[0])
    with pytest.raises(ValueError, match="max_len"):
        make("bert")(ids(1, 13))
    with pytest.raises(ValueError, match="tgt_in"):
        make("t5")(ids(), ids(1, 13))


def test_the_causal_model_cannot_see_the_future():
    gpt = make("gpt")
    x = ids(2, 8)
    y = x.clone()
    y[:, 5:] = ids(2, 3, 9)  # change the last three tokens
    torch.testing.assert_close(gpt(x)[:, :5], gpt(y)[:, :5])
    assert not torch.allclose(gpt(x)[:, 5:], gpt(y)[:, 5:])


def test_the_encoder_sees_both_sides_but_not_padding():
    bert = make("bert")
    x = ids(2, 8)
    y = x.clone()
    y[:, 6] = (x[:, 6] + 1 - 5) % (V - 5) + 5
    assert not torch.allclose(bert(x)[:, 0], bert(y)[:, 0]), "position 0 sees a later token"
    padded = torch.cat([x, torch.full((2, 3), PAD)], dim=1)
    torch.testing.assert_close(bert(padded)[:, :8], bert(x), atol=1e-5, rtol=1e-4)


def test_t5_decoder_is_causal_and_ignores_source_padding():
    t5 = make("t5")
    src, tgt = ids(2, 6), ids(2, 5, 1)
    changed = tgt.clone()
    changed[:, 3:] = ids(2, 2, 7)
    torch.testing.assert_close(t5(src, tgt)[:, :3], t5(src, changed)[:, :3])
    padded = torch.cat([src, torch.full((2, 4), PAD)], dim=1)
    torch.testing.assert_close(t5(padded, tgt), t5(src, tgt), atol=1e-5, rtol=1e-4)


def test_sample_next():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert sample_next(logits, temperature=0).tolist() == [1]
    g = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, 1.0, top_k=2, generator=g).item() for _ in range(200)}
    assert draws == {1, 3}
    with pytest.raises(ValueError, match="temperature"):
        sample_next(logits, -1.0)


def test_gpt_generate_respects_max_length_and_stops_at_eos():
    gpt = make("gpt")
    prompt = ids(2, 3)
    out = gpt.generate(prompt, max_new_tokens=5, eos_id=None)
    assert out.shape == (2, 8) and torch.equal(out[:, :3], prompt)
    # an LM head that always prefers <eos>: generation stops after one token
    with torch.no_grad():
        gpt.lm_head.bias.fill_(-1e4)
        gpt.lm_head.bias[EOS] = 1e4
    out = gpt.generate(prompt, max_new_tokens=5, eos_id=EOS)
    assert out.shape == (2, 4) and (out[:, -1] == EOS).all()


def test_gpt_generate_pads_sequences_that_finished():
    gpt = make("gpt")
    torch.manual_seed(0)
    with torch.no_grad():
        gpt.lm_head.bias.fill_(-1e4)
        gpt.lm_head.bias[EOS] = 1e4
        gpt.lm_head.bias[9] = 1e4  # a tie broken by the sampler: some rows stop, some go on
    out = gpt.generate(ids(6, 2), 4, eos_id=EOS, temperature=1.0, generator=torch.Generator().manual_seed(1))
    for row in out[:, 2:].tolist():
        if EOS in row:
            assert all(t == PAD for t in row[row.index(EOS) + 1 :])


def test_t5_generate_starts_with_bos_and_stops():
    t5 = make("t5")
    out = t5.generate(ids(2, 6), max_new_tokens=4)
    assert out.shape == (2, 5) and (out[:, 0] == t5.config.bos_id).all()
    with torch.no_grad():
        t5.lm_head.bias.fill_(-1e4)
        t5.lm_head.bias[EOS] = 1e4
    assert t5.generate(ids(2, 6), max_new_tokens=4, eos_id=EOS).tolist() == [[2, EOS], [2, EOS]]
    assert t5.generate(ids(1, 6), max_new_tokens=50).shape[1] <= t5.config.max_len


@pytest.mark.parametrize("kind", ["bert", "gpt", "t5"])
def test_save_load_round_trip(tmp_path, kind):
    model = make(kind, seed=3)
    path = tmp_path / f"{kind}.pt"
    save_model(model, path)
    cls = {"bert": Bert, "gpt": GPT, "t5": T5}[kind]
    loaded = load_model(cls, path)
    assert loaded.config == model.config and not loaded.training
    args = (ids(), ids(3, 4, 1)) if kind == "t5" else (ids(),)
    assert torch.equal(loaded(*args), model(*args))
    with pytest.raises(ValueError, match="holds"):
        load_model(GPT if kind != "gpt" else Bert, path)


def test_gpt_generation_with_kv_cache_equals_without():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=17, d_model=32, num_heads=4, num_layers=2, d_ff=64, max_len=24)).eval()
    prompt = torch.randint(3, 17, (3, 5), generator=torch.Generator().manual_seed(1))
    with_cache = model.generate(prompt, max_new_tokens=12, use_cache=True)
    without = model.generate(prompt, max_new_tokens=12, use_cache=False)
    assert torch.equal(with_cache, without)
    sampled = [
        model.generate(prompt, 12, temperature=1.0, generator=torch.Generator().manual_seed(2), use_cache=c)
        for c in (True, False)
    ]
    assert torch.equal(*sampled)
    beyond_max_len = [model.generate(prompt, max_new_tokens=30, use_cache=c) for c in (True, False)]
    assert beyond_max_len[0].shape == (3, 35) and torch.equal(*beyond_max_len)
