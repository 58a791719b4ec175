import os
import platform
from pathlib import Path

import matplotlib
import pytest
import torch
from nbval import kernel as nbval_kernel

from tests.kernels import unix_socket_manager
from transformer_lib.tools import numerics

matplotlib.use("Agg")

# Notebook kernels inherit this process's environment, so the canonical numeric settings are set here
# as well as in the Makefile: a plain `pytest` compares like with like. `make robust` (native numerics)
# opts out with TRANSFORMER_LIB_NUMERICS=native.
NATIVE = os.environ.get("TRANSFORMER_LIB_NUMERICS") == "native"
if not NATIVE:
    os.environ.update(numerics.canonical_settings())

# Triton decides when it is first imported whether its kernels are compiled or interpreted, and
# torch.compile may import it before tests/test_flash.py does: without a GPU to compile for, the
# interpreter (which runs kernels on the CPU) is switched on before any test runs.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


ROOT = Path(__file__).resolve().parent

# Kernels and subprocesses import this clone's transformer_lib, whichever clone the environment's
# editable install points to: a kernel runs in book/, where only the installed copy would be found.
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

# What the chapters' kernels get on top of this process's environment (filled in pytest_configure).
KERNEL_ENVIRON: dict[str, str] = {}

# nbval's kernels over Unix sockets: see tests/kernels.py for the race this avoids.
nbval_kernel.KernelManager = unix_socket_manager(nbval_kernel.KernelManager, KERNEL_ENVIRON)


def pytest_configure(config):
    # Bit-for-bit holds only where the canonical settings pin every kernel (x86-64 Linux). Elsewhere
    # every chapter still runs top to bottom, with its assertions and strict exercise checks: strict in
    # the chapters' kernels only, since the unit tests expect a failing check to print its hint.
    if getattr(config.option, "nbval", False) and not numerics.exact_platform():
        config.option.nbval_lax = True
        KERNEL_ENVIRON["TRANSFORMER_LIB_STRICT_CHECKS"] = "1"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test`'s `--dist loadfile` hands out the longest files first (tests/schedule.py says why)."""
    if config.getvalue("dist") == "loadfile":
        from tests.schedule import LongestFirst

        return LongestFirst(config, log)
    return None


def pytest_report_header(config):
    if numerics.exact_platform():
        mode = "native numerics" if NATIVE else "canonical numerics (transformer_lib/numerics.env)"
        return f"notebook outputs: compared bit for bit on x86-64 Linux, {mode}"
    return (
        f"notebook outputs: NOT compared on {platform.system()} {platform.machine()} (bit for bit holds on "
        "x86-64 Linux only); every chapter is executed and its assertions and exercise checks must pass"
    )
