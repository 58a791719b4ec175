"""Where tensors live and how runs repeat: the device picker, the seed and seeded generators."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def get_device() -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    Set the environment variable ``TRANSFORMER_LIB_DEVICE`` (for example to ``cpu``) to override
    the choice, which is how the book's tests pin the CPU on a machine that has a GPU.
    """
    forced = os.environ.get("TRANSFORMER_LIB_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def shift_seed(seed: int) -> int:
    """``seed`` plus the offset in the environment variable ``TRANSFORMER_LIB_SEED_OFFSET`` (default 0).

    Every seed the library and the chapters use goes through here, so ``make robust`` can re-run the
    whole book with other random draws (initial weights, data, batches, samples) and prove that no
    claim depends on the recorded run's luck.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    offset = os.environ.get("TRANSFORMER_LIB_SEED_OFFSET", "0")
    try:
        return seed + int(offset)
    except ValueError:
        raise ValueError(f"TRANSFORMER_LIB_SEED_OFFSET must be an integer, got {offset!r}") from None


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (every device) with ``seed`` (see :func:`shift_seed`)."""
    seed = shift_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (see :func:`shift_seed`): a stream of random
    draws of its own, which no other cell's draws can shift."""
    return torch.Generator().manual_seed(shift_seed(seed))
