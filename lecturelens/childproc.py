"""Helpers for the child processes LectureLens starts (batch workers, the emotion worker)."""

from __future__ import annotations

import contextlib
import os


def die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` does (Linux; elsewhere only the start check).

    A parent killed hard (SIGKILL, out of memory) runs no cleanup, and a child waiting for
    work would be left behind. PR_SET_PDEATHSIG covers a parent that dies from now on; the
    pid check one that died while this process was still starting (a loaded machine).
    """
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)
