"""Pre-training objectives of the three model families, as plain functions on token ids.

* :func:`mask_tokens` + :func:`token_loss`: BERT's masked language modelling (the 80/10/10 rule);
* :func:`causal_lm_shift` + :func:`token_loss`: GPT's next-token prediction;
* :func:`sequence_loss`: a sequence-to-sequence target (the 2017 Transformer, T5), padding ignored;
* :func:`span_corrupt` / :func:`span_restore`: T5's span corruption with sentinel tokens;
* :func:`text_infill`: BART's text infilling (each span becomes a single ``<mask>``).

Labels use :data:`~transformer_lib.data.tokens.IGNORE` (-100) at positions that do not count in the loss,
the library's one ignore index; :func:`token_loss` is the one loss that reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .._validate import check_rank, check_token_ids, shape_str
from ..data.tokens import IGNORE, PAD


def mask_tokens(
    ids: torch.Tensor,
    maskable: torch.Tensor,
    mask_id: int,
    random_ids: tuple[int, int],
    mask_prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: choose ``mask_prob`` of the maskable positions as prediction targets, then
    replace 80% of them with ``<mask>``, 10% with a random token and leave 10% unchanged.

    The random and unchanged 10% keep the model from learning that only ``<mask>`` positions matter
    (at fine-tuning time there is no ``<mask>``). Every sequence with a maskable position gets at least
    one target, so no batch has an empty loss.

    Args:
        ids: ``(batch, seq)`` token ids.
        maskable: ``(batch, seq)`` boolean, True where a token may be chosen (not padding or specials).
        mask_id: id of ``<mask>``.
        random_ids: ``(low, high)``: random replacements are drawn from ``low <= id < high``.
        mask_prob: fraction of maskable positions to predict (0.15 in BERT).
        generator: for reproducible masks.

    Returns:
        ``(inputs, labels)``, both ``(batch, seq)``: the corrupted ids, and the original id at chosen
        positions, :data:`IGNORE` elsewhere.
    """
    check_token_ids("ids", ids)
    if maskable.shape != ids.shape or maskable.dtype != torch.bool:
        raise ValueError(
            f"maskable must be a boolean tensor of the shape of ids {shape_str(ids)}, "
            f"got {maskable.dtype} {shape_str(maskable)}"
        )
    if not 0.0 < mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob}")
    u = torch.rand(ids.shape, generator=generator).to(ids.device)
    u = u.masked_fill(~maskable, 2.0)  # never chosen
    chosen = u < mask_prob
    # At least one target per sequence: the maskable position with the smallest draw.
    first = F.one_hot(u.argmin(dim=1), ids.shape[1]).bool() & maskable
    chosen |= first & ~chosen.any(dim=1, keepdim=True)

    labels = ids.masked_fill(~chosen, IGNORE)
    action = torch.rand(ids.shape, generator=generator).to(ids.device)  # which of 80/10/10
    random_tokens = torch.randint(*random_ids, ids.shape, generator=generator).to(ids.device)
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = mask_id
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = random_tokens[swap]
    return inputs, labels


def token_loss(logits: torch.Tensor, labels: torch.Tensor, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not :data:`IGNORE`.

    The loss of every objective: masked language modelling (labels from :func:`mask_tokens`),
    next-token prediction (from :func:`causal_lm_shift`) and sequence-to-sequence targets
    (:func:`sequence_loss`).

    Args:
        logits: ``(batch, seq, vocab)``.
        labels: ``(batch, seq)`` token ids, :data:`IGNORE` where a position does not count.
        label_smoothing: ``eps`` in [0, 1]: the target of each position puts ``1 - eps`` on its label
            and spreads ``eps`` evenly over the whole vocabulary (Szegedy et al., 2016; the Transformer
            paper used 0.1). The model is no longer pushed to infinite confidence.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    check_rank("logits", logits, 3, "(batch, seq, vocab)")
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels must have shape (batch, seq) = {tuple(logits.shape[:2])}, got {shape_str(labels)}")
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE, label_smoothing=label_smoothing)


def sequence_loss(
    logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = PAD, *, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` ``(batch, seq_t, vocab)`` against the targets ``tgt_out``
    ``(batch, seq_t)``, over the non-padding positions only: :func:`token_loss` with padding ignored
    (and its ``label_smoothing``)."""
    check_token_ids("tgt_out", tgt_out, "(batch, seq_t)")
    check_rank("logits", logits, 3, "(batch, seq_t, vocab)")
    if logits.shape[:2] != tgt_out.shape:
        raise ValueError(
            f"tgt_out must have shape (batch, seq_t) = {tuple(logits.shape[:2])}, got {shape_str(tgt_out)}"
        )
    return token_loss(logits, tgt_out.masked_fill(tgt_out == pad_id, IGNORE), label_smoothing=label_smoothing)


def causal_lm_shift(ids: torch.Tensor, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of next-token prediction: the target at position t is the token at t + 1.

    Args:
        ids: ``(batch, seq)``, e.g. ``<bos> w1 ... wn <eos> <pad> ...``.
        pad_id: padding id; padded targets become :data:`IGNORE`.

    Returns:
        ``(inputs, targets)``, both ``(batch, seq - 1)``.
    """
    check_token_ids("ids", ids)
    if ids.shape[1] < 2:
        raise ValueError(f"ids needs at least 2 positions to shift, got {shape_str(ids)}")
    targets = ids[:, 1:].masked_fill(ids[:, 1:] == pad_id, IGNORE)
    return ids[:, :-1], targets


def random_spans(
    length: int, noise_density: float = 0.15, mean_span_length: float = 3.0, generator: torch.Generator | None = None
) -> list[tuple[int, int]]:
    """Choose non-adjacent spans covering about ``noise_density`` of ``length`` positions, as T5 does.

    The number of noise tokens is ``round(length * noise_density)`` (at least 1) and the number of
    spans ``round(noise / mean_span_length)`` (at least 1); both the noise and the kept tokens are cut
    into random pieces that interleave. Returns ``[(start, end), ...]`` half-open and sorted.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    if not 0.0 < noise_density < 1.0 or mean_span_length < 1:
        raise ValueError(
            f"need 0 < noise_density < 1 and mean_span_length >= 1, got {noise_density}, {mean_span_length}"
        )
    noise = min(max(1, round(length * noise_density)), length)
    keep = length - noise
    spans = min(max(1, round(noise / mean_span_length)), noise, keep + 1)

    def pieces(total: int, parts: int) -> list[int]:  # ``parts`` positive sizes summing to ``total``
        cuts = sorted((torch.randperm(total - 1, generator=generator)[: parts - 1] + 1).tolist())
        return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]

    noise_sizes = pieces(noise, spans)
    keep_sizes = pieces(keep + 2, spans + 1)  # first and last kept pieces may be empty
    keep_sizes[0] -= 1
    keep_sizes[-1] -= 1
    out, pos = [], 0
    for kept, size in zip(keep_sizes, noise_sizes, strict=False):
        pos += kept
        out.append((pos, pos + size))
        pos += size
    return out


def span_corrupt(
    ids: Sequence[int],
    sentinel_ids: Sequence[int],
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[list[int], list[int]]:
    """T5's span corruption of one sequence.

    Each chosen span is replaced in the input by the next sentinel; the target lists each sentinel
    followed by the tokens it hides::

        ids:    the cat eats a small seed .
        input:  the cat <X0> small seed <X1>
        target: <X0> eats a <X1> .

    Returns:
        ``(input_ids, target_ids)`` as lists (add ``<eos>`` and pad them for a batch).
    """
    ids = list(ids)
    spans = random_spans(len(ids), noise_density, mean_span_length, generator)
    if len(spans) > len(sentinel_ids):
        raise ValueError(f"{len(spans)} spans need as many sentinels, got sentinel_ids of length {len(sentinel_ids)}")
    inputs, targets, pos = [], [], 0
    for sentinel, (start, end) in zip(sentinel_ids, spans, strict=False):
        inputs += [*ids[pos:start], sentinel]
        targets += [sentinel, *ids[start:end]]
        pos = end
    return inputs + ids[pos:], targets


def span_restore(inputs: Sequence[int], targets: Sequence[int], sentinel_ids: Sequence[int]) -> list[int]:
    """Undo :func:`span_corrupt`: put each sentinel's tokens from ``targets`` back into ``inputs``.

    A sentinel missing from ``targets`` (e.g. a generation that stopped early) restores nothing.
    """
    sentinels = set(sentinel_ids)
    fills: dict[int, list[int]] = {}
    current = None
    for tok in targets:
        if tok in sentinels:
            current = fills.setdefault(tok, [])
        elif current is not None:
            current.append(tok)
    out: list[int] = []
    for tok in inputs:
        out += fills.get(tok, []) if tok in sentinels else [tok]
    return out


def text_infill(
    ids: Sequence[int],
    mask_id: int,
    noise_density: float = 0.3,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[list[int], list[int]]:
    """BART's text infilling: each span becomes one ``<mask>`` (so the model must also guess its
    length) and the target is the whole original sequence. Returns ``(input_ids, target_ids)``."""
    ids = list(ids)
    inputs, pos = [], 0
    for start, end in random_spans(len(ids), noise_density, mean_span_length, generator):
        inputs += [*ids[pos:start], mask_id]
        pos = end
    return inputs + ids[pos:], ids
