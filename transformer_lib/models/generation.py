"""Generation one token at a time, for every model of the library.

A model that generates supplies one function, ``next_logits(ids) -> (batch, vocab)``: the scores of
the token that follows ``ids`` (``(batch, seq)``, everything generated so far). :func:`decode_loop`
does the rest, the same way for every model:

* it switches the model to eval mode (no dropout) and back to the caller's mode afterwards;
* it picks each token with :func:`sample_next`: greedy at ``temperature == 0``, otherwise sampled,
  optionally from the ``top_k`` most likely tokens;
* a sequence that has produced ``eos_id`` gets ``pad_id`` afterwards, and the loop stops once every
  sequence has finished or after ``max_new_tokens`` tokens.

Inputs are checked once, before the loop (:func:`check_prompt`, :func:`check_sampling`): the steps run
the model with ``checked=True``, so the ids the model writes itself are never checked again, and a
step reads nothing back from the device but the chosen tokens.

The models' ``generate`` methods share one signature: ``generate(ids, max_new_tokens, eos_id=None,
temperature=0.0, top_k=None, generator=None, use_cache=True)``, written once for the decoder-only
models (:class:`CausalLM`, which ``GPT`` and ``Llama`` are, through :func:`generate_from_prompt`) and
once for the encoder-decoders (``models.transformer.EncoderDecoder``, which ``Transformer`` and ``T5``
are, through :func:`generate_from_source`). :func:`beam_search_from_source` keeps several candidates
instead of one (``EncoderDecoder.beam_search``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .._validate import check_id_range, check_positions, check_rank, check_token_ids


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the next token from ``(batch, vocab)`` logits; returns ``(batch,)`` ids.

    ``temperature == 0`` is greedy decoding (the argmax). Otherwise the logits are divided by the
    temperature (below 1: sharper, above 1: flatter), cut to the ``top_k`` largest when given, and a
    token is drawn from their softmax with ``generator`` (on the CPU, so a seed gives the same draws on
    every device).
    """
    check_rank("logits", logits, 2, "(batch, vocab)")
    check_sampling(temperature, top_k)
    return pick_next(logits, temperature, top_k, generator)


def check_sampling(temperature: float, top_k: int | None) -> None:
    """The checks of :func:`sample_next`'s settings: ``temperature >= 0``, and ``top_k >= 1`` where it is
    used (``temperature != 0``)."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature != 0 and top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")


def pick_next(
    logits: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None
) -> torch.Tensor:
    """:func:`sample_next` without its checks, for :func:`decode_loop`, which checks the settings once."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits / temperature
    if (torch.isfinite(logits) & ~torch.isfinite(scaled)).any():
        # A temperature so small that the division overflows: its limit, the largest logits (shared
        # equally when tied) with probability 1.
        top = logits.amax(dim=-1, keepdim=True)
        scaled = torch.zeros_like(logits).masked_fill(logits < top, float("-inf"))
    logits = scaled
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def check_prompt(name: str, ids: torch.Tensor, max_new_tokens: int, vocab_size: int) -> None:
    """The checks every ``generate`` starts with: ``ids`` non-empty ``(batch, seq)`` ids of the vocabulary
    (even when no token is to be generated), and a count >= 0."""
    check_token_ids(name, ids)
    check_id_range(name, ids, vocab_size)
    if ids.shape[1] == 0:
        raise ValueError(
            f"{name} must hold at least one token per sequence to continue from, got shape {tuple(ids.shape)}; "
            "start a sequence with its begin token (BOS) when there is no prompt"
        )
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")


@torch.no_grad()
def decode_loop(
    model: nn.Module,
    next_logits: Callable[[torch.Tensor], torch.Tensor],
    ids: torch.Tensor,
    max_new_tokens: int,
    *,
    eos_id: int | None,
    pad_id: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Extend ``ids`` (``(batch, seq)``) by up to ``max_new_tokens`` tokens chosen from ``next_logits``.

    Returns ``(batch, seq + new)`` with ``new <= max_new_tokens`` (fewer when every sequence has
    produced ``eos_id``).
    """
    if max_new_tokens > 0:
        check_sampling(temperature, top_k)
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    with eval_mode(model):
        for _ in range(max_new_tokens):
            nxt = pick_next(next_logits(ids), temperature, top_k, generator).masked_fill(done, pad_id)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            if eos_id is not None:
                done |= nxt == eos_id
                if done.all():
                    break
    return ids


@torch.no_grad()
def generate_from_prompt(
    model: nn.Module,
    ids: torch.Tensor,
    max_new_tokens: int,
    *,
    eos_id: int | None,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    use_cache: bool,
) -> torch.Tensor:
    """``generate`` of the decoder-only models (:class:`CausalLM`: ``GPT``, ``Llama``).

    ``model(new, caches=caches, checked=True)`` returns the logits ``(batch, seq, vocab)`` of ``new``:
    the positions after the ones ``caches`` hold, or, with ``caches=None``, a whole sequence from
    position 0. ``model.new_caches()`` gives one empty cache per layer; ``model.config`` has
    ``vocab_size``, ``max_len`` and ``pad_id``. With ``use_cache`` each step runs the newest token only.
    Beyond ``max_len`` tokens the model sees the last ``max_len`` as a sliding window whose positions
    shift at every step, so the cache no longer applies and each step runs the whole window. Returns
    ``(batch, seq + new)``.
    """
    c = model.config
    check_prompt("ids", ids, max_new_tokens, c.vocab_size)
    caches = model.new_caches() if use_cache else None

    def next_logits(ids: torch.Tensor) -> torch.Tensor:
        # the prompt was checked once, at the door: the ids the model writes need no check
        if caches is not None and ids.shape[1] <= c.max_len:
            # the positions the caches do not hold yet: the whole prompt, then the newest token
            return model(ids[:, len(caches[0]) :], caches=caches, checked=True)[:, -1]
        return model(ids[:, -c.max_len :], checked=True)[:, -1]

    return decode_loop(
        model,
        next_logits,
        ids,
        max_new_tokens,
        eos_id=eos_id,
        pad_id=c.pad_id,
        temperature=temperature,
        top_k=top_k,
        generator=generator,
    )


class CausalLM(nn.Module):
    """A decoder-only language model: the protocol every one of the library's follows, and its
    ``generate``, written once.

    A subclass has ``config`` (``vocab_size``, ``max_len``, ``pad_id``), ``forward(ids, *, caches=None,
    checked=False)`` returning ``(batch, seq, vocab)`` logits (with ``caches``, ``ids`` are the
    positions after the cached ones) and ``new_caches()``, one empty
    :class:`~transformer_lib.nn.multihead.KVCache` per layer.
    """

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        eos_id: int | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Continue the prompts ``ids`` (``(batch, seq)``, all of the same length) one token at a time.

        Stops after ``max_new_tokens`` tokens, or earlier once every sequence has produced
        ``eos_id``; a finished sequence gets ``config.pad_id`` after its ``<eos>``. ``temperature``,
        ``top_k`` and ``generator`` as in :func:`sample_next` (the default, 0, is greedy). Returns
        ``(batch, seq + new)`` with ``new <= max_new_tokens``.

        With ``use_cache`` each layer keeps the keys and values of the positions it has seen
        (:class:`~transformer_lib.nn.multihead.KVCache`), so a step processes only the newest token
        instead of the whole sequence; the result is the same. Once the sequence is longer than
        ``max_len``, the model sees a sliding window of the last ``max_len`` tokens, whose positions
        shift at every step: the cache no longer applies and each step processes the whole window.
        See :func:`generate_from_prompt`.
        """
        return generate_from_prompt(
            self,
            ids,
            max_new_tokens,
            eos_id=eos_id,
            temperature=temperature,
            top_k=top_k,
            generator=generator,
            use_cache=use_cache,
        )


@torch.no_grad()
def generate_from_source(
    model: nn.Module,
    src: torch.Tensor,
    max_new_tokens: int,
    *,
    eos_id: int | None,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    use_cache: bool,
) -> torch.Tensor:
    """``generate`` of the encoder-decoder models (``Transformer``, ``T5``), which share this contract.

    ``model`` has ``encode(src, src_padding_mask, checked=...)``, ``decode(tgt_in, memory, tgt_padding_mask,
    src_padding_mask, caches=..., checked=...)``, a ``decoder`` with ``new_caches()``, ``src_vocab_size`` and a
    config with ``pad_id``, ``bos_id`` and ``max_len``. The source is encoded once; the decoder starts
    from ``<bos>`` and, with ``use_cache``, processes only the newest token at each step. Generation stops at the
    ``max_len - 1``-th new token, the last position the decoder has. Returns ``(batch, 1 + new)`` ids
    beginning with ``bos_id``.
    """
    c = model.config
    check_prompt("src", src, max_new_tokens, model.src_vocab_size)
    check_positions("src", src.shape[1], 0, c.max_len)
    src_padding_mask = src != c.pad_id  # (batch, seq_s), True at real tokens
    caches = model.decoder.new_caches() if use_cache else None
    with eval_mode(model):
        # (batch, seq_s, d_model), computed once; src is checked, and every later input is the model's own
        memory = model.encode(src, src_padding_mask, checked=True)

        def next_logits(out: torch.Tensor) -> torch.Tensor:
            if caches is None:
                return model.decode(out, memory, None, src_padding_mask, checked=True)[:, -1]
            new = out[:, len(caches[0]) :]  # the tokens the caches have not seen
            return model.decode(new, memory, None, src_padding_mask, caches=caches, checked=True)[:, -1]

        bos = torch.full((src.shape[0], 1), c.bos_id, dtype=torch.long, device=src.device)
        return decode_loop(
            model,
            next_logits,
            bos,
            min(max_new_tokens, c.max_len - 1),
            eos_id=eos_id,
            pad_id=c.pad_id,
            temperature=temperature,
            top_k=top_k,
            generator=generator,
        )


def length_penalty_factor(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """The length normalisation of Wu et al. (2016), ``((5 + length) / 6) ** alpha``, that a beam's
    log-probability is divided by: the sum of log-probabilities only falls as a sequence grows, so
    without it (``alpha=0``) beam search prefers short outputs."""
    return ((5.0 + lengths) / 6.0) ** alpha


@torch.no_grad()
def beam_search_from_source(
    model: nn.Module,
    src: torch.Tensor,
    max_new_tokens: int,
    *,
    beam_size: int,
    eos_id: int | None,
    length_penalty: float,
) -> torch.Tensor:
    """Beam search for the encoder-decoder models (the contract of :func:`generate_from_source`).

    Greedy decoding keeps one sequence and commits to the most likely token at every step. Beam
    search keeps the ``beam_size`` sequences with the highest log-probability so far: at each step
    every kept sequence is extended by every token, and the best ``beam_size`` of those
    ``beam_size * vocab`` candidates are kept. A sequence that has produced ``eos_id`` is finished: it
    continues with ``pad_id`` at no cost, so it competes with the unfinished ones on its final
    score. The result is the kept sequence whose log-probability divided by
    :func:`length_penalty_factor` is highest. ``beam_size=1`` is greedy decoding.

    Returns:
        ``(batch, 1 + new)`` ids beginning with ``bos_id``; ``new <= min(max_new_tokens, max_len - 1)``.
    """
    c = model.config
    check_prompt("src", src, max_new_tokens, model.src_vocab_size)
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an int >= 1, got {beam_size!r}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
    check_positions("src", src.shape[1], 0, c.max_len)
    batch, k, device = src.shape[0], beam_size, src.device
    # row b * k + j holds beam j of source b
    src = src.repeat_interleave(k, dim=0)
    src_padding_mask = src != c.pad_id
    caches = model.decoder.new_caches()
    with eval_mode(model):
        # (batch * k, seq_s, d_model): the beams of one source share its memory, so reordering beams
        # within a source never needs to move it
        memory = model.encode(src, src_padding_mask, checked=True)
        ids = torch.full((batch * k, 1), c.bos_id, dtype=torch.long, device=device)
        # (batch, k) log-probability of each beam; the k beams start identical, so only one is live
        scores = torch.full((batch, k), float("-inf"), device=device)
        scores[:, 0] = 0.0
        done = torch.zeros(batch * k, dtype=torch.bool, device=device)
        lengths = torch.zeros(batch * k, device=device)
        first_row = torch.arange(batch, device=device)[:, None] * k
        for _ in range(min(max_new_tokens, c.max_len - 1)):
            new = ids[:, len(caches[0]) :]
            # (batch * k, vocab)
            logits = model.decode(new, memory, None, src_padding_mask, caches=caches, checked=True)
            log_probs = logits[:, -1].log_softmax(dim=-1)
            vocab = log_probs.shape[-1]
            # a finished beam has one continuation, padding, which keeps its score
            log_probs[done] = float("-inf")
            log_probs[done, c.pad_id] = 0.0
            # (batch, k * vocab): every continuation of every beam of a source
            candidates = (scores.reshape(-1, 1) + log_probs).view(batch, k * vocab)
            scores, best = candidates.topk(k, dim=-1)
            # (batch * k,): the row each new beam continues, and its new token
            rows = (first_row + best // vocab).view(-1)
            token = (best % vocab).view(-1)
            ids = torch.cat([ids[rows], token[:, None]], dim=1)
            for cache in caches:
                cache.reorder(rows)
            lengths = lengths[rows] + (~done[rows]).float()
            done = done[rows] | (token == eos_id) if eos_id is not None else done[rows]
            if done.all():
                break
        # (batch, k): the final ranking, by length-normalised log-probability
        final = scores / length_penalty_factor(lengths, length_penalty).view(batch, k)
        return ids[(first_row[:, 0] + final.argmax(dim=-1))]
