"""A small training loop the chapters share: optimizer, gradient clipping, a progress bar, losses."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt}{postfix}"


def train(
    model: nn.Module,
    next_batch: Callable[[int], Any],
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    steps: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    clip_norm: float | None = 1.0,
    progress: bool = True,
    desc: str = "training",
    schedule: Callable[[int], float] | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
) -> list[float]:
    """Train ``model`` with AdamW for ``steps`` steps and return the loss of every step.

    Args:
        model: the module to train; it is put in training mode, and back in eval mode at the end.
        next_batch: ``next_batch(step)`` returns the batch for that step (already on the device).
        loss_fn: ``loss_fn(model, batch)`` returns the scalar loss to minimise.
        steps: number of optimizer steps.
        lr, weight_decay, betas: AdamW's settings.
        clip_norm: clip the gradients' global norm to this value (``None``: no clipping).
        progress: show a progress bar (on stdout) with the running loss.
        desc: the progress bar's label.
        schedule: ``schedule(step)`` for the 1-based step, e.g.
            :func:`~transformer_lib.training.schedules.warmup_schedule`: step ``s`` uses ``lr * schedule(s)``.
            ``None``: ``lr`` at every step.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    params = list(model.parameters())
    # The fused kernel computes sqrt itself: the default path calls MKL's vector sqrt, which is not
    # correctly rounded and rounds differently on different CPUs (the book's outputs must not).
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, fused=fused)
    losses: list[float] = []
    model.train()
    # A text bar (live in a notebook); refreshed rarely, since the website shows every refresh as a line.
    # Without tqdm's times and speed: a notebook's stored output is the same on every machine.
    bar = tqdm(range(steps), desc=desc, disable=not progress, file=sys.stdout, mininterval=5.0, bar_format=BAR_FORMAT)
    for step in bar:
        loss = loss_fn(model, next_batch(step))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}; lower lr")
        if schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr * schedule(step + 1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        losses.append(loss.item())
        if step % 20 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    model.eval()
    return losses
