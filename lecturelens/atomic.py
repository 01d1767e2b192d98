"""Atomic output files: write to a temporary file beside the target, then rename.

A crash leaves either the previous complete file or nothing, never a half-written report
that looks complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` only on success.

    Args:
        path: final location of the file.
        mode: ``"w"`` (text, UTF-8 by default) or ``"wb"``.
        **kwargs: passed to :func:`open` (e.g. ``newline=""`` for CSV).

    Yields:
        The open temporary file. If the block raises, the temporary file is removed and
        ``path`` is left untouched.
    """
    if "w" not in mode:
        raise ValueError("atomic_open only writes")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; reports are for sharing
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, data) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")


@contextlib.contextmanager
def atomic_csv(path: str | os.PathLike, header: list[str]) -> Iterator[csv.writer]:
    """Yield a :class:`csv.writer` whose file appears at ``path`` only when the block succeeds."""
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        yield writer
