"""Every model family satisfies one contract; then the tests of each family's own behaviour.

The contract (``transformer_lib`` package docstring): a config dataclass as ``config_class``, an
``lm_head``, a checkpoint round trip through ``save_model`` / ``load_model``, and, for the models that
generate, one ``generate`` signature that is greedy at temperature 0, gives the same tokens with and
without the KV cache, pads finished sequences and restores the caller's training mode.
"""

import dataclasses
import inspect

import pytest
import torch
from torch import nn

from transformer_lib.data.tokens import BOS, EOS, PAD
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.checkpoint import load_model, save_model
from transformer_lib.models.generation import Generates, sample_next
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.models.t5 import T5, T5Config
from transformer_lib.models.transformer import EncoderDecoder, Transformer, TransformerConfig
from transformer_lib.nn.multihead import Caches

V = 30
SMALL = dict(d_model=16, num_heads=2, d_ff=32, max_len=12)
CONFIGS = {
    Bert: BertConfig(V, num_layers=2, num_classes=4, **SMALL),
    GPT: GPTConfig(V, num_layers=2, **SMALL),
    Llama: LlamaConfig(V, num_layers=2, num_kv_heads=1, **SMALL),
    T5: T5Config(V, num_encoder_layers=2, num_decoder_layers=1, **SMALL),
    Transformer: TransformerConfig(V, V, num_encoder_layers=1, num_decoder_layers=2, **SMALL),
}
MODELS = list(CONFIGS)
GENERATORS = [GPT, Llama, T5, Transformer]
DECODER_ONLY = [GPT, Llama]
ENCODER_DECODERS = [T5, Transformer]


def ids(batch=3, seq=7, seed=0):
    return torch.randint(5, V, (batch, seq), generator=torch.Generator().manual_seed(seed))


def make(cls, seed=0):
    torch.manual_seed(seed)
    return cls(CONFIGS[cls]).eval()


def inputs(cls):
    return (ids(), ids(3, 5, 1)) if cls in ENCODER_DECODERS else (ids(),)


def force_next_token(model, token_of_row):
    """Replace the LM head by one whose favourite token for row ``b`` of the batch is ``token_of_row[b]``."""

    class Head(torch.nn.Module):
        def forward(self, h):  # h: (batch, ..., d_model)
            logits = torch.zeros(*h.shape[:-1], V)
            for row, token in enumerate(token_of_row):
                logits[row, ..., token] = 10.0
            return logits

    model.lm_head = Head()


# ---- the contract, for every model class ------------------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_contract_config_lm_head_and_forward(cls):
    assert dataclasses.is_dataclass(cls.config_class) and isinstance(CONFIGS[cls], cls.config_class)
    model = make(cls)
    assert model.config is CONFIGS[cls]
    assert isinstance(model.lm_head, torch.nn.Module)
    logits = model(*inputs(cls))
    assert logits.shape == (*inputs(cls)[-1].shape, V) and torch.isfinite(logits).all()


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_contract_save_load_round_trip(tmp_path, cls):
    model = make(cls, seed=3).train()
    path = tmp_path / f"{cls.__name__}.pt"
    save_model(model, path)
    loaded = load_model(cls, path)
    assert type(loaded) is cls and loaded.config == model.config and not loaded.training
    model.eval()
    assert torch.equal(loaded(*inputs(cls)), model(*inputs(cls)))
    other = GPT if cls is not GPT else Bert
    with pytest.raises(ValueError, match=f"holds a {cls.__name__}, not a {other.__name__}"):
        load_model(other, path)


@pytest.mark.parametrize("cls", GENERATORS, ids=lambda c: c.__name__)
def test_contract_generate_signature(cls):
    params = list(inspect.signature(cls.generate).parameters)
    names = ["max_new_tokens", "eos_id", "temperature", "top_k", "generator", "use_cache"]
    assert params[2:] == names and params[1] in ("ids", "src")


@pytest.mark.parametrize("cls", GENERATORS, ids=lambda c: c.__name__)
def test_contract_generate_greedy_cache_and_training_mode(cls):
    model = make(cls).train()
    x = ids(3, 4)
    greedy = model.generate(x, 6)
    assert model.training, "generate must restore the caller's training mode"
    assert torch.equal(model.generate(x, 6, use_cache=False), greedy)
    sampled = [
        model.generate(x, 6, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(2), use_cache=c)
        for c in (True, False)
    ]
    assert torch.equal(*sampled)
    model.eval()
    prefix = x if cls in DECODER_ONLY else torch.full((3, 1), BOS)
    assert greedy.shape == (3, prefix.shape[1] + 6) and torch.equal(greedy[:, : prefix.shape[1]], prefix)
    # greedy: every new token is the argmax of the forward pass over what came before it
    logits = model(greedy[:, :-1]) if cls in DECODER_ONLY else model(x, greedy[:, :-1])
    start = prefix.shape[1] - 1
    assert torch.equal(logits[:, start:].argmax(-1), greedy[:, start + 1 :])


@pytest.mark.parametrize("cls", GENERATORS, ids=lambda c: c.__name__)
def test_contract_generate_pads_after_eos_and_stops_when_all_finished(cls):
    model = make(cls)
    x = ids(3, 4)
    start = x.shape[1] if cls in DECODER_ONLY else 1
    force_next_token(model, [EOS, 7, 8])  # row 0 ends at once, rows 1 and 2 never
    out = model.generate(x, 4, eos_id=EOS)
    assert out[0, start:].tolist() == [EOS, PAD, PAD, PAD]
    assert out[1, start:].tolist() == [7] * 4 and out[2, start:].tolist() == [8] * 4
    force_next_token(model, [EOS, EOS, EOS])
    assert model.generate(x, 4, eos_id=EOS).shape[1] == start + 1  # everyone finished: the loop stops


@pytest.mark.parametrize("cls", GENERATORS, ids=lambda c: c.__name__)
def test_contract_generate_rejects_an_empty_prompt(cls):
    with pytest.raises(ValueError, match="at least one token"):
        make(cls).generate(torch.zeros(2, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        make(cls).generate(ids(), -1)


@pytest.mark.parametrize("cls", GENERATORS, ids=lambda c: c.__name__)
def test_contract_the_decoder_cannot_see_the_future(cls):
    model = make(cls)
    tgt = ids(2, 8)
    changed = tgt.clone()
    changed[:, 5:] = ids(2, 3, 9)  # change the last three tokens
    run = model if cls in DECODER_ONLY else (lambda t: model(ids(2, 6, 4), t))
    torch.testing.assert_close(run(tgt)[:, :5], run(changed)[:, :5])
    assert not torch.allclose(run(tgt)[:, 5:], run(changed)[:, 5:])


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_contract_inputs_are_checked_by_name(cls):
    model = make(cls)
    first = "src" if cls in ENCODER_DECODERS else "ids"
    with pytest.raises(ValueError, match=first):
        model(ids()[0], *inputs(cls)[1:])
    with pytest.raises(ValueError, match="more than max_len=12"):
        model(ids(1, 13), *[ids(1, 3)][: len(inputs(cls)) - 1])
    if cls in ENCODER_DECODERS:
        with pytest.raises(ValueError, match="tgt_in has 13 positions"):
            model(ids(1, 5), ids(1, 13))


# ---- each family's own behaviour -------------------------------------------------------------


def test_bert_heads_and_sees_both_sides_but_not_padding():
    bert = make(Bert)
    x = ids(2, 8)
    assert bert.encode(x).shape == (2, 8, 16) and bert.classify(x).shape == (2, 4)
    y = x.clone()
    y[:, 6] = (x[:, 6] + 1 - 5) % (V - 5) + 5
    assert not torch.allclose(bert(x)[:, 0], bert(y)[:, 0]), "position 0 sees a later token"
    padded = torch.cat([x, torch.full((2, 3), PAD)], dim=1)
    torch.testing.assert_close(bert(padded)[:, :8], bert(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cls", ENCODER_DECODERS, ids=lambda c: c.__name__)
def test_encoder_decoders_ignore_source_padding(cls):
    model = make(cls)
    src, tgt = ids(2, 6), ids(2, 5, 1)
    padded = torch.cat([src, torch.full((2, 4), PAD)], dim=1)
    torch.testing.assert_close(model(padded, tgt), model(src, tgt), atol=1e-5, rtol=1e-4)
    memory = model.encode(src)
    assert memory.shape == (2, 6, 16)
    torch.testing.assert_close(model.decode(tgt, memory, None, src != PAD), model(src, tgt))


@pytest.mark.parametrize("cls", DECODER_ONLY, ids=lambda c: c.__name__)
def test_decoder_only_models_share_one_protocol_and_one_generate(cls):
    assert cls.generate is Generates.generate and cls.beam_search is Generates.beam_search
    model = make(cls).eval()
    x = ids(2, 7)
    caches = model.new_caches()
    with torch.no_grad():
        parts = [model(x[:, :4], caches=caches), model(x[:, 4:], caches=caches)]
        torch.testing.assert_close(torch.cat(parts, dim=1), model(x), atol=1e-5, rtol=1e-4)
    assert len(caches) == len(model.new_caches()) and caches.seq_len == 7
    with pytest.raises(ValueError, match="caches must hold one KVCache per layer"):
        model(x, caches=Caches(len(caches) + 1))
    with pytest.raises(TypeError, match="caches must be the Caches a model's new_caches"):
        model(x, caches=list(caches))
    # beam search continues a prompt as generate does: one beam is greedy decoding
    greedy = model.generate(x, 6, eos_id=EOS)
    torch.testing.assert_close(model.beam_search(x, 6, beam_size=1, eos_id=EOS, length_penalty=0.0), greedy)
    beams = model.beam_search(x, 6, beam_size=3, eos_id=EOS)
    assert beams.shape[0] == 2 and torch.equal(beams[:, :7], x)


@pytest.mark.parametrize("cls", ENCODER_DECODERS, ids=lambda c: c.__name__)
def test_encoder_decoders_share_every_method_and_beam_search(cls):
    """T5 is the library's encoder-decoder in T5's configuration: every method of Transformer, written once."""
    shared = {name for c in (EncoderDecoder, Generates) for name in vars(c) if not name.startswith("_")}
    methods = {name for name in dir(Transformer) if callable(getattr(Transformer, name)) and not name.startswith("_")}
    assert methods - set(dir(nn.Module)) - {"config_class"} <= shared
    assert all(getattr(cls, name) is getattr(EncoderDecoder, name) for name in shared)
    model = make(cls)
    src = ids(2, 6)
    greedy = model.generate(src, 8, eos_id=EOS)
    torch.testing.assert_close(model.beam_search(src, 8, beam_size=1, eos_id=EOS, length_penalty=0.0), greedy)
    assert model.beam_search(src, 8, beam_size=3, eos_id=EOS).shape[0] == 2
    maps = model.attention_maps(src, ids(2, 5, 1))
    assert [len(maps[k]) for k in ("encoder", "decoder_self", "cross")] == [
        len(model.encoder.layers),
        len(model.decoder.layers),
        len(model.decoder.layers),
    ]
    counts = model.parameter_counts()
    assert counts["total"] == sum(p.numel() for p in model.parameters())


def test_encoder_decoders_stop_at_their_last_position():
    for cls in ENCODER_DECODERS:
        assert make(cls).generate(ids(1, 6), max_new_tokens=50).shape[1] == SMALL["max_len"]


@pytest.mark.parametrize("cls", DECODER_ONLY, ids=lambda c: c.__name__)
def test_decoder_only_models_generate_beyond_max_len_with_a_sliding_window(cls):
    model = make(cls)
    out = [model.generate(ids(3, 5), max_new_tokens=30, use_cache=c) for c in (True, False)]
    assert out[0].shape == (3, 35) and torch.equal(*out)


def test_sample_next():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert sample_next(logits, temperature=0).tolist() == [1]
    g = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, 1.0, top_k=2, generator=g).item() for _ in range(200)}
    assert draws == {1, 3}
    with pytest.raises(ValueError, match="temperature"):
        sample_next(logits, -1.0)
    with pytest.raises(ValueError, match="top_k"):
        sample_next(logits, 1.0, top_k=0)


def test_load_model_names_a_damaged_file(tmp_path):
    path = tmp_path / "gpt.pt"
    save_model(make(GPT), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a complete checkpoint") as err:
        load_model(GPT, path)
    assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError):
        load_model(GPT, tmp_path / "missing.pt")
