"""Auto-checks for exercises: run a student's answer against the reference and say what differs.

A check never raises at the student. It returns a :class:`CheckResult`, which a notebook displays
as one line: a pass, or a hint naming the case, the shape, the dtype or the entry that differs.
``bool(result)`` tells a script or a test whether it passed.

With the environment variable ``TRANSFORMER_LIB_STRICT_CHECKS=1`` (set by ``make robust``, which runs
every chapter with its reference solutions) a failed check raises ``AssertionError`` instead, so a
check that would tell a correct answer it is wrong stops the run.

The graded copies of the course (``make course``, ``transformer_lib.tools.grading``) also set
``TRANSFORMER_LIB_GRADED=1``: a failed check then says what is wrong with the answer (its value, shape
or dtype) but not the expected value, which a student would otherwise copy into the next try.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..device import generator

PASS, FAIL = "\u2705", "\u274c"
# Set on the copy of this module that the graded copies' hidden tests load (grading.fresh_checks):
# strict whatever the environment says, and each message says that a hidden test wrote it.
ALWAYS_STRICT = False
LABEL = ""


def _strict() -> bool:
    return ALWAYS_STRICT or os.environ.get("TRANSFORMER_LIB_STRICT_CHECKS") == "1"


def _graded() -> bool:
    return ALWAYS_STRICT or os.environ.get("TRANSFORMER_LIB_GRADED") == "1"


def _expected(text: str) -> str:
    """``text`` (", expected 3" and the like), or nothing in a graded copy."""
    return "" if _graded() else text


@dataclass(frozen=True)
class CheckResult:
    """Outcome of a check: ``passed`` and the ``message`` a notebook shows."""

    passed: bool
    message: str

    def __post_init__(self) -> None:
        if LABEL:  # a frozen dataclass: the message is labelled through object.__setattr__
            object.__setattr__(self, "message", f"{self.message} ({LABEL})")
        if not self.passed and _strict():
            raise AssertionError(f"a check failed (TRANSFORMER_LIB_STRICT_CHECKS=1): {self.message}")

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return (
        f"{type(x).__name__} {x!r}" if not isinstance(x, (tuple, list)) else f"a {type(x).__name__} of length {len(x)}"
    )


def _compare(got: Any, expected: Any, atol: float, rtol: float, where: str = "") -> str | None:
    """Return None when ``got`` matches ``expected``, else a sentence saying how it differs."""
    label = f"output{where}"
    if isinstance(expected, torch.Tensor):
        if got is None:
            return f"{label} is None: did you forget to `return` the result?"
        if not isinstance(got, torch.Tensor):
            return f"{label} should be {_describe(expected)}, got {_describe(got)}"
        if got.shape != expected.shape:
            return f"{label} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.dtype != expected.dtype:
            hint = " (compare with == or use .bool())" if expected.dtype == torch.bool else ""
            return f"{label} has dtype {got.dtype}, expected {expected.dtype}{hint}"
        got_c, exp_c = got.detach().cpu(), expected.detach().cpu()
        if expected.dtype == torch.bool or not expected.is_floating_point():
            wrong = (got_c != exp_c).nonzero()
            if len(wrong):
                idx = tuple(wrong[0].tolist())
                return (
                    f"{label} differs in {len(wrong)} entries; first at index {idx}: "
                    f"got {got_c[idx].item()}" + _expected(f", expected {exp_c[idx].item()}")
                )
            return None
        if torch.isnan(got_c).any() and not torch.isnan(exp_c).any():
            idx = tuple(torch.isnan(got_c).nonzero()[0].tolist())
            return f"{label} contains NaN (first at index {idx}); the reference has none"
        if not torch.allclose(got_c, exp_c, atol=atol, rtol=rtol, equal_nan=True):
            diff = (got_c - exp_c).abs().nan_to_num(float("inf"))
            idx = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
            return (
                f"{label} values differ: largest difference {diff.max().item():.4g} at index {idx} "
                f"(got {got_c[idx].item():.4f}" + _expected(f", expected {exp_c[idx].item():.4f}") + ")"
            )
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{label} should be {_describe(expected)}, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = _compare(g, e, atol, rtol, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, float):
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"{label} should be a number" + _expected(f" close to {expected:.4g}") + f", got {_describe(got)}"
        if abs(got - expected) > atol + rtol * abs(expected):
            return f"{label} is {got:.6g}" + _expected(f", expected {expected:.6g}")
        return None
    if got != expected:
        return f"{label} is {got!r}" + _expected(f", expected {expected!r}")
    return None


def check_function(
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[str, tuple]],
    name: str | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> CheckResult:
    """Call ``fn`` and ``reference`` on every case and compare the results.

    Args:
        fn: the student's function.
        reference: the reference implementation.
        cases: ``(description, args)`` pairs; each ``args`` tuple is passed to both functions (the
            student's gets a deep copy, so an in-place edit cannot change the reference's input).
        name: how to call the function in messages (default: ``fn.__name__``).
        atol, rtol: tolerances for floating-point outputs (``torch.allclose``).
    """
    name = name or getattr(fn, "__name__", "your function")
    for description, args in cases:
        expected = reference(*copy.deepcopy(args))
        try:
            got = fn(*copy.deepcopy(args))
        except NotImplementedError:
            return CheckResult(
                False, f"{FAIL} {name}: not implemented yet; replace `raise NotImplementedError` with your code."
            )
        except Exception as err:  # the student sees the error as a hint, not a traceback
            return CheckResult(False, f"{FAIL} {name} raised {type(err).__name__} on the case '{description}': {err}")
        problem = _compare(got, expected, atol, rtol)
        if problem:
            return CheckResult(False, f"{FAIL} {name}, case '{description}': {problem}.")
    return CheckResult(True, f"{PASS} {name}: all {len(cases)} cases match the reference.")


def check_value(
    value: Any, expected: Any, name: str = "your answer", atol: float = 1e-4, rtol: float = 1e-4
) -> CheckResult:
    """Compare a computed value (tensor, number, tuple of them) with the expected one."""
    if value is None or value is ...:
        return CheckResult(False, f"{FAIL} {name}: no answer yet; assign your result to the variable.")
    problem = _compare(value, expected, atol, rtol)
    if problem:
        return CheckResult(False, f"{FAIL} {name}: {problem}.")
    return CheckResult(True, f"{PASS} {name}: correct.")


def random_cases(specs: Sequence[tuple[str, tuple[tuple[int, ...], ...]]], seed: int = 0) -> list[tuple[str, tuple]]:
    """Build check cases of random float tensors from shapes.

    ``random_cases([("2 queries, 3 keys", ((2, 4), (3, 4)))])`` gives one case whose arguments are
    a ``(2, 4)`` and a ``(3, 4)`` tensor drawn from a generator seeded with ``seed``.
    """
    g = generator(seed)
    return [(desc, tuple(torch.randn(*shape, generator=g) for shape in shapes)) for desc, shapes in specs]
