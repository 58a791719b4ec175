"""The canonical numeric settings under which the book's outputs are recorded, and the way out of them.

PyTorch, MKL, oneDNN, NumPy and OpenBLAS choose their float kernels from the CPU they run on, so the
same code prints different last digits on different machines. ``numerics.env`` (shipped in this
package, read by the Makefile) lists the environment variables that pin every one of those choices to
a path all x86-64 CPUs share. They act when a process starts, so they are set around a process (the
Makefile exports them), never from inside one.

* :func:`canonical_settings`: the variables and their values, from ``numerics.env``.
* :func:`native_environ`: the current environment without them, for a subprocess that must measure
  the machine as it is (timings).
* :func:`runs_native`: whether this process runs without them (timings may be taken here).
* :func:`exact_platform`: whether stored outputs can be compared bit for bit here (x86-64 Linux).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import resources


def canonical_settings() -> dict[str, str]:
    """The ``NAME=value`` lines of ``numerics.env`` (comments and blank lines skipped)."""
    settings = {}
    for line in resources.files("transformer_lib").joinpath("numerics.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name] = value
    return settings


def native_environ() -> dict[str, str]:
    """A copy of ``os.environ`` without the canonical settings, marked ``TRANSFORMER_LIB_NUMERICS=native``."""
    canonical = canonical_settings()
    env = {k: v for k, v in os.environ.items() if k not in canonical}
    env["TRANSFORMER_LIB_NUMERICS"] = "native"
    return env


def runs_native() -> bool:
    """True when this process runs with the machine's own numeric settings: none of the canonical
    settings is set, or the environment says ``TRANSFORMER_LIB_NUMERICS=native`` (``make bench``)."""
    if os.environ.get("TRANSFORMER_LIB_NUMERICS") == "native":
        return True
    return not any(name in os.environ for name in canonical_settings())


def exact_platform() -> bool:
    """True where the canonical settings make outputs bit-for-bit reproducible: x86-64 Linux.

    Elsewhere (macOS or Linux on arm64) other kernels run, and outputs agree only to rounding.
    """
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")
