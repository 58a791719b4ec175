"""Measuring what a layer costs: wall-clock time, the memory saved for backward, log-log slopes.

Used by the chapter "What attention costs" and by ``benchmarks/attention_cost.py``.

* :func:`median_seconds` times a function (median of repeats, after warm-up; it waits for CUDA).
* :func:`saved_tensor_bytes` counts the bytes autograd keeps for the backward pass: a deterministic
  measure of training memory that does not depend on the allocator or on other processes.
* :func:`loglog_slope` fits ``log y = slope * log x + c``: cost growing like ``n^p`` has slope ``p``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls.

    On a shared, noisy machine the median is far more stable than the mean or the minimum of a few
    runs. CUDA work is asynchronous, so the clock is read only after the GPU has finished.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _synchronize()
        start = time.perf_counter()
        fn()
        _synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def saved_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Bytes of every tensor autograd saves for the backward pass while ``fn()`` runs.

    Call it on a forward pass whose inputs require grad. A tensor saved twice is counted twice (an
    upper bound on what is kept alive). The count depends only on the computation, not on the machine.
    """
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``log(ys)`` against ``log(xs)``: ``p`` when ``y`` grows like ``x^p``.

    Args:
        xs, ys: positive numbers, at least two, the same count.
    """
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"xs and ys must have the same length >= 2, got {len(xs)} and {len(ys)}")
    if min(xs) <= 0 or min(ys) <= 0:
        raise ValueError("xs and ys must be positive to take logarithms")
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError("xs must not all be equal")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx
