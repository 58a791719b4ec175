"""Real English text without a download: the Python documentation that every Python ships.

``pydoc_data.topics`` (the standard library's copy of the language reference, which ``help("if")``
prints) holds about 80 topics and 465,000 characters of prose and code examples. This module splits
them into training and validation topics, trains a byte-pair-encoding tokenizer on the training topics
with Hugging Face ``tokenizers`` (locally; nothing is fetched), and cuts the encoded text into
training windows. The text follows the Python version that runs it (3.11 for the book's outputs).
"""

from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from .tokens import EOS, SPECIALS


def topics() -> dict[str, str]:
    """``{topic name: text}``, sorted by name (``"assert"``, ``"assignment"``, ...)."""
    from pydoc_data.topics import topics as table

    return {name: table[name] for name in sorted(table)}


def split_topics(valid_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts of the training topics and of the validation topics (in the order of :func:`topics`):
    whole topics are held out, so the validation text is prose the model has never seen, not other
    sentences of the same page."""
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be between 0 and 1, got {valid_fraction}")
    # some topics share one text ("if" and "else" in Python 3.11): keep each text once, or the
    # validation text could also be training text
    texts = list(dict.fromkeys(topics().values()))
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_valid = max(1, round(valid_fraction * len(texts)))
    valid = sorted(order[:n_valid])
    train = sorted(order[n_valid:])
    return [texts[i] for i in train], [texts[i] for i in valid]


def train_tokenizer(texts: list[str], vocab_size: int = 1024) -> Tokenizer:
    """A byte-level BPE tokenizer (Sennrich et al., 2016; GPT-2's byte-level variant) trained on ``texts``.

    It starts from the 256 bytes, so every text can be encoded (no unknown tokens), and merges the most
    frequent adjacent pair until it has ``vocab_size`` tokens, the first five being the special tokens
    ``<pad> <bos> <eos> <unk> <mask>`` (ids 0..4). Training is deterministic and takes well under a second.
    """
    if vocab_size < len(SPECIALS) + 256:
        raise ValueError(f"vocab_size must hold the 5 special tokens and the 256 bytes, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def encode_texts(tokenizer: Tokenizer, texts: list[str]) -> torch.Tensor:
    """All ``texts`` as one ``(n,)`` tensor of ids, each text followed by ``<eos>``."""
    ids: list[int] = []
    for encoding in tokenizer.encode_batch(texts):
        ids += [*encoding.ids, EOS]
    return torch.tensor(ids, dtype=torch.long)


def random_windows(
    ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` windows of ``seq_len + 1`` consecutive ids at random offsets of ``ids`` (``(n,)``):
    ``(inputs, targets)``, both ``(batch_size, seq_len)``, targets shifted by one position."""
    if ids.dim() != 1 or len(ids) <= seq_len:
        raise ValueError(f"ids must be a 1-D tensor longer than seq_len={seq_len}, got shape {tuple(ids.shape)}")
    starts = torch.randint(len(ids) - seq_len, (batch_size,), generator=generator)
    # (batch_size, seq_len + 1)
    windows = ids[starts[:, None] + torch.arange(seq_len + 1)]
    return windows[:, :-1], windows[:, 1:]
