"""Run the emotion model beside the other stages of a recording.

The emotion model is the costliest per-face stage, and the others (face detection, dlib's
landmarks and identity, Tesseract) mostly run one core at a time and hold Python's GIL. So
with two or more cores, :class:`EmotionWorker` runs the model in a child process on one
core, while the recording's own process detects, tracks and reads the next frame: the two
cores then work at once instead of taking turns. :class:`InlineEmotion` has the same
interface and runs the model in this process (when only one core is given).

Either way the model computes on one thread, so the results are the same on any machine and
with any executor.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from lecturelens.errors import LectureLensError, ModelError


class InlineEmotion:
    """An emotion model run in this process, behind the :class:`EmotionWorker` interface."""

    def __init__(self, model, batch_size: int = 25):
        self.model = model
        self.batch_size = batch_size
        self.seconds = 0.0
        self._done: list = []

    name = property(lambda self: self.model.name)
    classes = property(lambda self: self.model.classes)
    feature_dim = property(lambda self: self.model.feature_dim)
    input_size = property(lambda self: self.model.input_size)
    weights = property(lambda self: self.model.weights)

    def submit(self, crops: np.ndarray) -> None:
        """Compute probabilities and features of ``crops`` (collected by :meth:`result`)."""
        t0 = time.perf_counter()
        self._done.append(self.model.predict(crops, batch_size=self.batch_size))
        self.seconds += time.perf_counter() - t0

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(probs, features)`` of the oldest submitted batch."""
        return self._done.pop(0)

    def close(self) -> None:
        self._done.clear()


class EmotionWorker:
    """An emotion model run in a child process; batches come back in the order submitted.

    Args:
        name: registry name of the model.
        weights: weight file instead of the registry's location.
        threads: torch threads of the child.
        batch_size: crops per forward pass.

    Raises:
        ModelError: the child could not load the model (the same message as in-process), or
            it died.
    """

    def __init__(self, name: str, weights: str | None = None, threads: int = 1,
                 batch_size: int = 25):
        import json
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        # A plain subprocess, not multiprocessing: daemon processes (Dask's workers) may not
        # start multiprocessing children, and every run should compute the same way.
        here, there = socket.socketpair()
        args = json.dumps({"fd": there.fileno(), "parent": os.getpid(), "name": name,
                           "weights": weights, "threads": threads, "batch_size": batch_size})
        env = {**os.environ, **{v: str(threads) for v in _THREAD_VARS}}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from lecturelens.emotion.worker import _main; _main()", args],
            pass_fds=(there.fileno(),), env=env, stdin=subprocess.DEVNULL)
        there.close()
        self._conn = Connection(here.detach())
        self.seconds = 0.0
        self._pending = 0
        self._meta: dict | None = None

    def _about(self, key: str):
        # The child loads the model while this process loads its own: wait only when asked.
        if self._meta is None:
            self._meta = self._receive()
        return self._meta[key]

    name = property(lambda self: self._about("name"))
    classes = property(lambda self: tuple(self._about("classes")))
    feature_dim = property(lambda self: int(self._about("feature_dim")))
    input_size = property(lambda self: int(self._about("input_size")))
    weights = property(lambda self: self._about("weights"))

    def submit(self, crops: np.ndarray) -> None:
        """Send a batch of RGB face crops (from :func:`~lecturelens.emotion.align.crop_faces`)."""
        self._about("name")
        try:
            self._conn.send(np.ascontiguousarray(crops, dtype=np.uint8))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._died()
        self._pending += 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(probs, features)`` of the oldest submitted batch, waiting for it if need be."""
        probs, feats, seconds = self._receive()
        self._pending -= 1
        self.seconds += seconds
        return probs, feats.astype(np.float32)

    def close(self) -> None:
        """Stop the child (at once when batches are still pending: a failed run)."""
        import subprocess

        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            if self._pending == 0:
                self._conn.send(None)
                self._proc.wait(5)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._conn.close()

    @property
    def alive(self) -> bool:
        """Whether the child process is still running."""
        return self._proc.poll() is None

    def _receive(self):
        try:
            kind, *payload = self._conn.recv()
        except (EOFError, OSError):
            self._died()
        if kind == "error":
            self.close()
            raise ModelError(payload[0])
        return payload[0] if kind == "ready" else payload

    def _died(self):
        import subprocess

        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(2)
        code = self._proc.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        raise ModelError(f"the emotion model's worker process died ({how}; out of memory?)")


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _main() -> None:
    """Child process: load the model, then answer batches until told to stop."""
    import json
    import sys
    from multiprocessing.connection import Connection

    from lecturelens.procs import die_with_parent

    a = json.loads(sys.argv[1])
    # A killed analysis must not leave this process behind.
    die_with_parent(a["parent"])
    _serve(Connection(a["fd"]), a["name"], a["weights"], a["threads"], a["batch_size"])


def _serve(conn, name: str, weights: str | None, threads: int, batch_size: int) -> None:
    """Answer the batches that arrive on ``conn`` with the model's results."""
    from lecturelens.emotion import create_emotion_model

    try:
        model = create_emotion_model(name, weights=weights, threads=threads)
    except LectureLensError as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", {"name": model.name, "classes": list(model.classes),
                         "feature_dim": model.feature_dim, "input_size": model.input_size,
                         "weights": model.weights}))
    while True:
        try:
            crops = conn.recv()
        except EOFError:
            return
        if crops is None:
            return
        t0 = time.perf_counter()
        try:
            probs, feats = model.predict(crops, batch_size=batch_size)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the run
            conn.send(("error", f"emotion model failed: {type(exc).__name__}: {exc}"))
            return
        # float16 features: what the features file stores anyway, and half the bytes to send.
        conn.send(("ok", probs, feats.astype(np.float16), time.perf_counter() - t0))


def create_emotion_runner(name: str, weights: str | None = None, threads: int = 0,
                          batch_size: int = 25):
    """The emotion model of a run: in a child process where a second core is free.

    Args:
        name: registry name of the model.
        weights: weight file instead of the registry's location.
        threads: torch threads this run may use (0: one per core).
        batch_size: crops per forward pass.

    Returns:
        ``(runner, threads_left)``: an :class:`EmotionWorker` or :class:`InlineEmotion`, and
        the torch threads left for the other stages of this process.
    """
    cores = threads or os.cpu_count() or 1
    # The model computes on one thread either way: the same numbers on any machine and
    # executor (oneDNN splits a small batch differently on two threads: 4th-decimal changes).
    if cores >= 2:
        return EmotionWorker(name, weights, threads=1, batch_size=batch_size), cores - 1
    from lecturelens.emotion import create_emotion_model

    model = create_emotion_model(name, weights=weights, threads=1)
    return InlineEmotion(model, batch_size), 1
