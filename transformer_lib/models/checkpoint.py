"""Save a model with its config and load it back, with ``torch.load(weights_only=True)``.

The file holds a plain dict: the config's fields (numbers, strings) and the ``state_dict`` (tensors),
which is all ``weights_only=True`` accepts: loading never runs pickled code.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn


def save_model(
    model: nn.Module, path: str | Path, *, state_dict: dict | None = None, extra: dict | None = None
) -> None:
    """Save ``model`` (any module with a dataclass ``config``) to ``path``.

    ``state_dict`` replaces ``model.state_dict()`` (a training script passes the full state it gathered
    from sharded processes); ``extra`` adds entries (an optimizer's state, a step), which must be
    tensors, numbers, strings or containers of them. The file is replaced whole, so a crash while
    writing never leaves half a checkpoint.
    """
    if not hasattr(model, "config"):
        raise ValueError(f"model must have a dataclass `config` attribute, got {type(model).__name__}")
    # The class that declares config_class: a wrapper that subclasses the model (FSDP's FSDPGPT) is
    # saved as the model it wraps, which load_model rebuilds.
    declaring = next((c for c in type(model).__mro__ if "config_class" in vars(c)), type(model))
    saved = {"model": declaring.__name__, "config": asdict(model.config)}
    saved |= {"state_dict": model.state_dict() if state_dict is None else state_dict, **(extra or {})}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(saved, tmp)
    os.replace(tmp, path)


def load_model(model_class: type[nn.Module], path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a ``model_class`` (e.g. ``GPT``) from a file written by :func:`save_model`, in eval mode."""
    if not hasattr(model_class, "config_class"):
        raise ValueError(f"model_class must have a config_class attribute (its config dataclass), got {model_class}")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(
            f"{path} is not a complete checkpoint written by save_model (a truncated or damaged file?): {err}"
        ) from err
    if not isinstance(saved, dict) or not {"model", "config", "state_dict"} <= saved.keys():
        raise ValueError(f"{path} is not a checkpoint written by save_model: it lacks model, config and state_dict")
    if saved["model"] != model_class.__name__:
        raise ValueError(f"the file holds a {saved['model']}, not a {model_class.__name__}")
    model = model_class(model_class.config_class(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model.eval()
