"""A numeric fingerprint of what the chapters compute: one hash per computation, printed as JSON.

Run under the canonical numeric settings (``numerics.env``) it must print the same hashes on every
x86-64 CPU; ``tests/test_cross_cpu.py`` runs it natively and under QEMU's emulation of older CPUs and
compares. Each entry hashes the exact bytes of its results, so a single differing bit shows, and the
entry's name says which computation moved: the forward, backward and optimizer steps of each model
family, naive, fused and tiled (FlashAttention) attention, masks, softmax, norms, activations,
embeddings, the regression chapter's fits, sampling, and the modern decoder's pieces (rotary positions, RMSNorm, SwiGLU,
grouped-query attention with its cache, the byte-pair tokenizer, a Llama-like model's training step).

Usage: ``python tests/fingerprint.py`` (prints ``{"name": "hash", ...}``);
``python tests/fingerprint.py --modules`` prints instead the library modules whose code ran, which
``tests/test_cross_cpu.py`` holds against the modules the chapters use.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import transformer_lib as tl
from transformer_lib.data import python_docs
from transformer_lib.data.corpus import TopicGrammar
from transformer_lib.data.tasks import ToyTask
from transformer_lib.data.tokenizer import Tokenizer
from transformer_lib.data.tokens import EOS
from transformer_lib.models import timeseries
from transformer_lib.models.bert import Bert, BertConfig
from transformer_lib.models.gpt import GPT, GPTConfig
from transformer_lib.models.llama import Llama, LlamaConfig
from transformer_lib.models.t5 import T5, T5Config
from transformer_lib.models.transformer import Transformer, TransformerConfig
from transformer_lib.nn.rotary import RotaryEmbedding, rotate_half
from transformer_lib.tools import cost
from transformer_lib.training import loop as training
from transformer_lib.training import objectives as obj
from transformer_lib.training import schedules
from transformer_lib.training.objectives import sequence_loss

RESULTS: dict[str, str] = {}


def record(name: str, *values) -> None:
    digest = hashlib.sha256()
    for value in values:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous()
            if value.dtype == torch.bfloat16:
                value = value.view(torch.int16)
            digest.update(value.numpy().tobytes())
        elif isinstance(value, np.ndarray):
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
    RESULTS[name] = digest.hexdigest()[:12]


def grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad for p in model.parameters() if p.grad is not None]


def train_steps(name: str, model: nn.Module, next_batch, loss_fn, steps: int = 3) -> None:
    """Forward, backward and AdamW steps through the book's training loop; hash losses and weights."""
    batch = next_batch(0)
    loss = loss_fn(model, batch)
    loss.backward()
    record(f"{name}.forward", loss)
    record(f"{name}.backward", *grads(model))
    model.zero_grad(set_to_none=True)
    losses = training.train(model, next_batch, loss_fn, steps=steps, lr=3e-3, progress=False)
    record(f"{name}.adamw", losses, *model.parameters())


def elementwise() -> None:
    tl.set_seed(0)
    x = torch.randn(64, 97) * 4
    record("random.randn_rand_randint_randperm", x, torch.rand(50), torch.randint(0, 9, (50,)), torch.randperm(40))
    record("softmax", torch.softmax(x, -1), F.log_softmax(x, -1))
    record("exp_log_tanh_sigmoid", x.exp(), x.abs().add(1).log(), x.tanh(), x.sigmoid(), x.erf())
    # torch.sqrt (and x ** 0.5) is not here: it calls MKL's vector sqrt, which rounds differently on
    # different CPUs whatever the settings. The book uses rsqrt or math.sqrt instead, and
    # tests/test_cross_cpu.py checks that no chapter and no library module calls it.
    record("rsqrt", x.abs().add(1).rsqrt())
    record("sin_cos_pow", torch.sin(x * 100), torch.cos(x * 100), x.abs().pow(0.37))
    record("gelu_relu", F.gelu(x), F.gelu(x, approximate="tanh"), F.relu(x), nn.Tanh()(x))
    record("reductions", x.sum(), x.mean(-1), x.var(-1), x.std(), x.norm(), x.cumsum(-1), x.max(-1).values)
    record("sort_topk_argmax", x.sort(-1).values, x.topk(5, -1).indices, x.argmax(-1), x.argsort(0))
    record("layer_norm", F.layer_norm(x, (97,)), nn.LayerNorm(97)(x))
    record("batch_norm", nn.BatchNorm1d(97)(x), nn.BatchNorm1d(97).eval()(x))
    record("sinusoidal_encoding", tl.sinusoidal_encoding(128, 64))
    labels = torch.randint(0, 97, (64,))
    record(
        "cross_entropy_mse",
        F.cross_entropy(x, labels),
        F.cross_entropy(x, labels, label_smoothing=0.1),
        F.mse_loss(x[:, 0], x[:, 1]),
    )
    record("dropout", F.dropout(x, 0.1, training=True))


def matmuls() -> None:
    tl.set_seed(1)
    a, b = torch.randn(3, 64), torch.randn(64, 4)
    record("matmul.small", a @ b)
    for m, k, n in [(7, 13, 5), (64, 64, 64), (100, 257, 33), (512, 64, 512)]:
        x, w = torch.randn(m, k), torch.randn(n, k)
        record(f"matmul.{m}x{k}x{n}", x @ w.T, F.linear(x, w, torch.randn(n)), torch.outer(x[0], w[0]))
    q = torch.randn(8, 4, 33, 16)
    record("bmm", q @ q.transpose(-2, -1), torch.einsum("bhqd,bhkd->bhqk", q, q))
    lin = nn.Linear(97, 31)
    x = torch.randn(20, 97, requires_grad=True)
    lin(x).square().sum().backward()
    record("linear.backward", x.grad, lin.weight.grad, lin.bias.grad)


def attention() -> None:
    tl.set_seed(2)
    q, k, v = (torch.randn(2, 4, 9, 8, requires_grad=True) for _ in range(3))
    pad = tl.padding_mask(torch.tensor([9, 5]), 9)  # (batch, seq): True = may attend
    causal = tl.subsequent_mask(9)
    mask = tl.combine_masks(pad[:, None, None, :], causal)
    record("masks", pad, causal, mask, tl.to_additive(mask), tl.to_torch_mha(mask))
    out, weights = tl.scaled_dot_product_attention(q, k, v, mask)
    (out.sum() + weights.square().sum()).backward()
    record("attention.naive", out, weights, q.grad, k.grad, v.grad)
    for t in (q, k, v):
        t.grad = None
    fused = tl.fast_attention(q, k, v, mask)
    fused.square().sum().backward()
    record("attention.fused", fused, q.grad, k.grad, v.grad)
    record("attention.sdpa_causal", F.scaled_dot_product_attention(q, k, v, is_causal=True))
    qb, kb, vb = (t.detach().to(torch.bfloat16) for t in (q, k, v))
    record("attention.sdpa_bfloat16", F.scaled_dot_product_attention(qb, kb, vb), (qb @ kb.transpose(-2, -1)))

    mha = tl.MultiHeadAttention(32, 4)
    x = torch.randn(3, 7, 32, requires_grad=True)
    y, weights = mha(x, attn_mask=tl.subsequent_mask(7), need_weights=True)
    fused, _ = mha(x, is_causal=True)
    (y.square().sum() + fused.sum()).backward()
    record("multihead", y, weights, fused, x.grad, *grads(mha))
    torch_mha = nn.MultiheadAttention(32, 4, batch_first=True)
    record("torch.MultiheadAttention", torch_mha(x, x, x, need_weights=True))
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    record("torch.TransformerEncoderLayer", layer(x), layer.eval()(x.detach()))

    # chapter 10b's tiles (online softmax, log-sum-exp, the recomputing backward), causal and padded
    # with an empty sequence, and MultiHeadAttention's flash backend
    qf, kf, vf = (torch.randn(2, 3, 21, 8, requires_grad=True) for _ in range(3))
    pad21 = tl.padding_mask(torch.tensor([13, 0]), 21)[:, None, None, :]
    results = []
    for kwargs in ({"is_causal": True}, {"mask": pad21}):
        out, lse = tl.flash_attention(qf, kf, vf, **kwargs, block_q=8, block_k=4, return_lse=True)
        results += [out, lse, *torch.autograd.grad(out.square().sum(), (qf, kf, vf))]
    flash_mha = tl.MultiHeadAttention(32, 4, backend="flash")
    flash_out, _ = flash_mha(x, is_causal=True)
    flash_out.square().sum().backward()
    record("attention.flash", *results, flash_out, *grads(flash_mha))


def blocks() -> None:
    tl.set_seed(3)
    x = torch.randn(2, 6, 32)
    add = tl.AddNorm(32)
    record("addnorm", add(x, torch.randn(2, 6, 32)))
    for norm_first in (False, True):
        enc = tl.EncoderBlock(32, 4, 64, 0.1, norm_first=norm_first)
        dec = tl.DecoderBlock(32, 4, 64, 0.1, norm_first=norm_first)
        memory = enc(x)
        y = dec(torch.randn(2, 5, 32), memory)
        y.square().sum().backward()
        record(f"blocks.norm_first={norm_first}", memory, y, *grads(enc), *grads(dec))
    emb = tl.Embeddings(20, 32, max_len=16, dropout=0.1)
    record("embeddings", emb(torch.randint(0, 20, (2, 10))))


def models() -> None:
    grammar = TopicGrammar()
    tok = Tokenizer(grammar.vocab)
    data = grammar.sample(16, seed=1)  # 16 sentences: emulated CPUs are ~50x slower
    ids = tok.pad([tok.encode(" ".join(words), bos=True, eos=True) for words, _ in data], length=16)
    record("corpus", ids, grammar.entropy_rate(), grammar.log_prob(data[0][0], data[0][1]))
    gen = torch.Generator().manual_seed(0)

    tl.set_seed(4)
    task = ToyTask("sort", num_digits=10, shortest=3, longest=8, seed=0)
    model = Transformer(TransformerConfig(src_vocab_size=13, tgt_vocab_size=13, d_model=32, d_ff=64))

    def toy_batch(step):
        return task.batch(16)

    def toy_loss(m, b):
        return sequence_loss(m(b.src, b.tgt_in, b.src_padding_mask, b.tgt_padding_mask), b.tgt_out)

    train_steps("transformer", model, toy_batch, toy_loss)
    one = task.batch(4)
    record("transformer.generate", model.generate(one.src, 10, eos_id=EOS))

    tl.set_seed(5)
    bert = Bert(BertConfig(vocab_size=len(tok), d_model=32, d_ff=64, max_len=16, pad_id=tok.pad_id, num_classes=3))

    def mlm_batch(step):
        return obj.mask_tokens(ids, ids >= tok.first_word_id, tok.mask_id, (tok.first_word_id, len(tok)), 0.15, gen)

    train_steps("bert", bert, mlm_batch, lambda m, b: obj.token_loss(m(*b[:1]), b[1]))
    record("bert.classify", bert.classify(ids[:8]))

    tl.set_seed(6)
    gpt = GPT(GPTConfig(vocab_size=len(tok), d_model=32, d_ff=64, max_len=16))
    train_steps(
        "gpt", gpt, lambda step: obj.causal_lm_shift(ids, tok.pad_id), lambda m, b: obj.token_loss(m(b[0]), b[1])
    )
    prompt = ids[:4, :3]
    for name, kwargs in [("greedy", {}), ("T=1", {"temperature": 1.0}), ("top_k", {"temperature": 3.0, "top_k": 3})]:
        out = gpt.generate(prompt, 10, eos_id=tok.eos_id, generator=torch.Generator().manual_seed(0), **kwargs)
        record(f"gpt.generate.{name}", out)

    tl.set_seed(7)
    t5 = T5(T5Config(vocab_size=len(tok), d_model=32, d_ff=64, max_len=16, pad_id=tok.pad_id, bos_id=tok.bos_id))
    words = [tok.encode(" ".join(w)) for w, _ in data[:16]]
    pairs = [obj.span_corrupt(w, tok.sentinel_ids, 0.3, 2.0, gen) for w in words]
    src = tok.pad([[*s, tok.eos_id] for s, _ in pairs])
    tgt = tok.pad([[tok.bos_id, *t, tok.eos_id] for _, t in pairs])

    def t5_loss(m, b):
        tgt_in, tgt_out = obj.causal_lm_shift(b[1], tok.pad_id)
        return obj.token_loss(m(b[0], tgt_in), tgt_out)

    train_steps("t5", t5, lambda step: (src, tgt), t5_loss)
    record("t5.generate", t5.generate(src[:4], 8, eos_id=tok.eos_id))


def modern() -> None:
    """Chapter 9d: the modern decoder's pieces, one by one, then a Llama-like model on real text."""
    tl.set_seed(9)
    x = torch.randn(2, 4, 7, 16, requires_grad=True)  # (batch, heads, seq, head_dim)
    rope = RotaryEmbedding(16, 32)
    rotated = rope(x) + rope(x, start=5)
    rotated.square().sum().backward()
    record("rotary", rope.cos, rope.sin, rotate_half(x), rotated, x.grad)
    h = torch.randn(3, 5, 32, requires_grad=True)
    norm, ffn = tl.RMSNorm(32), tl.SwiGLU(32, 48)
    y = ffn(norm(h))
    y.square().sum().backward()
    record("rmsnorm_swiglu", norm(h), y, h.grad, *grads(norm), *grads(ffn))
    gqa = tl.MultiHeadAttention(32, 4, bias=False, num_kv_heads=2, rotary=RotaryEmbedding(8, 16))
    full, weights = gqa(h, is_causal=True, need_weights=True)
    cache = tl.KVCache()
    steps = [gqa(h[:, :3], is_causal=True, cache=cache)[0]]
    steps += [gqa(h[:, t : t + 1], is_causal=True, cache=cache)[0] for t in range(3, 5)]
    full.square().sum().backward()
    record("gqa", full, weights, torch.cat(steps, 1), *grads(gqa))

    train_texts, _ = python_docs.split_topics(valid_fraction=0.1, seed=0)
    tokenizer = python_docs.train_tokenizer(train_texts[:8], vocab_size=300)
    ids = python_docs.encode_texts(tokenizer, train_texts[8:12])
    record("bpe_tokenizer", ids, sorted(tokenizer.get_vocab().items()))
    gen = tl.generator(0)
    batch = python_docs.random_windows(ids, 8, 24, gen)
    record("warmup_schedule", [schedules.warmup_schedule(64, 10)(step) for step in range(1, 40)])

    tl.set_seed(10)
    llama = Llama(LlamaConfig(vocab_size=300, d_model=32, num_heads=4, num_kv_heads=2, d_ff=48, max_len=32))
    train_steps("llama", llama, lambda step: batch, lambda m, b: obj.token_loss(m(b[0]), b[1]))
    record("llama.generate", llama.generate(batch[0][:2, :5], 8), llama.generate(batch[0][:2, :5], 8, use_cache=False))
    record("loglog_slope", cost.loglog_slope([16, 32, 64, 128], [3.0, 11.0, 45.0, 170.0]))


def regression() -> None:
    tl.set_seed(8)
    series = torch.cumsum(torch.randn(300), 0) + 10 * torch.sin(torch.arange(300) / 7)
    norm = timeseries.Standardizer(series[:200])
    x, y = timeseries.make_windows(norm.transform(series), 12)
    record("regression.linear_ar", *timeseries.fit_linear_ar(x, y))
    forecaster = timeseries.TransformerForecaster(12, d_model=16, d_ff=32, is_causal=True)
    train_steps(
        "regression.transformer", forecaster, lambda s: (x[:64], y[:64]), lambda m, b: F.mse_loss(m(b[0]), b[1])
    )
    gru = nn.GRU(1, 16, batch_first=True)
    out, h = gru(x[:32].unsqueeze(-1))
    h.square().sum().backward()
    record("regression.gru", out, h, *grads(gru))
    record("svd", *torch.linalg.svd(torch.randn(30, 8), full_matrices=False))


def numpy_math() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1000) * 5
    record("numpy", np.exp(a), np.log1p(np.abs(a)), np.tanh(a), np.sin(a), a.sum(), np.cumsum(a), a @ a)
    record("math", [math.exp(v) for v in a[:50]], [math.log(abs(v) + 1) for v in a[:50]])


PARTS = (elementwise, matmuls, attention, blocks, models, modern, regression, numpy_math)


def modules_that_run() -> list[str]:
    """The ``transformer_lib`` modules whose functions run while the fingerprint is computed."""
    ran: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            name = frame.f_globals.get("__name__", "")
            if name.startswith("transformer_lib"):
                ran.add(name)

    sys.setprofile(profile)
    try:
        for part in PARTS:
            part()
    finally:
        sys.setprofile(None)
    return sorted(ran)


def main() -> None:
    torch.use_deterministic_algorithms(True)
    if sys.argv[1:] == ["--modules"]:
        print(json.dumps(modules_that_run()))
        return
    for part in PARTS:
        part()
    print(json.dumps(RESULTS, indent=0, sort_keys=True))


if __name__ == "__main__":
    main()
