"""The emotion model in a process of its own, beside the rest of the per-frame work.

On a 2-core CPU the per-frame stages compete for cores badly in one process: dlib (eyes,
identity) holds the GIL and runs on one core, MTCNN's small O-Net batches gain nothing from a
second torch thread, and the decode thread wants a core as well. Moving the emotion nets to a
second process lets them run, single-threaded, on the other core while the main process
detects, tracks, reads names and measures the eyes of the next frame.
Results are handed back in the order the crops were submitted, so observations and
features are written in frame order.

Measured on the 600 s 25-face bench (2 cores): 222 s in one process, 163 s with the
worker. Letting the main process also compute frames while the worker was behind (a copy of
the model in each) was slower, 173-181 s: with every thread busy all the time, each stage
ran slower than the time it saved.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import time

import numpy as np

from lecturelens.errors import ModelError

#: Frames handed to the worker whose results may be outstanding before the main process
#: waits for the oldest (a few frames of slack smooth out frames of unequal cost).
MAX_IN_FLIGHT = 3


def can_use_worker() -> bool:
    """Whether a second process helps and is allowed here.

    Not on one core, and not inside a daemonic process (batch workers are), which
    ``multiprocessing`` does not let have children.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2 and not mp.current_process().daemon


def _serve(tasks, results, spec: dict, parent: int) -> None:
    """Worker process: load the model, then answer crops with (probs, features, seconds)."""
    import signal

    from lecturelens.childproc import die_with_parent

    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent stops this worker itself, and a
    # second traceback from here would only bury the parent's message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from lecturelens.emotion import create_emotion_model

        model = create_emotion_model(**spec)
        results.put(("ready", {"name": model.name, "classes": tuple(model.classes),
                               "input_size": model.input_size,
                               "feature_dim": model.feature_dim,
                               "precision": model.precision, "weights": model.weights}))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as its own error
        results.put(("error", f"{type(exc).__name__}", str(exc)))
        return
    while True:
        item = tasks.get()
        if item is None:
            import resource

            results.put(("bye", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
            return
        crops, batch_size = item
        t0 = time.perf_counter()
        try:
            probs, feats = model.predict(crops, batch_size=batch_size)
        except Exception as exc:  # noqa: BLE001
            results.put(("error", f"{type(exc).__name__}", str(exc)))
            return
        results.put(("ok", probs, feats, time.perf_counter() - t0))


class EmotionWorker:
    """An emotion model (:func:`~lecturelens.emotion.create_emotion_model`) in a child process.

    It carries the attributes the pipeline reads from an
    :class:`~lecturelens.emotion.EmotionModel` (``name``, ``classes``, ``input_size``,
    ``feature_dim``, ``precision``, ``weights``); :meth:`submit` sends one frame's crops and
    :meth:`result` returns the oldest outstanding frame's ``(probs, features)``.

    Args:
        name, weights, threads, precision: as for ``create_emotion_model``; ``threads`` 0
            means one (the worker shares the CPU with the main process).
        timeout: seconds to wait for the model to load.

    Raises:
        ModelError: the model could not be built (the worker's own message, e.g. an unknown
            name or a corrupt weights file), or the worker process died.
    """

    def __init__(self, name: str, weights: str | None = None, threads: int = 0,
                 precision: str = "auto", timeout: float = 600.0):
        ctx = mp.get_context("spawn")
        self._tasks = ctx.Queue()
        self._results = ctx.Queue()
        spec = {"name": name, "weights": weights, "threads": threads or 1,
                "precision": precision}
        self._proc = ctx.Process(target=_serve,
                                 args=(self._tasks, self._results, spec, os.getpid()),
                                 daemon=True, name="lecturelens-emotion")
        self._proc.start()
        self._pending = 0
        #: seconds the worker spent computing.
        self.busy_seconds = 0.0
        #: the worker's peak resident memory in MB (known once closed).
        self.peak_rss_mb: float | None = None
        self._meta: dict | None = None
        self._timeout = timeout

    def _get(self, timeout: float | None = None):
        """The next message from the worker; raises if it died or sent an error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                msg = self._results.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._proc.is_alive():
                    code = self._proc.exitcode
                    self.close(graceful=False)
                    raise ModelError(f"emotion worker process died (exit code {code}; out of "
                                     "memory?); rerun with --no-emotion-worker to run the "
                                     "model in the main process") from None
                if deadline is not None and time.monotonic() > deadline:
                    self.close(graceful=False)
                    raise ModelError("emotion worker did not answer in time") from None
        if msg[0] == "error":
            self.close(graceful=False)
            kind, text = msg[1], msg[2]
            if kind == "ModelError":
                raise ModelError(text)
            raise RuntimeError(f"emotion worker: {kind}: {text}")
        return msg

    def _ready(self) -> dict:
        if self._meta is None:
            self._meta = self._get(self._timeout)[1]
        return self._meta

    def wait_ready(self) -> "EmotionWorker":
        """Block until the model is loaded (raises its load error); returns ``self``."""
        self._ready()
        return self

    @property
    def name(self) -> str:
        return self._ready()["name"]

    @property
    def classes(self) -> tuple[str, ...]:
        return self._ready()["classes"]

    @property
    def input_size(self) -> int:
        return int(self._ready()["input_size"])

    @property
    def feature_dim(self) -> int:
        return int(self._ready()["feature_dim"])

    @property
    def precision(self) -> str:
        return self._ready()["precision"]

    @property
    def weights(self) -> list[dict]:
        return self._ready()["weights"]

    @property
    def in_flight(self) -> int:
        """Frames sent whose results have not been taken yet."""
        return self._pending

    def submit(self, crops: np.ndarray, batch_size: int = 64) -> None:
        """Send one frame's crops (``N x H x W x 3`` uint8) to the worker."""
        self._ready()
        self._tasks.put((np.ascontiguousarray(crops), batch_size))
        self._pending += 1

    def ready(self) -> bool:
        """Whether :meth:`result` would return without waiting."""
        return self._pending > 0 and not self._results.empty()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(probs, features)`` of the oldest submitted frame (waits for it)."""
        if not self._pending:
            raise RuntimeError("EmotionWorker.result() without a submitted frame")
        _, probs, feats, seconds = self._get()
        self._pending -= 1
        self.busy_seconds += seconds
        return probs, feats

    def close(self, graceful: bool = True) -> None:
        """Stop the worker (idempotent); ``graceful`` lets it finish and report its memory."""
        proc = getattr(self, "_proc", None)
        if proc is None:
            return
        self._proc = None
        try:
            if graceful and proc.is_alive():
                self._tasks.put(None)
                while True:  # results nobody took, then its goodbye with its peak memory
                    msg = self._results.get(timeout=10)
                    if msg[0] == "bye":
                        self.peak_rss_mb = round(msg[1])
                        break
                proc.join(timeout=5)
        except (OSError, ValueError, queue.Empty):
            pass
        if proc.is_alive():
            proc.kill()
            proc.join()
        for q in (self._tasks, self._results):
            q.close()
            q.cancel_join_thread()

    def __enter__(self) -> "EmotionWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # a safety net; the pipeline closes it explicitly
        if sys is not None:
            try:
                self.close()
            except Exception:  # noqa: BLE001
                pass
