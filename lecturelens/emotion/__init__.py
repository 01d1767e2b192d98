"""Stage 6, emotion: a registry of facial-emotion models with one interface.

``create_emotion_model(name)`` returns an :class:`EmotionModel` whose :meth:`~EmotionModel.
predict` takes a batch of face crops (from :func:`lecturelens.emotion.align.crop_faces`) and
returns class probabilities and the penultimate-layer feature vectors, on the CPU.

Models:
    * ``lensnet-fer`` (default, offline): trained by this project on FER2013, weights in
      ``lecturelens/weights/`` (package data).
    * HSEmotion's timm EfficientNets (``enet_b0_8_best_vgaf`` ...): fetched on first use, or
      given by path; loaded without running their pickle (:mod:`.safe_load`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lecturelens.config import EMOTION_PRECISIONS
from lecturelens.emotion.align import crop_faces
from lecturelens.errors import ModelError
from lecturelens.models import ModelEntry, get_model_entry

DEFAULT_EMOTION_MODEL = "lensnet-fer"

__all__ = ["DEFAULT_EMOTION_MODEL", "EmotionModel", "create_emotion_model", "crop_faces",
           "emotion_models"]


class EmotionModel:
    """A loaded emotion network (or an ensemble of them) with its registry entry.

    Attributes:
        entry: the registry entry (classes, input size, normalisation, source, licence).
        weights: the weight files used, with sha256 (for run.json).
        feature_dim: length of the feature vectors returned by :meth:`predict`.
    """

    def __init__(self, entry: ModelEntry, net, weights: list[dict], tta_flip: bool = False,
                 n_outputs: int | None = None, fast: bool = False,
                 calibrations: list[dict] | None = None, precision: str = "auto",
                 threads: int = 0):
        import torch

        from lecturelens.emotion import quant

        self.entry = entry
        # An ensemble averages its members' probabilities and concatenates their features.
        self.nets = [m.eval() for m in (net if isinstance(net, (list, tuple)) else [net])]
        self.weights = weights
        self.tta_flip = tta_flip
        self._torch = torch
        self._n_classes = len(entry.classes)
        self._bf16 = False
        #: what the nets compute in: ``bfloat16``, ``int8`` or ``float32`` (for run.json).
        self.precision = "float32"
        if precision not in EMOTION_PRECISIONS:
            raise ModelError(f"emotion precision must be one of {', '.join(EMOTION_PRECISIONS)}, "
                             f"not {precision!r}")
        if fast:
            # Small CNNs on the CPU. int8 wherever the weights carry its calibration: it is the
            # fastest on every CPU measured (pair, 2 threads, batches of 25: 0.78 ms/face
            # against 2.4 ms in bfloat16 on a CPU with AMX and AVX512-VNNI; ~5 against 7.3 ms
            # in float32 on AVX2) at the same accuracy. Otherwise channels-last convolutions
            # (~1.5x faster, oneDNN), in bfloat16 where the CPU computes it natively.
            calibrated = bool(calibrations) and all(calibrations)
            if precision == "int8" and not (calibrated and quant.int8_supported()):
                raise ModelError(f"{entry.name}: int8 needs calibrated weights (exported by "
                                 "`lecturelens train-emotion`) and PyTorch's x86 int8 backend")
            if precision != "float" and calibrated and quant.int8_supported():
                try:
                    self.nets = [quant.quantize(m, c, entry.input_size, entry.channels)
                                 for m, c in zip(self.nets, calibrations)]
                    self.precision = "int8"
                except ValueError as exc:
                    if precision == "int8":
                        raise ModelError(f"{entry.name}: {exc}") from None
            if self.precision != "int8":
                self._bf16 = quant.bf16_supported()
                self.nets = [m.to(memory_format=torch.channels_last) for m in self.nets]
                self.precision = "bfloat16" if self._bf16 else "float32"
        mean = torch.tensor(entry.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(entry.std, dtype=torch.float32).view(1, -1, 1, 1)
        self._mean, self._std = mean, std
        self._pool = None
        budget = threads or torch.get_num_threads()
        if len(self.nets) > 1 and budget >= len(self.nets):
            self._pool = _net_pool(len(self.nets), budget // len(self.nets), budget)
        with torch.inference_mode():
            size = entry.input_size
            self.feature_dim = int(self._forward(torch.zeros(1, entry.channels, size, size))[1]
                                   .shape[1])

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def classes(self) -> tuple[str, ...]:
        return self.entry.classes

    @property
    def input_size(self) -> int:
        return int(self.entry.input_size)

    def _forward(self, x):
        """Probabilities and features of a normalised batch (flip TTA in the same pass)."""
        torch = self._torch
        if self.tta_flip:
            x = torch.cat([x, x.flip(3)])
        if len(self.nets) > 1 or self._bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        if self._pool is not None:
            outs = list(self._pool.map(lambda net: self._run_net(net, x), self.nets))
        else:
            outs = [self._run_net(net, x) for net in self.nets]
        probs = sum(p for p, _ in outs) / len(outs)
        return probs, torch.cat([f for _, f in outs], 1)

    def _run_net(self, net, x):
        """One member's probabilities and features (mirror halves averaged)."""
        torch = self._torch
        with torch.inference_mode():  # thread-local: a pool thread needs its own
            if self.precision == "int8":
                f, logits = net(x)  # the quantized graph returns both (see quant._heads)
            else:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16):
                    f = net.forward_head(net.forward_features(x), pre_logits=True)
                    logits = net.get_classifier()(f)
        p = logits[:, :self._n_classes].float().softmax(1)
        f = f.float()
        if self.tta_flip:
            n = x.shape[0] // 2
            p = (p[:n] + p[n:]) / 2
            f = (f[:n] + f[n:]) / 2
        return p, f

    def _to_tensor(self, crops: np.ndarray):
        import cv2

        size = self.input_size
        if crops.shape[1:3] != (size, size):
            crops = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA)
                              for c in crops])
        if self.entry.channels == 1:
            crops = np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops])[..., None]
        x = self._torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
        return (x / 255.0 - self._mean) / self._std

    def predict(self, crops: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and features for a batch of RGB face crops.

        Args:
            crops: ``N x H x W x 3`` uint8 RGB crops (any ``H x W``; resized to the model's
                input size). Use :func:`crop_faces` to cut them from frames.
            batch_size: crops per forward pass.

        Returns:
            ``(probs, features)``: ``N x C`` float32 probabilities over :attr:`classes` and
            ``N x D`` float32 penultimate-layer features.
        """
        torch = self._torch
        n = len(crops)
        if n == 0:
            return (np.zeros((0, self._n_classes), np.float32),
                    np.zeros((0, self.feature_dim), np.float32))
        probs, feats = [], []
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                p, f = self._forward(self._to_tensor(np.asarray(crops[i:i + batch_size])))
                probs.append(p.numpy())
                feats.append(f.numpy())
        return np.concatenate(probs).astype(np.float32), np.concatenate(feats).astype(np.float32)

    def predict_frame(self, rgb: np.ndarray, faces) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` on the faces of one frame (cropped with the shared function)."""
        return self.predict(crop_faces(rgb, faces, self.input_size))


def emotion_models() -> list[ModelEntry]:
    """Registry entries of every emotion model."""
    from lecturelens.models import all_models

    return [e for e in all_models() if e.task == "emotion"]


def create_emotion_model(name: str = DEFAULT_EMOTION_MODEL, weights: str | Path | None = None,
                         threads: int = 0, precision: str = "auto") -> EmotionModel:
    """Build an emotion model from the registry.

    Args:
        name: registry name; an unknown name lists the choices.
        weights: a weight file to use instead of the registry's location (e.g. an HSEmotion
            ``.pt`` downloaded elsewhere).
        threads: torch CPU threads (0: leave torch's default). An ensemble given at least
            one thread per member runs its members side by side, each on its share.
        precision: for LectureLens' own nets: ``auto`` (int8 when the weights carry int8
            calibration and PyTorch has its x86 backend, else bfloat16 where the CPU
            computes it natively, else float32), ``float`` (bfloat16 or float32) or
            ``int8``. Other models always run in float32.

    Raises:
        ModelError: unknown name, weights missing (with how to get them) or corrupt.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    entry = get_model_entry(name, task="emotion", weights=weights)
    if weights:
        # One user-given file replaces the whole entry (an ensemble becomes one net).
        files = entry.check({entry.files[0].filename: Path(weights)})[:1]
    else:
        files = entry.check()
    path = files[0]["path"]
    kind, _, arch = entry.builder.partition(":")
    if kind == "lensnet":
        from lecturelens.emotion.nets import build_lensnet, read_lensnet_weights

        from lecturelens.emotion.quant import split_calibration

        nets, calibrations = [], []
        for f in files:
            net = build_lensnet(num_classes=len(entry.classes), in_chans=entry.channels)
            state, calibration = split_calibration(read_lensnet_weights(f["path"], name))
            _load_state(net, state, name, f["path"])
            nets.append(net)
            calibrations.append(calibration)
        return EmotionModel(entry, nets, files, tta_flip=True, fast=True,
                            calibrations=calibrations, precision=precision, threads=threads)
    if kind == "hsemotion":
        import timm

        from lecturelens.emotion.safe_load import load_pickled_model_state

        try:
            state = load_pickled_model_state(path)
        except Exception as exc:  # noqa: BLE001 - any unpickling problem is the user's file
            raise ModelError(f"{path}: not a loadable {name} checkpoint ({exc})") from None
        state = {k.replace("classifier.0.", "classifier."): v for k, v in state.items()}
        n_out = int(state["classifier.weight"].shape[0]) if "classifier.weight" in state else 0
        if n_out < len(entry.classes):
            raise ModelError(f"{path}: has {n_out} outputs, {name} needs "
                             f"{len(entry.classes)}; is it the right file?")
        net = timm.create_model(arch, pretrained=False, num_classes=n_out)
        _load_state(net, state, name, path)
        return EmotionModel(entry, net, files)
    raise ModelError(f"model {name}: unknown builder {entry.builder!r}")


def _net_pool(n: int, per_thread: int, restore: int):
    """Threads that run an ensemble's members side by side, ``per_thread`` torch threads each.

    Two int8 nets on one thread each, concurrently, were 2-4 % faster on this project's 2-core
    CPU than each net on both cores in turn (medians of 8 interleaved rounds: 4.94 -> 4.76
    and 5.11 -> 5.03 ms per face): the small convolutions do not split well across cores.
    ``torch.set_num_threads`` sets the calling thread's OpenMP team size, but also the
    process default that other threads adopt; so every pool thread is started now (a
    barrier holds each one until all exist) and the default is put back afterwards.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import torch

    def init() -> None:
        # A thread's first parallel op resets its count to the process default, unless that
        # lazy set-up (which get_num_threads runs) has happened already.
        torch.get_num_threads()
        torch.set_num_threads(per_thread)

    pool = ThreadPoolExecutor(n, thread_name_prefix="lecturelens-emotion", initializer=init)
    barrier = threading.Barrier(n)
    for f in [pool.submit(barrier.wait, 60) for _ in range(n)]:
        f.result()
    torch.set_num_threads(restore)
    return pool


def _load_state(net, state, name, path) -> None:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{path}: weights do not fit {name}'s architecture ({first})") from None
