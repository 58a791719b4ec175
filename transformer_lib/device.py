"""Where tensors live and how runs repeat: the device picker and the seed."""

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


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (every device) with ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
