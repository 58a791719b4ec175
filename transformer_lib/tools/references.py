"""Reference answers for the chapters' exercises, kept out of the chapters.

An exercise's check compares the student's answer with a reference. Where the exercise rebuilds a
function the library already has (``subsequent_mask``, ``padding_mask``, ``MultiHeadAttention``...),
the check uses the library's own; the references below are the others. They live here, not in the
check cell, so that neither the website, next to the exercise, nor a student copy prints the answer.
Each is written another way than the chapter's solution where it can be (autograd instead of the
formula, a loop instead of a vectorised expression), so that the two agreeing says something.

Grouped by chapter; each function names the exercise it answers (its ``:label:``).
Masks follow the library's convention: boolean, ``True`` = may attend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..data.tokens import IGNORE
from ..nn.attention import scaled_dot_product_attention
from ..nn.masks import padding_mask_from_ids, subsequent_mask
from ..nn.multihead import MultiHeadAttention
from ..nn.rotary import RotaryEmbedding

# Chapter 1 -------------------------------------------------------------------------------------------


def self_attention_steps(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor) -> torch.Tensor:
    """ch1-self-attention: ``(seq, d_k)`` outputs, the projections by ``F.linear`` and torch's fused
    attention (``x`` ``(seq, d_model)``, each ``w`` ``(d_model, d_k)``)."""
    q, k, v = (F.linear(x, w.T) for w in (w_q, w_k, w_v))
    return F.scaled_dot_product_attention(q[None], k[None], v[None])[0]


# Chapter 2 -------------------------------------------------------------------------------------------


def qkv_parameter_count(d_model: int, num_heads: int) -> int:
    """ch2-count: the parameters of ``nn.MultiheadAttention``'s query, key and value projections
    (weights and biases), read from the module's packed ``in_proj`` tensors."""
    attention = nn.MultiheadAttention(d_model, num_heads)
    return attention.in_proj_weight.numel() + attention.in_proj_bias.numel()


# Chapters 5 and 9c -----------------------------------------------------------------------------------


def attention_parameter_count(d_model: int, num_heads: int) -> int:
    """ch5-params, ch9c-params: the parameters of the library's ``MultiHeadAttention``, counted on a
    built module."""
    return sum(p.numel() for p in MultiHeadAttention(d_model, num_heads).parameters())


# Chapter 3 -------------------------------------------------------------------------------------------


def softmax_jacobian(a: torch.Tensor) -> torch.Tensor:
    """ch3-jacobian: autograd's ``(n, n)`` Jacobian of softmax at scores whose softmax is ``a`` ``(n,)``."""
    return torch.autograd.functional.jacobian(lambda s: s.softmax(dim=-1), a.log())


def score_scale(q_variance: float, k_variance: float, d_k: int) -> float:
    """ch3-scale: the factor that gives ``q . k`` variance 1 for independent, zero-mean entries.

    ``q . k`` is a sum of ``d_k`` independent products, each of variance ``q_variance * k_variance``.
    """
    return 1 / math.sqrt(d_k * q_variance * k_variance)


# Chapter 4 -------------------------------------------------------------------------------------------


def decoder_self_attention_mask(tgt_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """ch4-decoder-mask: ``(batch, 1, seq, seq)``, query i may attend to key j when j <= i and j is real."""
    batch, seq = tgt_ids.shape
    mask = torch.zeros(batch, 1, seq, seq, dtype=torch.bool, device=tgt_ids.device)
    for b in range(batch):
        for i in range(seq):
            for j in range(i + 1):
                mask[b, 0, i, j] = bool(tgt_ids[b, j] != pad_id)
    return mask


# Chapter 6 -------------------------------------------------------------------------------------------


def cross_attention_shapes(batch: int, heads: int, seq_t: int, seq_s: int) -> tuple[tuple, tuple]:
    """ch6-shapes: the shapes of a decoder's cross- and self-attention weights, from running them."""
    attention = nn.MultiheadAttention(heads, heads, batch_first=True)
    target, source = torch.zeros(batch, seq_t, heads), torch.zeros(batch, seq_s, heads)
    shape = {}
    for name, keys in (("cross", source), ("self", target)):
        _, weights = attention(target, keys, keys, average_attn_weights=False)
        shape[name] = tuple(weights.shape)
    return shape["cross"], shape["self"]


def cross_attention_mask(src_mask: torch.Tensor, seq_t: int) -> torch.Tensor:
    """ch6-mask: the ``(batch, seq_s)`` source padding mask for every one of ``seq_t`` queries."""
    return torch.stack([src_mask] * seq_t, dim=1)


def cross_attention(target, memory, mask, w_q, w_k, w_v) -> torch.Tensor:
    """ch6-by-hand: single-head cross-attention, queries from ``target``, keys and values from ``memory``."""
    return scaled_dot_product_attention(target @ w_q, memory @ w_k, memory @ w_v, mask.unsqueeze(1))[0]


def strongest_source_positions(model, batch, queries: int) -> list[int]:
    """ch6-alignment: for the first ``queries`` decoder positions, the source position with most weight
    in the first layer's first head (sequence 0 of ``batch``)."""
    maps = model.attention_maps(batch.src, batch.tgt_in, batch.src_padding_mask, batch.tgt_padding_mask)
    weights = maps["cross"][0][0, 0]  # (seq_t, seq_s)
    return [int(torch.argmax(weights[t])) for t in range(queries)]


# Chapter 7 -------------------------------------------------------------------------------------------


def batch_norm_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ch7-batchnorm: the mean and biased variance ``nn.BatchNorm1d`` uses for ``(batch, seq, d)``."""
    norm = nn.BatchNorm1d(x.shape[-1], momentum=1.0, affine=False, dtype=x.dtype)
    norm.train()
    norm(x.reshape(-1, x.shape[-1]))
    n = x.shape[0] * x.shape[1]
    # running_var is the unbiased variance; the normalisation divides by n
    return norm.running_mean, norm.running_var * (n - 1) / n


def addnorm_dropout_values(entries: int, kept: int) -> tuple[float, float]:
    """ch7-addnorm-values: the article's AddNorm sample (X = 1, Y = 2 everywhere) when dropout keeps
    ``kept`` of ``entries`` entries of Y, normalised over the sample by ``nn.LayerNorm``."""
    sample = torch.ones(entries)
    sample[:kept] += 2.0
    normalized = nn.LayerNorm(entries, elementwise_affine=False)(sample)
    return normalized[0].item(), normalized[-1].item()


# Chapter 8 -------------------------------------------------------------------------------------------


@torch.no_grad()
def greedy_step(model, ys: torch.Tensor, memory: torch.Tensor, src_padding_mask: torch.Tensor) -> torch.Tensor:
    """ch8-step: ``ys`` ``(batch, t)`` with the most likely next token of each sequence appended."""
    logits = model.decode(ys, memory, None, src_padding_mask)[:, -1]  # (batch, vocab)
    best = torch.stack([row.argmax() for row in logits])
    return torch.cat([ys, best[:, None]], dim=1)


def decoder_self_mask(tgt_padding_mask: torch.Tensor) -> torch.Tensor:
    """ch8-mask: ``(batch, seq, seq)`` from a ``(batch, seq)`` target padding mask: real keys, not later."""
    seq = tgt_padding_mask.shape[1]
    return subsequent_mask(seq, device=tgt_padding_mask.device) & tgt_padding_mask.unsqueeze(1)


# Chapter 8b ------------------------------------------------------------------------------------------


def warmup_for_peak(d_model: int, peak: float) -> float:
    """ch8b-warmup-peak: the warm-up at which the paper's schedule peaks at ``peak``, by bisection on the
    formula's peak ``(d_model * warmup)^-0.5``, which falls as the warm-up grows."""
    low, high = 1e-12, 1e12
    for _ in range(200):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if (d_model * middle) ** -0.5 > peak else (low, middle)
    return math.sqrt(low * high)


def final_pick(log_probs: torch.Tensor, lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """ch8b-final-pick: ``(batch,)`` index of the beam whose log-probability divided by the length penalty
    ``((5 + length) / 6) ** alpha`` is the largest, beam by beam (``log_probs``, ``lengths``: ``(batch, k)``)."""
    picks = []
    for row, row_lengths in zip(log_probs.tolist(), torch.as_tensor(lengths).tolist(), strict=True):
        scores = [lp / ((5 + n) / 6) ** alpha for lp, n in zip(row, row_lengths, strict=True)]
        picks.append(max(range(len(scores)), key=scores.__getitem__))
    return torch.tensor(picks)


# Chapter 9a ------------------------------------------------------------------------------------------


def apply_80_10_10(ids, chosen, action, random_tokens, mask_id) -> torch.Tensor:
    """ch9a-mask-rule: BERT's rule, one token at a time: a chosen token becomes ``mask_id`` when its
    ``action`` < 0.8, the random token when 0.8 <= ``action`` < 0.9, and stays otherwise."""
    out = ids.clone()
    for index in chosen.nonzero().tolist():
        a = action[tuple(index)]
        if a < 0.8:
            out[tuple(index)] = mask_id
        elif a < 0.9:
            out[tuple(index)] = random_tokens[tuple(index)]
    return out


def masked_accuracy(logits: torch.Tensor, labels: torch.Tensor, ignore: int = IGNORE) -> float:
    """ch9a-masked-accuracy: the fraction of labelled positions whose top score is the label."""
    hits = total = 0
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1]):
            if labels[b, t] != ignore:
                total += 1
                hits += int(logits[b, t].argmax() == labels[b, t])
    return hits / total


def mean_pool(states: torch.Tensor, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """ch9a-mean-pool: ``(batch, d)``, the mean of each sequence's states over its real tokens."""
    return torch.stack([states[b, ids[b] != pad_id].mean(dim=0) for b in range(len(ids))])


# Chapter 9b ------------------------------------------------------------------------------------------


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """ch9b-top-k: ``logits`` ``(batch, vocab)`` with all but each row's ``k`` largest set to -inf."""
    kth = torch.sort(logits, dim=-1, descending=True).values[:, k - 1 : k]
    return torch.where(logits >= kth, logits, torch.full_like(logits, float("-inf")))


@torch.no_grad()
def sentence_log_prob(model, ids: torch.Tensor) -> float:
    """ch9b-sentence-log-prob: the sum of log p(token | tokens before) of a ``(1, seq)`` sentence."""
    return -F.cross_entropy(model(ids[:, :-1])[0], ids[0, 1:], reduction="sum").item()


# Chapter 9c ------------------------------------------------------------------------------------------


def corrupt(ids: Sequence[int], spans: Sequence[tuple[int, int]], sentinel_ids: Sequence[int]):
    """ch9c-corrupt: T5's input (spans replaced by sentinels) and target (each sentinel, its span)."""
    inputs, targets, pos = [], [], 0
    for i, (start, end) in enumerate(spans):
        inputs.extend([*ids[pos:start], sentinel_ids[i]])
        targets.extend([sentinel_ids[i], *ids[start:end]])
        pos = end
    inputs.extend(ids[pos:])
    return inputs, targets


def cross_attention_mask_from_ids(src: torch.Tensor, seq_t: int, pad_id: int) -> torch.Tensor:
    """ch9c-cross-mask: ``(batch, seq_t, seq_s)``, every target position may attend to the real source."""
    return torch.stack([padding_mask_from_ids(src, pad_id)] * seq_t, dim=1)


def parameter_difference(larger: nn.Module, smaller: nn.Module) -> int:
    """ch9c-params: how many more parameters ``larger`` has than ``smaller``, each counted over its
    state dict's distinct tensors (a shared tensor once)."""

    def distinct(model: nn.Module) -> int:
        tensors = {id(p): p for p in model.parameters()}
        return sum(p.numel() for p in tensors.values())

    return distinct(larger) - distinct(smaller)


# Chapter 9d ------------------------------------------------------------------------------------------


def apply_rope(x: torch.Tensor, start: int) -> torch.Tensor:
    """ch9d-rope: ``x`` ``(batch, heads, seq, head_dim)`` at positions ``start ..``, rotated by the
    library's ``RotaryEmbedding``, built just long enough."""
    return RotaryEmbedding(x.shape[-1], max_len=start + x.shape[2])(x, start=start)


# Chapter 10 ------------------------------------------------------------------------------------------


def first_length_above(cost: Callable[[int], float], other: Callable[[int], float], limit: int = 100_000) -> int:
    """ch10-crossover: the smallest ``n`` with ``cost(n) > other(n)``, by bisection on [1, limit]."""
    low, high = 1, limit
    while low < high:
        mid = (low + high) // 2
        if cost(mid) > other(mid):
            high = mid
        else:
            low = mid + 1
    return low


@torch.no_grad()
def second_choice_without_cache(lm, prompt: torch.Tensor, steps: int) -> torch.Tensor:
    """ch10-sampled-cache: append the second most likely token ``steps`` times, rerunning the whole
    sequence at every step (no cache)."""
    ids = prompt
    for _ in range(steps):
        second = lm(ids)[:, -1].topk(2, dim=-1).indices[:, 1:]  # (batch, 1)
        ids = torch.cat([ids, second], dim=1)
    return ids


def attention_weight_bytes(batch: int, heads: int, n: int, dtype: torch.dtype) -> int:
    """ch10-weight-bytes: the bytes of the ``(batch, heads, n, n)`` weights that the library's
    attention returns, measured on a real tensor of that dtype."""
    q = torch.zeros(batch, heads, n, 2, dtype=dtype)
    weights = scaled_dot_product_attention(q, q, q)[1]
    return weights.numel() * weights.element_size()


# Chapter 10b -----------------------------------------------------------------------------------------


def online_softmax_update(
    m: torch.Tensor, l_sum: torch.Tensor, scores: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """ch10b-online-update: the running maximum and sum after one more block of scores, computed from
    the definition: ``l_sum`` stands for ``exp(m) * l_sum`` in absolute terms, so the new sum is the
    log-sum-exp of the old one and the block's, brought back to the new maximum."""
    m_new = torch.maximum(m, scores.amax(dim=-1))
    total = torch.logaddexp(m + torch.log(l_sum), torch.logsumexp(scores, dim=-1))  # log of the absolute sum
    return m_new, torch.exp(total - m_new)


def causal_tiles_computed(n: int, block: int) -> int:
    """ch10b-causal-tiles: the ``block x block`` tiles of an ``(n, n)`` causal score matrix that hold at
    least one allowed (query, key) pair, counted from the mask itself."""
    allowed = subsequent_mask(n)
    return sum(
        bool(allowed[i : i + block, j : j + block].any()) for i in range(0, n, block) for j in range(0, n, block)
    )


def weights_from_lse(q: torch.Tensor, k: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
    """ch10b-recompute: the weights the library's attention computes with its softmax (``lse`` is not
    needed for that: the exercise's point is to get the same without a softmax)."""
    return scaled_dot_product_attention(q, k, k)[1]


# Chapter 11 ------------------------------------------------------------------------------------------


def seasonal_persistence(x: torch.Tensor, period: int) -> torch.Tensor:
    """ch11-cycle: ``(batch, 1)`` predictions equal to the value ``period`` steps before the target,
    from windows ``x`` ``(batch, window)`` whose last value is one step before it."""
    return x[:, x.shape[1] - period].unsqueeze(1)


def whole_series_stats(values: torch.Tensor) -> tuple[float, float]:
    """ch11-leak: the mean and unbiased standard deviation of the whole series."""
    n = len(values)
    mean = sum(values.tolist()) / n
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values.tolist()) / (n - 1))


def autoregression_weight(series: torch.Tensor, years: torch.Tensor, order: int, last_year: int) -> torch.Tensor:
    """ch11-ar-order: the ``(order, 1)`` weight of a least-squares AR(``order``) with a bias, fitted on
    the steps whose target year is at most ``last_year``, by the normal equations in float64."""
    values = series.double().tolist()
    rows, targets = [], []
    for t in range(order, len(values)):
        if years[t] <= last_year:
            rows.append([*values[t - order : t], 1.0])
            targets.append([values[t]])
    x, y = torch.tensor(rows, dtype=torch.float64), torch.tensor(targets, dtype=torch.float64)
    return torch.linalg.solve(x.T @ x, x.T @ y)[:-1].to(series.dtype)


# Chapter 12 ------------------------------------------------------------------------------------------


def counted_ring_bytes(all_reduce: Callable, num_params: int, world_size: int, bytes_per_number: int = 4) -> float:
    """ch12-ring: the bytes process 0 sends in one all-reduce of ``num_params`` numbers among
    ``world_size`` processes, counted by running ``all_reduce`` (the chapter's simulated ring, which
    returns what each process ends with and how many numbers each sent) on zeros."""
    _, sent = all_reduce([torch.zeros(num_params) for _ in range(world_size)])
    return float(sent[0] * bytes_per_number)


def counted_ring_gigabytes(all_reduce: Callable, num_params: float, world_size: int, counted: int = 64_000) -> float:
    """ch12-ring: the gigabytes (1e9 bytes) each process sends to all-reduce ``num_params`` float32
    numbers: counted on ``counted`` numbers with ``all_reduce``, then scaled (the bytes grow linearly)."""
    return counted_ring_bytes(all_reduce, counted, world_size) * (num_params / counted) / 1e9
