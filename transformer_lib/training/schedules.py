"""Learning-rate schedules: the learning rate as a function of the step.

A schedule is a function ``schedule(step) -> float`` of the 1-based optimizer step;
:func:`~transformer_lib.training.train` multiplies its ``lr`` by it (``lr=1.0`` uses the schedule's
values as they are).
"""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_schedule(d_model: int, warmup: int) -> Callable[[int], float]:
    r"""The schedule of Vaswani et al. (2017), section 5.3:

    ``lr(step) = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)``

    It rises linearly for ``warmup`` steps, peaks at ``(d_model * warmup)^-0.5`` at step ``warmup``,
    then decays as ``1 / sqrt(step)``. The paper used ``d_model=512, warmup=4000`` with Adam's
    ``betas=(0.9, 0.98)`` and ``eps=1e-9``. Early on Adam's second-moment estimates are unreliable and
    a post-norm Transformer diverges easily: the warm-up keeps the first updates small.
    """
    if d_model < 1 or warmup < 1:
        raise ValueError(f"d_model and warmup must be >= 1, got d_model={d_model} and warmup={warmup}")

    def schedule(step: int) -> float:
        if step < 1:
            raise ValueError(f"step counts from 1, got {step}")
        return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)

    return schedule


def warmup_cosine(peak: float, warmup: int, steps: int) -> Callable[[int], float]:
    """Chapter 8's schedule for a run of ``steps`` steps: a linear warm-up to ``peak`` over the first
    ``warmup`` steps, then a cosine decay towards 0. Use it with ``train(..., lr=1.0)``.

    Step ``s`` (1-based) gets ``peak * s / warmup`` during the warm-up and
    ``peak * (1 + cos(pi * p)) / 2`` after it, where ``p = (s - 1 - warmup) / (steps - warmup)`` goes
    from 0 at step ``warmup + 1`` to just under 1 at the last step.
    """
    if not 0 <= warmup < steps:
        raise ValueError(f"need 0 <= warmup < steps, got warmup={warmup} and steps={steps}")

    def schedule(step: int) -> float:
        if step < 1:
            raise ValueError(f"step counts from 1, got {step}")
        if step <= warmup:
            return peak * step / warmup
        progress = (step - 1 - warmup) / (steps - warmup)
        return peak * 0.5 * (1 + math.cos(math.pi * progress))

    return schedule
