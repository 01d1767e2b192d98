"""The report folder as a place that several processes and a ``kill -9`` can meet.

What this module guarantees (every writer, ``analyze`` and ``report``, goes through it):

* **One writer per folder.** :class:`FolderLock` holds an ``flock`` on
  ``<folder>/.lecturelens.lock`` for the whole run; a second writer gets one line naming the
  first (command, pid, host, start time). The kernel drops the lock when its holder dies, so a
  killed run never leaves a stale lock, and the file is removed on release.
* **A report is complete when, and only when, ``report.html`` exists.** Writers remove
  ``report.html`` before they change anything it was made from (:func:`clear_derived`
  removes it first of all derived outputs) and write it last, after ``run.json`` says
  ``ok``. A folder without it is a half report (rebuild it with ``lecturelens report``), never
  one that looks complete.
* **Temporary files are hidden, unique per run, and swept.** They start with ``.`` and end
  with ``.tmp``; a run killed by a signal cannot delete its own, so the next writer, holding
  the lock (hence alone), removes what dead runs left (:func:`sweep_temps`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Callable

from lecturelens.errors import FolderBusyError, OutputError, output_error
# The folder's file names and which of them the report stage derives are the format's
# (:mod:`lecturelens.reportfiles`); this module keeps the folder consistent.
from lecturelens.reportfiles import DERIVED_DIRS, DERIVED_FILES, LOCK_FILE, REPORT_HTML

#: Suffix of a derived folder on its way out (renamed first, so its name goes at once).
REMOVING = ".removing"

#: Test hook: called with the name of each step of a writer that a kill may interrupt
#: (tests set it to a function that SIGKILLs the process at one step). ``None`` in use.
step_hook: Callable[[str], None] | None = None


def step(name: str) -> None:
    """Mark a point between two atomic changes of a report folder (see :data:`step_hook`)."""
    if step_hook is not None:
        step_hook(name)


def make_folder(dest: str | Path) -> Path:
    """Create the report folder ``dest`` (and its parents).

    Raises:
        OutputError: a file is in its way, or the parent is read-only or full.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{dest}: a file is in the way of the report folder; move it away "
                          "or choose another -o folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, str(dest)) from None
    return dest


class FolderLock:
    """Exclusive right to write one report folder, for the life of a run.

    Use as a context manager, or call :meth:`acquire` and :meth:`release`.

    Args:
        dest: the report folder (must exist).
        command: what is writing (``analyze``, ``report``), shown to a second writer.
    """

    def __init__(self, dest: str | Path, command: str):
        self.dest = Path(dest)
        self.path = self.dest / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        """Take the lock.

        Raises:
            FolderBusyError: another run holds it (the message names that run).
            OutputError: the lock file cannot be created (read-only folder ...).
        """
        import fcntl

        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise output_error(exc, str(self.dest)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise FolderBusyError(
                    f"{self.dest}: another LectureLens run is writing this folder ({holder}); "
                    "wait for it to finish or choose another -o folder") from None
            # The holder before us removes the file when it lets go: if it did so between our
            # open and our lock, we hold a lock on a file nobody else sees. Try again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        info = {"command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
                "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # who holds it is a courtesy, the lock is the flock
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go (removing the lock file first, so that a clean folder has none)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a process that is just starting"
    return (f"`lecturelens {info.get('command', '?')}`, pid {info.get('pid', '?')} on "
            f"{info.get('host', '?')}, started {info.get('started', '?')}")


def sweep_temps(dest: str | Path) -> list[str]:
    """Remove what killed runs left in ``dest``: hidden ``.tmp`` files and derived folders
    that were on their way out. Call it only while holding the folder's lock.

    Returns:
        The names removed.
    """
    dest = Path(dest)
    gone = []
    for p in dest.glob(".*"):
        if p.name == LOCK_FILE:
            continue
        if p.is_dir() and p.name.endswith(REMOVING):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
        elif p.is_file() and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)
            gone.append(p.name)
    return gone


def clear_derived(dest: str | Path) -> None:
    """Remove the report stage's outputs, ``report.html`` first.

    From the first unlink on, the folder no longer looks like a complete report. Folders are
    renamed to a hidden name before they are deleted, so that a kill during the deletion
    leaves no file under its usual path (the next writer sweeps the rest).
    """
    dest = Path(dest)
    for name in DERIVED_FILES:
        (dest / name).unlink(missing_ok=True)
        step(f"removed {name}")
    for name in DERIVED_DIRS:
        folder, gone = dest / name, dest / f".{name}{REMOVING}"
        shutil.rmtree(gone, ignore_errors=True)  # (what a killed removal left)
        if folder.is_dir():
            os.replace(folder, gone)
            step(f"renamed {name}/")
            shutil.rmtree(gone, ignore_errors=True)


def is_complete(dest: str | Path) -> bool:
    """Whether ``dest`` holds a complete report (see the module's rules)."""
    return (Path(dest) / REPORT_HTML).is_file()


__all__ = ["FolderLock", "make_folder", "sweep_temps", "clear_derived", "is_complete",
           "step", "DERIVED_FILES", "DERIVED_DIRS", "REPORT_HTML", "LOCK_FILE"]
