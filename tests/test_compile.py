"""The library runs as real PyTorch code runs: compiled whole, on the meta device, checked once at the door.

* ``torch.compile(model, fullgraph=True)`` captures every model's forward and backward in one graph (no
  Python branch on a tensor's value inside), and generation's one-token step too;
* a forward and backward on the meta device (shapes without values, how one sizes a model before the
  GPU is there) runs for every model;
* the input checks run at the door: a forward calls the checks of :mod:`transformer_lib._validate` a
  fixed, small number of times however deep the model is, and ``generate`` checks the prompt once,
  never the ids the model writes.
"""

from __future__ import annotations

import pytest
import torch

from transformer_lib import _validate as validate
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.models.t5 import T5, T5Config
from transformer_lib.models.transformer import Transformer, TransformerConfig
from transformer_lib.tools.cost import check_calls

VOCAB = 20


def config(cls: type, layers: int = 2):
    """A tiny configuration of ``cls`` with ``layers`` layers (in the encoder and the decoder)."""
    sizes = dict(d_model=16, num_heads=2, d_ff=32, max_len=16)
    if cls is GPT:
        return GPTConfig(VOCAB, num_layers=layers, **sizes)
    if cls is Llama:
        return LlamaConfig(VOCAB, num_kv_heads=1, num_layers=layers, **sizes)
    if cls is Bert:
        return BertConfig(VOCAB, num_layers=layers, **sizes)
    if cls is T5:
        return T5Config(VOCAB, num_encoder_layers=layers, num_decoder_layers=layers, **sizes)
    return TransformerConfig(VOCAB, VOCAB, num_encoder_layers=layers, num_decoder_layers=layers, **sizes)


MODELS = [GPT, Llama, Bert, T5, Transformer]
ENCODER_DECODERS = (T5, Transformer)


def inputs(cls: type, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    """A forward's arguments: ``(ids,)`` or ``(src, tgt_in)``, each ``(2, 6)``, with padding in ``src``."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, VOCAB, (2, 6), generator=g)
    ids[1, -2:] = 0  # padding (PAD = 0): the encoders mask it
    return tuple(t.to(device) for t in ((ids, ids.roll(1, 1)) if cls in ENCODER_DECODERS else (ids,)))


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_model_compiles_whole_forward_and_backward(cls):
    torch.manual_seed(0)
    model = cls(config(cls))
    args = inputs(cls)
    explained = torch._dynamo.explain(model)(*args)
    assert explained.graph_break_count == 0, explained.break_reasons
    expected = model(*args)
    expected.square().mean().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out = compiled(*args)
    out.square().mean().backward()
    torch.testing.assert_close(out, expected)
    for name, p in model.named_parameters():
        if name in grads:
            torch.testing.assert_close(p.grad, grads[name], msg=name)


def test_gpt_compiles_with_inductor():
    """The default backend generates and compiles C++ kernels (gcc) for the CPU: the real thing."""
    torch.manual_seed(0)
    model = GPT(config(GPT))
    (ids,) = inputs(GPT)
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(ids)
    out.square().mean().backward()
    torch.testing.assert_close(out, model(ids), atol=1e-5, rtol=1e-5)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def one_token_step(model: torch.nn.Module):
    """Generation's step, as ``generate`` runs it after the prompt: ``step(new, caches) -> logits``
    for the newest token ``new`` ``(batch, 1)``, its inputs checked once, before the loop."""
    if isinstance(model, (GPT, Llama)):
        return lambda new, caches: model(new, caches=caches, checked=True)
    src, _ = inputs(type(model))
    mask = src != model.config.pad_id
    memory = model.encode(src, mask)
    return lambda new, caches: model.decode(new, memory, None, mask, caches=caches, checked=True)


def prefilled_caches(model: torch.nn.Module, step, prompt: torch.Tensor):
    caches = model.decoder.new_caches() if isinstance(model, ENCODER_DECODERS) else model.new_caches()
    step(prompt, caches)
    return caches


@pytest.mark.parametrize("cls", [GPT, Llama, T5, Transformer], ids=lambda c: c.__name__)
def test_generation_step_compiles_without_graph_breaks(cls):
    torch.manual_seed(0)
    model = cls(config(cls)).eval()
    step = one_token_step(model)
    prompt, new = inputs(cls)[-1][:, :4], torch.tensor([[5], [6]])
    with torch.no_grad():
        caches = prefilled_caches(model, step, prompt)
        explained = torch._dynamo.explain(step)(new, prefilled_caches(model, step, prompt))
        assert explained.graph_break_count == 0, explained.break_reasons
        expected = step(new, prefilled_caches(model, step, prompt))
        out = torch.compile(step, fullgraph=True, backend="eager")(new, caches)
    torch.testing.assert_close(out, expected)
    assert caches.seq_len == 5, "the compiled step appended the new token to the caches"


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_model_runs_forward_and_backward_on_the_meta_device(cls):
    with torch.device("meta"):
        model = cls(config(cls, layers=3))
    args = inputs(cls, device="meta")
    out = model(*args)
    assert out.device.type == "meta" and out.shape == (*args[-1].shape, VOCAB)
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]  # Bert's cls_head has none here
    assert len(grads) > 10 and all(g.device.type == "meta" for g in grads)


# Measured: before the checks moved to the door, a 2-layer GPT's forward made 40 calls (108 with 6
# layers), a 2 + 2-layer Transformer 138 (386), a 10-token generate 460 (GPT) and 918 (Transformer).
CHECKS_PER_FORWARD = {GPT: 8, Llama: 8, Bert: 7, T5: 18, Transformer: 18}


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_a_forward_checks_a_few_times_whatever_the_depth(cls):
    args = inputs(cls)
    models = [cls(config(cls, layers)).eval() for layers in (1, 2, 6)]
    counts = [check_calls(lambda m=m: m(*args)) for m in models]
    assert [sum(c.values()) for c in counts] == [CHECKS_PER_FORWARD[cls]] * 3, counts
    # one read of the ids' values per id tensor (one wait for the device on a GPU), none per layer
    assert [c["check_id_range"] for c in counts] == [len(args)] * 3


@pytest.mark.parametrize("cls", [GPT, Llama, T5, Transformer], ids=lambda c: c.__name__)
def test_generate_checks_the_prompt_once_never_its_own_ids(cls):
    torch.manual_seed(0)
    model = cls(config(cls, layers=2))
    prompt = inputs(cls)[0]
    one, ten = (check_calls(lambda n=n: model.generate(prompt, n, temperature=1.0, top_k=5)) for n in (1, 10))
    assert one == ten, "a step checks nothing: the prompt is checked before the loop"
    assert ten["check_id_range"] == 1 and sum(ten.values()) <= 8, ten
    if cls is Transformer:
        assert check_calls(lambda: model.beam_search(prompt, 10))["check_id_range"] == 1


def test_a_compiled_model_leaves_the_value_check_to_eager_mode():
    """Inside the compiled graph the id check steps aside (it would need a Python branch on a value);
    in eager mode it stops an id outside the vocabulary before any kernel sees it."""
    model = GPT(config(GPT))
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, 20\)"):
        model(torch.tensor([[1, VOCAB]]))
    validate.check_id_range("ids", torch.tensor([[1, 2]]), VOCAB)  # the check a compiled model's caller runs
    assert not validate.can_read_values(torch.empty(1, device="meta"))
