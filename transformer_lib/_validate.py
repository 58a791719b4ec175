"""Input checks shared by the library: a wrong shape gets a sentence, not a broadcasting accident.

The public entry points of ``transformer_lib`` (the functions and the ``forward`` of the modules a
reader calls) check their inputs with these once, at the door, before they compute anything, so that
a student who passes a tensor of the wrong rank or dtype reads which argument was wrong, what was
expected and what was received. Internal calls between the library's own modules, whose inputs the
door has checked, go unchecked: through kernels without checks (e.g.
:func:`~transformer_lib.nn.attention.attention_with_weights`), or with ``checked=True``, which every
module's ``forward`` takes to mean "my caller has checked these inputs". A model's forward therefore
costs a few checks, however deep the model, and generation checks the prompt once, never the ids
the model writes itself.

Checks of shapes and dtypes are Python comparisons of metadata: they cost nothing on the device and
``torch.compile`` evaluates them while it traces. The one check that reads values,
:func:`check_id_range`, steps aside where values cannot be read (see :func:`can_read_values`).
"""

from __future__ import annotations

import torch


def shape_str(t: torch.Tensor) -> str:
    """Format a tensor's shape as ``(2, 3, 4)``."""
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_tensor(name: str, t: object) -> torch.Tensor:
    """Raise ``ValueError`` unless ``t`` is a tensor."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    return t


def check_rank(name: str, t: torch.Tensor, ranks: int | tuple[int, ...], layout: str) -> None:
    """Raise ``ValueError`` unless ``t.dim()`` is one of ``ranks``.

    ``layout`` names the expected axes for the message, e.g. ``"(batch, seq, d_model)"``.
    """
    check_tensor(name, t)
    allowed = (ranks,) if isinstance(ranks, int) else ranks
    if t.dim() not in allowed:
        raise ValueError(
            f"{name} must have shape {layout} ({' or '.join(map(str, allowed))} dimensions), "
            f"got shape {shape_str(t)} with {t.dim()} dimensions"
        )


def check_last_dim(name: str, t: torch.Tensor, size: int, layout: str) -> None:
    """Raise ``ValueError`` unless the last axis of ``t`` has ``size`` entries."""
    if t.shape[-1] != size:
        raise ValueError(f"{name} must have shape {layout} with last dimension {size}, got shape {shape_str(t)}")


def check_floating(name: str, t: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``t`` holds floating-point numbers."""
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape (e.g. a residual addition)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {name_a} {shape_str(a)} and {name_b} {shape_str(b)}"
        )


def check_same_dtype(name: str, t: torch.Tensor, other_name: str, other: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``t`` has the dtype of ``other`` (a module's weights, say).

    Under ``torch.autocast`` mixed dtypes are the point (autocast casts them per operation): no check.
    """
    if t.dtype != other.dtype and not torch.is_autocast_enabled(t.device.type):
        raise ValueError(
            f"{name} has dtype {t.dtype} but {other_name} have dtype {other.dtype}; convert one of them, "
            f"e.g. {name}.to({other.dtype}) or module.to({t.dtype})"
        )


def check_token_ids(name: str, ids: object, layout: str = "(batch, seq)") -> None:
    """Raise ``ValueError`` unless ``ids`` is a 2-D integer tensor of token ids (not float, not bool)."""
    check_rank(name, ids, 2, layout)
    if ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")


def can_read_values(t: torch.Tensor) -> bool:
    """Whether a check may read ``t``'s values: not while ``torch.compile`` traces (a Python ``if`` on a
    value would break the graph, ``fullgraph=True`` would fail) and not on the meta device (a meta
    tensor has a shape but no values)."""
    return not torch.compiler.is_compiling() and t.device.type != "meta"


def check_id_range(name: str, ids: torch.Tensor, vocab_size: int) -> None:
    """Raise ``ValueError`` unless every id lies in ``[0, vocab_size)``, naming the first one that does not.

    An id outside the table would make ``nn.Embedding`` fail inside its kernel; on a GPU that is a
    device-side assert which leaves the CUDA context unusable until the runtime restarts. The check costs
    one reduction over ``ids`` (on a GPU, one wait for its result), once per call of a model.

    It is skipped while ``torch.compile`` traces and on the meta device (:func:`can_read_values`): a
    compiled model is not checked against its vocabulary, so check ids in eager mode before handing
    them to one (``check_id_range("ids", ids, vocab_size)``).
    """
    if ids.numel() == 0 or not can_read_values(ids):
        return
    low, high = torch.aminmax(ids)
    if low >= 0 and high < vocab_size:
        return
    bad = ((ids < 0) | (ids >= vocab_size)).nonzero()[0]
    raise ValueError(
        f"{name} must hold token ids in [0, {vocab_size}) (vocab_size={vocab_size}), got {int(ids[tuple(bad)])} "
        f"at position {tuple(bad.tolist())}"
    )


def check_bool_mask(name: str, mask: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``mask`` is boolean (True = may attend)."""
    check_tensor(name, mask)
    if mask.dtype != torch.bool:
        raise ValueError(
            f"{name} must be a boolean tensor where True means 'may attend', got dtype {mask.dtype}; "
            "convert 0/1 masks with mask.bool() and additive masks with mask == 0"
        )


def check_padding_mask(name: str, mask: torch.Tensor | None, ids: torch.Tensor, layout: str) -> None:
    """Raise ``ValueError`` unless ``mask`` is ``None`` or a boolean mask of ``ids``' shape ``layout``."""
    if mask is None:
        return
    check_bool_mask(name, mask)
    if mask.shape != ids.shape:
        raise ValueError(f"{name} must have shape {layout} = {tuple(ids.shape)}, got {shape_str(mask)}")


def check_broadcastable(name: str, mask: torch.Tensor, target: tuple[int, ...], layout: str) -> None:
    """Raise ``ValueError`` unless ``mask`` broadcasts to ``target`` without adding axes in front.

    Broadcasting that silently prepends axes is how a (seq_q, seq_k) mask meant for one sequence
    ends up applied to the wrong batch element, so ``mask`` may have at most ``len(target)`` axes
    and each of its axes must be 1 or equal to the target's.
    """
    ok = mask.dim() <= len(target) and all(
        m in (1, t) for m, t in zip(reversed(mask.shape), reversed(target), strict=False)
    )
    if not ok:
        raise ValueError(f"{name} must broadcast to {layout} = {tuple(target)}, got shape {shape_str(mask)}")


def check_caches(caches: object, layers: int) -> None:
    """Raise unless ``caches`` is ``None`` or the ``Caches`` of a model's ``new_caches()``, one
    ``KVCache`` per layer."""
    if caches is None:
        return
    if not hasattr(caches, "seq_len"):
        raise TypeError(f"caches must be the Caches a model's new_caches() returns, got {type(caches).__name__}")
    if len(caches) != layers:
        raise ValueError(f"caches must hold one KVCache per layer ({layers}), got {len(caches)}")


def check_positions(name: str, seq: int, start: int, max_len: int) -> None:
    """Raise ``ValueError`` unless positions ``start .. start + seq - 1`` lie in ``[0, max_len)``."""
    if start < 0 or start + seq > max_len:
        raise ValueError(
            f"{name} has {seq} positions starting at position {start}, more than max_len={max_len} allows "
            f"(positions 0..{max_len - 1})"
        )


def check_input_ids(name: str, ids: object, vocab_size: int, start: int, max_len: int) -> None:
    """The checks of ids entering a model's embedding: a ``(batch, seq)`` integer tensor, positions
    ``start .. start + seq - 1`` within ``max_len``, every id in ``[0, vocab_size)`` (before any kernel
    sees it)."""
    check_token_ids(name, ids)
    check_positions(name, ids.shape[1], start, max_len)
    check_id_range(name, ids, vocab_size)
