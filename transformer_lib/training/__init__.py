"""Training: the loop the chapters share (:func:`train`), its losses, schedules and distribution.

* ``loop``: :func:`train`, optimizer, gradient clipping, a progress bar and the losses it returns;
* ``objectives``: the losses of each pre-training objective (next token, masked tokens, spans);
* ``schedules``: the learning rate by step (warm-up, then decay);
* ``distributed``: processes, sharding and averaging for data-parallel training (chapter 12);
* ``train_gpt``: chapter 12's command-line trainer, ``python -m transformer_lib.training.train_gpt``
  (a program, not an API).
"""

from .loop import train

__all__ = ["train"]
