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

Every model that generates gets ``generate`` and ``beam_search`` from one class, :class:`Generates`,
with one signature: ``generate(ids, max_new_tokens, eos_id=None, temperature=0.0, top_k=None,
generator=None, use_cache=True)``. A model says only how to start (check its inputs; an
encoder-decoder also encodes its source) and how to score the next token: once for the decoder-only
models (:class:`CausalLM`, which ``GPT`` and ``Llama`` are) and once for the encoder-decoders
(``models.transformer.EncoderDecoder``, which ``Transformer`` and ``T5`` are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .._validate import check_id_range, check_rank, check_token_ids
from ..nn.multihead import Caches


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


def length_penalty_factor(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """The length normalisation of Wu et al. (2016), ``((5 + length) / 6) ** alpha``, that a beam's
    log-probability is divided by: the sum of log-probabilities only falls as a sequence grows, so
    without it (``alpha=0``) beam search prefers short outputs."""
    return ((5.0 + lengths) / 6.0) ** alpha


class Generates(nn.Module):
    """How every model of the library generates, written once: :meth:`generate` and :meth:`beam_search`.

    A model that generates subclasses this (through :class:`CausalLM` or
    :class:`~transformer_lib.models.transformer.EncoderDecoder`) and supplies three methods:

    * ``new_caches()``: empty :class:`~transformer_lib.nn.multihead.Caches`, one per self-attention
      layer of the part that generates;
    * ``_start(ids, max_new_tokens)``: checks the inputs (at the door, once) and returns
      ``(out, context, steps)``: the ids generation continues, ``(batch, s)`` (the prompt, or ``<bos>``
      for an encoder-decoder), what every step needs (an encoder-decoder's memory and source mask), and
      the number of tokens it may add (at most ``max_new_tokens``);
    * ``_next_logits(out, context, caches)``: ``(batch, vocab)`` scores of the token after ``out``
      (``caches``: the positions already seen, or ``None``), run with ``checked=True`` since the ids
      after the inputs are the model's own.
    """

    config: object

    def new_caches(self) -> Caches:
        raise NotImplementedError

    def _start(self, ids: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, object, int]:
        raise NotImplementedError

    def _next_logits(self, out: torch.Tensor, context: object, caches: Caches | None) -> torch.Tensor:
        raise NotImplementedError

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
        """Continue ``ids`` (``(batch, seq)``: a decoder's prompts, all of one length, or an
        encoder-decoder's sources) one token at a time.

        Stops after ``max_new_tokens`` tokens, or earlier once every sequence has produced ``eos_id``;
        a finished sequence gets ``config.pad_id`` after its ``<eos>``. ``temperature``, ``top_k`` and
        ``generator`` as in :func:`sample_next` (the default, 0, is greedy). With ``use_cache`` each
        self-attention layer keeps the keys and values of the positions it has seen
        (:class:`~transformer_lib.nn.multihead.Caches`), so a step runs the newest token only; the
        result is the same.

        Returns:
            a decoder: ``(batch, seq + new)``, the prompts and what follows; an encoder-decoder:
            ``(batch, 1 + new)``, starting with ``bos_id``; ``new <= max_new_tokens``.
        """
        with eval_mode(self):
            out, context, steps = self._start(ids, max_new_tokens)
            caches = self.new_caches() if use_cache else None
            return decode_loop(
                self,
                lambda out: self._next_logits(out, context, caches),
                out,
                steps,
                eos_id=eos_id,
                pad_id=self.config.pad_id,
                temperature=temperature,
                top_k=top_k,
                generator=generator,
            )

    @torch.no_grad()
    def beam_search(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        beam_size: int = 4,
        eos_id: int | None = None,
        length_penalty: float = 0.6,
    ) -> torch.Tensor:
        """The most likely continuation of ``ids`` among ``beam_size`` candidates kept at every step,
        instead of :meth:`generate`'s single greedy one (the 2017 paper used ``beam_size=4`` and
        ``length_penalty=0.6``).

        Greedy decoding commits to the most likely token at every step. Beam search keeps the
        ``beam_size`` sequences with the highest log-probability so far: at each step every kept
        sequence is extended by every token, and the best ``beam_size`` of those ``beam_size * vocab``
        candidates are kept. A sequence that has produced ``eos_id`` is finished: it continues with
        ``pad_id`` at no cost, so it competes with the unfinished ones on its final score. Only the
        final ranking divides a beam's log-probability by :func:`length_penalty_factor` of its length
        (the generated tokens up to ``<eos>``); while searching, beams are compared by their sums.
        ``beam_size=1`` is greedy decoding.

        Returns:
            the shape :meth:`generate` returns, ``pad_id`` after ``eos_id``.
        """
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be an int >= 1, got {beam_size!r}")
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
        batch, k, pad_id = ids.shape[0], beam_size, self.config.pad_id
        with eval_mode(self):
            # row b * k + j holds beam j of input b; an encoder-decoder encodes each copy, so reordering
            # beams within an input never needs to move its memory
            out, context, steps = self._start(ids.repeat_interleave(k, dim=0), max_new_tokens)
            caches, device = self.new_caches(), out.device
            # (batch, k) log-probability of each beam; the k beams start identical, so only one is live
            scores = torch.full((batch, k), float("-inf"), device=device)
            scores[:, 0] = 0.0
            done = torch.zeros(batch * k, dtype=torch.bool, device=device)
            lengths = torch.zeros(batch * k, device=device)
            first_row = torch.arange(batch, device=device)[:, None] * k
            for _ in range(steps):
                log_probs = self._next_logits(out, context, caches).log_softmax(dim=-1)  # (batch * k, vocab)
                vocab = log_probs.shape[-1]
                # a finished beam has one continuation, padding, which keeps its score
                log_probs[done] = float("-inf")
                log_probs[done, pad_id] = 0.0
                # (batch, k * vocab): every continuation of every beam of an input
                candidates = (scores.reshape(-1, 1) + log_probs).view(batch, k * vocab)
                scores, best = candidates.topk(k, dim=-1)
                # (batch * k,): the row each new beam continues, and its new token
                rows = (first_row + best // vocab).view(-1)
                token = (best % vocab).view(-1)
                out = torch.cat([out[rows], token[:, None]], dim=1)
                caches.reorder(rows)
                lengths = lengths[rows] + (~done[rows]).float()
                done = done[rows] | (token == eos_id) if eos_id is not None else done[rows]
                if done.all():
                    break
            # (batch, k): the final ranking, by length-normalised log-probability
            final = scores / length_penalty_factor(lengths, length_penalty).view(batch, k)
            return out[(first_row[:, 0] + final.argmax(dim=-1))]


class CausalLM(Generates):
    """A decoder-only language model: the protocol every one of the library's follows (``GPT``,
    ``Llama``), and how it generates.

    A subclass has ``config`` (``vocab_size``, ``max_len``, ``pad_id``), ``forward(ids, *, caches=None,
    checked=False)`` returning ``(batch, seq, vocab)`` logits (with ``caches``, ``ids`` are the
    positions after the ``caches.seq_len`` cached ones) and ``new_caches()``. Beyond ``max_len``
    tokens the model sees the last ``max_len`` as a sliding window whose positions shift at every
    step, so the caches no longer apply and each step runs the whole window.
    """

    def _start(self, ids: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, None, int]:
        check_prompt("ids", ids, max_new_tokens, self.config.vocab_size)
        return ids, None, max_new_tokens

    def _next_logits(self, out: torch.Tensor, context: None, caches: Caches | None) -> torch.Tensor:
        if caches is not None and out.shape[1] <= self.config.max_len:
            # the positions the caches do not hold yet: the whole prompt, then the newest token
            return self(out[:, caches.seq_len :], caches=caches, checked=True)[:, -1]
        return self(out[:, -self.config.max_len :], checked=True)[:, -1]
