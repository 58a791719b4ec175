"""Learning-rate schedules: the learning rate as a function of the step.

A schedule is a function ``schedule(step) -> float`` of the 1-based optimizer step;
:func:`~transformer_lib.training.train` multiplies its ``lr`` by it (``lr=1.0`` uses the schedule's
values as they are).
"""

from __future__ import annotations

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
