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


def unix_socket_manager(manager_class: type) -> type:
    """``manager_class`` (a jupyter_client kernel manager) with the ``ipc`` transport on POSIX systems."""
    if os.name != "posix":
        return manager_class

    class UnixSocketKernelManager(manager_class):
        def __init__(self, **kwargs):
            # An absolute path, unique per kernel: the kernel runs in the notebook's folder, the client
            # in the test's, and two workers must not pick the same name.
            prefix = os.path.join(tempfile.gettempdir(), f"tbook-kernel-{uuid.uuid4().hex[:12]}")
            super().__init__(transport="ipc", ip=prefix, **kwargs)

    return UnixSocketKernelManager
