"""Small generated sequence-to-sequence tasks: copy, reverse or sort a sequence of digits.

Nothing is downloaded: every batch is drawn from a seeded ``torch.Generator``, so the same seed gives
the same batches on every machine.

Token ids: ``PAD = 0``, ``BOS = 1`` (begin of sequence), ``EOS = 2`` (end of sequence), the first
three of the library's special tokens (:mod:`transformer_lib.data.tokens`), then the digits, digit ``d``
having id ``d + 3``. A batch holds

* ``src``: ``(batch, seq_s)`` the digits, padded with ``PAD`` on the right;
* ``tgt_in``: ``(batch, seq_t)`` ``BOS`` followed by the target digits (what the decoder reads);
* ``tgt_out``: ``(batch, seq_t)`` the target digits followed by ``EOS`` (what it must predict), so
  ``tgt_out[:, t]`` is the token that follows ``tgt_in[:, :t + 1]``;
* ``src_padding_mask`` and ``tgt_padding_mask``: boolean, **True at real tokens** (the library's mask
  convention: True = may be attended to), ``False`` at padding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

from ..device import generator
from .tokens import BOS, EOS, PAD

NUM_SPECIAL = 3  # PAD, BOS, EOS: a digit task needs no unknown or mask token

TASKS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "copy": lambda digits: digits,
    "reverse": lambda digits: digits.flip(0),
    "sort": lambda digits: digits.sort().values,
}


@dataclass
class Batch:
    """One batch of a toy task (see the module docstring for the layout)."""

    src: torch.Tensor  # (batch, seq_s) long
    tgt_in: torch.Tensor  # (batch, seq_t) long, starts with BOS
    tgt_out: torch.Tensor  # (batch, seq_t) long, ends with EOS then PAD
    src_padding_mask: torch.Tensor  # (batch, seq_s) bool, True at real tokens
    tgt_padding_mask: torch.Tensor  # (batch, seq_t) bool, True at real tokens

    def to(self, device: torch.device | str) -> Batch:
        """The same batch with every tensor on ``device``."""
        return Batch(*(getattr(self, f.name).to(device) for f in fields(self)))


class ToyTask:
    """A generated copy / reverse / sort task over digit sequences of varying length.

    Args:
        task: ``"copy"``, ``"reverse"`` or ``"sort"``.
        num_digits: the digits are ``0 .. num_digits - 1`` (ids ``3 .. num_digits + 2``).
        shortest, longest: each sequence has a number of digits drawn uniformly in ``[shortest, longest]``
            (its source has that many tokens, its ``tgt_in`` and ``tgt_out`` one more).
        seed: seeds the task's own ``torch.Generator``; :meth:`batch` draws from it in turn.
    """

    def __init__(self, task: str = "reverse", num_digits: int = 10, shortest: int = 3, longest: int = 8, seed: int = 0):
        if task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
        if num_digits < 2:
            raise ValueError(f"num_digits must be at least 2, got {num_digits}")
        if not 1 <= shortest <= longest:
            raise ValueError(f"need 1 <= shortest <= longest, got shortest={shortest} and longest={longest}")
        self.task, self.num_digits, self.shortest, self.longest = task, num_digits, shortest, longest
        self.transform = TASKS[task]
        self.generator = generator(seed)

    @property
    def vocab_size(self) -> int:
        """Number of token ids: the three special ones plus the digits."""
        return NUM_SPECIAL + self.num_digits

    def batch(self, batch_size: int) -> Batch:
        """Draw ``batch_size`` random sequences and their targets (on the CPU)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        g = self.generator
        lengths = torch.randint(self.shortest, self.longest + 1, (batch_size,), generator=g)
        digits = [torch.randint(0, self.num_digits, (int(n),), generator=g) for n in lengths]
        return self.make_batch(digits)

    def unseen(self, n: int, exclude: set[tuple[int, ...]], chunk: int = 100) -> Batch:
        """A held-out batch: the first ``n`` sequences this task draws that are not in ``exclude``.

        ``exclude`` holds digit tuples, e.g. ``set(digit_tuples(src))`` over the training batches'
        sources: drawing with another seed is not enough, since short sequences recur. Draws ``n``
        sequences, then ``chunk`` at a time, until ``n`` are kept; the batch is on the CPU.
        """
        if n < 1 or chunk < 1:
            raise ValueError(f"n and chunk must be at least 1, got n={n} and chunk={chunk}")
        possible = sum(self.num_digits**length for length in range(self.shortest, self.longest + 1))
        if len(exclude) + n > possible:
            raise ValueError(f"n={n}: only {possible - len(exclude)} sequences are not in exclude at most")
        kept, draw = [], n
        while len(kept) < n:
            kept += [s for s in digit_tuples(self.batch(draw).src) if s not in exclude]
            draw = chunk
        return self.make_batch(kept[:n])

    def make_batch(self, sequences: Sequence[Sequence[int] | torch.Tensor]) -> Batch:
        """Build a batch from given digit sequences, e.g. ``task.make_batch([[3, 1, 4], [1, 5]])``."""
        if len(sequences) == 0:
            raise ValueError("sequences must hold at least one sequence, got an empty list")
        digits = [torch.as_tensor(s, dtype=torch.long) for s in sequences]
        for i, d in enumerate(digits):
            if d.dim() != 1 or len(d) == 0:
                raise ValueError(f"sequences[{i}] must be a non-empty 1-D list of digits, got shape {tuple(d.shape)}")
            if d.min() < 0 or d.max() >= self.num_digits:
                raise ValueError(f"sequences[{i}] must hold digits in [0, {self.num_digits}), got {d.tolist()}")
        longest = max(len(d) for d in digits)
        src = torch.full((len(digits), longest), PAD)
        tgt_in = torch.full((len(digits), longest + 1), PAD)
        tgt_out = torch.full((len(digits), longest + 1), PAD)
        for i, d in enumerate(digits):
            ids, target = d + NUM_SPECIAL, self.transform(d) + NUM_SPECIAL
            n = len(d)
            src[i, :n] = ids
            tgt_in[i, 0], tgt_in[i, 1 : n + 1] = BOS, target
            tgt_out[i, :n], tgt_out[i, n] = target, EOS
        return Batch(src, tgt_in, tgt_out, src != PAD, tgt_in != PAD)


def token_names(ids: torch.Tensor | Sequence[int]) -> list[str]:
    """Readable names of token ids: ``PAD``, ``BOS``, ``EOS`` or the digit, e.g. for plot labels."""
    special = {PAD: "PAD", BOS: "BOS", EOS: "EOS"}
    return [special.get(int(i), str(int(i) - NUM_SPECIAL)) for i in ids]


def to_digits(ids: torch.Tensor | Sequence[int]) -> list[int]:
    """The digits of one sequence of ids: skips ``BOS`` and ``PAD``, stops at the first ``EOS``."""
    out = []
    for i in (int(i) for i in ids):
        if i == EOS:
            break
        if i >= NUM_SPECIAL:
            out.append(i - NUM_SPECIAL)
    return out


def digit_tuples(src: torch.Tensor) -> list[tuple[int, ...]]:
    """Each row of a ``(batch, seq_s)`` source as the tuple of its digits (padding dropped), e.g. to
    collect the sequences a model trained on."""
    return [tuple(to_digits(row)) for row in src.tolist()]
