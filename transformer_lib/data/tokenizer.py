"""A tokenizer that needs no download: a fixed vocabulary of words (or characters) plus special tokens.

Text is split on whitespace (``level="word"``) or into characters (``level="char"``); every piece is
looked up in the vocabulary, unknown pieces become ``<unk>``. The special tokens come first, in the
library's one layout (:mod:`transformer_lib.data.tokens`), so their ids are the same for every vocabulary:

* ``<pad>`` (``PAD = 0``) fills sequences up to the length of the longest in a batch;
* ``<bos>`` (``BOS = 1``) begins a sequence (the decoder's start token; BERT's ``[CLS]`` plays this role);
* ``<eos>`` (``EOS = 2``) ends a sequence, so a model can learn when to stop generating;
* ``<unk>`` (``UNK = 3``) stands for a piece not in the vocabulary;
* ``<mask>`` (``MASK = 4``) replaces a hidden token in masked language modelling (BERT) and in BART's
  infilling;
* ``<X0>``, ``<X1>``, ... are the sentinels of T5's span corruption, one per hidden span.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from .tokens import BOS, EOS, MASK, PAD, SPECIALS, UNK


class Tokenizer:
    """Map text to integer ids and back.

    Args:
        vocab: the ordinary tokens (words or characters), without the special tokens.
        level: ``"word"`` (split on whitespace, join with spaces) or ``"char"``.
        num_sentinels: how many T5 sentinel tokens ``<X0>``, ``<X1>``, ... to add.
    """

    def __init__(self, vocab: Iterable[str], level: str = "word", num_sentinels: int = 8):
        if level not in ("word", "char"):
            raise ValueError(f"level must be 'word' or 'char', got {level!r}")
        if num_sentinels < 0:
            raise ValueError(f"num_sentinels must be >= 0, got {num_sentinels}")
        self.level = level
        sentinels = tuple(f"<X{i}>" for i in range(num_sentinels))
        words = [w for w in dict.fromkeys(vocab) if w not in SPECIALS and w not in sentinels]
        self.tokens: list[str] = [*SPECIALS, *sentinels, *words]
        self.ids: dict[str, int] = {tok: i for i, tok in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id = PAD, BOS, EOS, UNK, MASK
        self.sentinel_ids: list[int] = [self.ids[s] for s in sentinels]
        self.first_word_id = len(SPECIALS) + num_sentinels  # ids >= this are ordinary tokens

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def special_ids(self) -> list[int]:
        """Ids of every special token (padding, unknown, begin, end, mask and the sentinels)."""
        return list(range(self.first_word_id))

    def split(self, text: str) -> list[str]:
        return text.split() if self.level == "word" else list(text)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Text -> list of ids, optionally with ``<bos>`` in front and ``<eos>`` at the end."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        ids = [self.ids.get(piece, self.unk_id) for piece in self.split(text)]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special: bool = True) -> str:
        """Ids -> text. With ``skip_special`` padding, ``<bos>`` and ``<eos>`` are dropped (not ``<unk>``,
        ``<mask>`` or the sentinels, which carry meaning)."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids must be one sequence of shape (seq,), got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        skip = {self.pad_id, self.bos_id, self.eos_id} if skip_special else set()
        pieces = [self.tokens[i] for i in ids if i not in skip]
        return (" " if self.level == "word" else "").join(pieces)

    def pad(self, sequences: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
        """Right-pad lists of ids with ``<pad>`` into a ``(batch, length)`` long tensor.

        ``length`` defaults to the longest sequence; a longer sequence raises ``ValueError``.
        """
        longest = max((len(s) for s in sequences), default=0)
        length = longest if length is None else length
        if longest > length:
            raise ValueError(f"length must be at least the longest sequence ({longest}), got {length}")
        out = torch.full((len(sequences), length), self.pad_id, dtype=torch.long)
        for row, seq in enumerate(sequences):
            out[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        return out
