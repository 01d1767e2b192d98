"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import os


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process die when ``parent_pid`` dies, even by ``kill -9``.

    ``PR_SET_PDEATHSIG`` covers a parent that dies from now on; a parent that died before
    this call (a child still starting up on a loaded machine) is caught by the pid check.

    Args:
        parent_pid: pid of the process that started this one (``os.getpid()`` there).
    """
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(1)
