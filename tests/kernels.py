"""Jupyter kernels for the tests, talking over Unix sockets instead of TCP ports.

With TCP, jupyter_client picks five free ports, closes them and starts the kernel, which binds them a
second or two later. If another process takes one in between (the distributed tests' gloo processes, or
another worker's kernel), the kernel dies before it replies ("Kernel died before replying to
kernel_info") and every cell of its notebook errors. Unix sockets are files with names of our choosing,
so there is nothing to race for.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Mapping


def unix_socket_manager(manager_class: type, kernel_environ: Mapping[str, str] | None = None) -> type:
    """``manager_class`` (a jupyter_client kernel manager) with the ``ipc`` transport on POSIX systems.

    ``kernel_environ``, when given, is added to the environment of every kernel the class starts, read
    at each start (so a caller may fill it later), and never to this process's own environment: the
    root conftest turns on strict exercise checks for the chapters' kernels this way, while the tests'
    own expectations (a failed check prints ❌) run without them.
    """
    extra = kernel_environ if kernel_environ is not None else {}
    if os.name != "posix" and kernel_environ is None:
        return manager_class

    class TestKernelManager(manager_class):
        def __init__(self, **kwargs):
            if os.name == "posix":
                # An absolute path, unique per kernel: the kernel runs in the notebook's folder, the client
                # in the test's, and two workers must not pick the same name.
                prefix = os.path.join(tempfile.gettempdir(), f"tbook-kernel-{uuid.uuid4().hex[:12]}")
                kwargs.update(transport="ipc", ip=prefix)
            super().__init__(**kwargs)

        def start_kernel(self, **kwargs):
            if extra:
                kwargs["env"] = {**kwargs.get("env", os.environ), **extra}
            return super().start_kernel(**kwargs)

    return TestKernelManager
