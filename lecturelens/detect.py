"""Stage 2, detect: faces per sampled frame with MTCNN (weights ship in facenet-pytorch).

Every face keeps its box, five landmarks (left eye, right eye, nose, left mouth corner, right
mouth corner) and probability; faces narrower than ``min_face`` are kept but flagged
``small``.

A full MTCNN pass over a 720p frame costs 300-500 ms here, nearly all of it in the first two
stages that search the whole image. Between full passes, :meth:`FaceDetector.refine` follows
the known faces with MTCNN's last stage (O-Net) alone, run on each face's previous box: a few
milliseconds for 25 faces, and it gives the same kind of box, landmarks and probability. A
face O-Net no longer finds, or a change outside the known faces (:class:`SceneChange`: a
camera turned on, a new layout), calls for a full pass again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from lecturelens.config import AnalyzeConfig
from lecturelens.models import get_model_entry


@dataclass
class Face:
    """One detected face in one frame (pixel coordinates of the full frame)."""

    box: np.ndarray  # (4,) x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, left and right mouth corner
    prob: float
    small: bool = False
    signature: np.ndarray | None = None  # appearance histogram, set by the tracking stage

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def quality(self) -> str:
        return "small" if self.small else "ok"


def reading_order(face: Face) -> tuple:
    """Sort key: rows of faces (50 px bands) top to bottom, left to right within a row."""
    return (round(float(face.box[1]) / 50), float(face.box[0]))


class FaceDetector:
    """Batched MTCNN face detector on the CPU.

    Args:
        min_face: faces narrower than this (pixels) are flagged ``small``.
        detect_min_size: smallest face MTCNN searches for; raising it skips pyramid levels.
        threshold: minimum final probability of a kept face.
        threads: torch CPU threads; 0 leaves torch's default.
        keep_threshold: probability down to which :meth:`refine` keeps a known face.
    """

    model_name = "mtcnn"

    def __init__(self, min_face: int = 40, detect_min_size: int = 20, threshold: float = 0.9,
                 threads: int = 0, keep_threshold: float = 0.7):
        import torch
        from facenet_pytorch import MTCNN

        self.weights = get_model_entry(self.model_name).check()
        if threads > 0:
            torch.set_num_threads(threads)
        self.min_face = min_face
        self.threshold = threshold
        self.keep_threshold = min(keep_threshold, threshold)
        self._mtcnn = MTCNN(keep_all=True, min_face_size=detect_min_size, device="cpu",
                            post_process=False, select_largest=False)
        # Channels-last weights make the nets' max-pooling and convolutions 1.5-3x faster on
        # the CPU, with the same boxes (measured: differences under 0.001 px).
        for net in (self._mtcnn.pnet, self._mtcnn.rnet, self._mtcnn.onet):
            net.to(memory_format=torch.channels_last)
        self._torch = torch

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Detect faces in a batch of RGB frames.

        Args:
            frames: ``HxWx3`` uint8 RGB images. Frames of equal size are batched together.

        Returns:
            For each frame, its faces sorted left-to-right, top-to-bottom.
        """
        if len(frames) == 0:
            return []
        out: list[list[Face] | None] = [None] * len(frames)
        by_shape: dict[tuple, list[int]] = {}
        for i, f in enumerate(frames):
            by_shape.setdefault(f.shape, []).append(i)
        for idxs in by_shape.values():
            batch = np.stack([frames[i] for i in idxs])
            with self._torch.inference_mode():
                boxes, probs, points = self._mtcnn.detect(batch, landmarks=True)
            for j, i in enumerate(idxs):
                out[i] = self._faces(boxes[j], probs[j], points[j])
        return out  # type: ignore[return-value]

    def refine(self, rgb: np.ndarray, faces: Sequence[Face], max_passes: int = 2
               ) -> list[Face | None]:
        """Follow known faces into a new frame with MTCNN's O-Net alone.

        Each face's previous box is squared (as MTCNN squares its candidates) and scored,
        regressed and given landmarks by O-Net. A face whose box O-Net moved by more than a
        tenth of its size goes through O-Net once more from the moved box, as a fresh
        candidate would.

        Args:
            rgb: the new ``HxWx3`` uint8 RGB frame.
            faces: faces of an earlier frame.
            max_passes: O-Net passes at most per face.

        Returns:
            One entry per input face: the face in the new frame, or ``None`` where O-Net's
            probability fell below ``keep_threshold`` (the face is gone or moved too far).
            A face found by a full pass is kept down to that lower probability, as trackers
            keep a confirmed target (a head turning away scores lower, and is still there).
        """
        if not faces:
            return []
        boxes = np.stack([np.asarray(f.box, dtype=np.float32) for f in faces])
        score = np.zeros(len(faces), dtype=np.float32)
        points = np.zeros((len(faces), 5, 2), dtype=np.float32)
        todo = np.arange(len(faces))
        for _ in range(max_passes):
            new_boxes, score[todo], points[todo] = self._onet(rgb, boxes[todo])
            moved = np.abs(new_boxes - boxes[todo]).max(axis=1) > 0.1 * np.maximum(
                boxes[todo, 2] - boxes[todo, 0], 1.0)
            boxes[todo] = new_boxes
            todo = todo[moved]
            if not len(todo):
                break
        lost = np.where(score < self.keep_threshold)[0]
        if len(lost):
            # A face that moved by half its size or more (1 s between samples) is searched
            # for around where it was: O-Net on the box shifted by half a face each way.
            shifts = [(dx, dy) for dx in (-0.5, 0.0, 0.5) for dy in (-0.5, 0.0, 0.5)
                      if dx or dy]
            prev = np.stack([np.asarray(faces[i].box, dtype=np.float32) for i in lost])
            size = (prev[:, 2:] - prev[:, :2])
            cands = np.concatenate([prev + np.tile(np.array(d, np.float32) * size, 2)
                                    for d in shifts])
            nb, sc, pts = self._onet(rgb, cands)
            k = len(lost)
            best = sc.reshape(len(shifts), k).argmax(axis=0) * k + np.arange(k)
            found = sc[best] >= self.keep_threshold
            if found.any():
                idx, start = lost[found], nb[best[found]]
                boxes[idx], score[idx], points[idx] = self._onet(rgb, start)
        out: list[Face | None] = []
        for box, prob, pts in zip(boxes, score, points):
            if float(prob) < self.keep_threshold:
                out.append(None)
                continue
            face = Face(box=box.copy(), landmarks=pts.copy(), prob=float(prob))
            face.small = face.width < self.min_face
            out.append(face)
        return out

    def _onet(self, rgb: np.ndarray, boxes: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """O-Net on squared ``boxes``: regressed boxes, probabilities, landmarks (5x2)."""
        torch = self._torch
        from torch.nn.functional import interpolate

        h, w = rgb.shape[:2]
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        sq = np.stack([(boxes[:, 0] + boxes[:, 2] - side) / 2,
                       (boxes[:, 1] + boxes[:, 3] - side) / 2,
                       (boxes[:, 0] + boxes[:, 2] + side) / 2,
                       (boxes[:, 1] + boxes[:, 3] + side) / 2], axis=1)
        crops = []
        with torch.inference_mode():
            for x1, y1, x2, y2 in np.trunc(sq).astype(np.int64):
                # Clamped like MTCNN's own crops (its pad()): out-of-frame parts are cut.
                xa, ya = max(int(x1), 1), max(int(y1), 1)
                xb, yb = min(int(x2), w), min(int(y2), h)
                if xb <= xa or yb <= ya:
                    xa, ya, xb, yb = 1, 1, 2, 2
                patch = torch.from_numpy(np.ascontiguousarray(rgb[ya - 1:yb, xa - 1:xb]))
                crops.append(interpolate(patch.permute(2, 0, 1)[None].float(), size=(48, 48),
                                         mode="area"))
            data = ((torch.cat(crops) - 127.5) * 0.0078125).contiguous(
                memory_format=torch.channels_last)
            reg, pts, prob = self._mtcnn.onet(data)
        score = prob[:, 1].numpy()
        reg, pts = reg.numpy(), pts.numpy()
        bw = sq[:, 2] - sq[:, 0] + 1
        bh = sq[:, 3] - sq[:, 1] + 1
        points = np.stack([bw[:, None] * pts[:, :5] + sq[:, :1] - 1,
                           bh[:, None] * pts[:, 5:] + sq[:, 1:2] - 1], axis=2)
        new = np.stack([sq[:, 0] + reg[:, 0] * bw, sq[:, 1] + reg[:, 1] * bh,
                        sq[:, 2] + reg[:, 2] * bw, sq[:, 3] + reg[:, 3] * bh], axis=1)
        return new.astype(np.float32), score.astype(np.float32), points.astype(np.float32)

    def _faces(self, boxes, probs, points) -> list[Face]:
        # facenet-pytorch returns None (or an object array holding None) for a frame with
        # no face, and object arrays when a batch mixes face counts.
        if boxes is None or probs is None or points is None:
            return []
        faces = []
        for box, prob, pts in zip(boxes, probs, points):
            if box is None or prob is None or float(prob) < self.threshold:
                continue
            box = np.asarray(box, dtype=np.float32)
            face = Face(box=box, landmarks=np.asarray(pts, dtype=np.float32).reshape(5, 2),
                        prob=float(prob))
            face.small = face.width < self.min_face
            faces.append(face)
        faces.sort(key=reading_order)
        return faces


#: The settings a run's face detector is built from (fields of
#: :class:`~lecturelens.config.AnalyzeConfig`, keys of run.json's ``config``).
DETECTOR_SETTINGS = ("min_face", "detect_min_size", "detect_threshold", "threads")


def create_face_detector(settings: AnalyzeConfig | Mapping | None = None,
                         threads: int | None = None) -> FaceDetector:
    """The face detector a run's settings describe: the one builder ``analyze``, ``report``
    (GIF face checks) and the opt-out by photo (the face of each photo) share.

    Args:
        settings: an :class:`~lecturelens.config.AnalyzeConfig`, or the ``config`` a run
            recorded in run.json (a missing key takes the default).
        threads: torch CPU threads instead of the settings' (0: leave torch's default).
    """
    defaults = AnalyzeConfig()
    if settings is None:
        settings = defaults
    if isinstance(settings, Mapping):
        value = {k: settings.get(k, getattr(defaults, k)) for k in DETECTOR_SETTINGS}
    else:
        value = {k: getattr(settings, k) for k in DETECTOR_SETTINGS}
    return FaceDetector(min_face=value["min_face"], detect_min_size=value["detect_min_size"],
                        threshold=value["detect_threshold"],
                        threads=value["threads"] if threads is None else threads)


class FaceFollower:
    """Faces of each sampled frame: full MTCNN passes where needed, O-Net between them.

    A full pass runs on the first frame, every ``interval`` seconds, when something changed
    outside the known faces (:class:`SceneChange`) and when O-Net loses a known face;
    otherwise the previous frame's faces are refined (:meth:`FaceDetector.refine`).

    Args:
        detector: the face detector.
        interval: seconds between routine full passes; 0 runs one on every frame.
    """

    def __init__(self, detector: FaceDetector, interval: float = 30.0):
        self.detector = detector
        self.interval = interval
        self.scene = SceneChange()
        self._faces: list[Face] = []
        self._last_full: float | None = None
        self.full_passes: dict[str, int] = {}
        self.refined = 0
        self.changed = True

    def faces(self, frame) -> list[Face]:
        """The faces of ``frame`` (an :class:`~lecturelens.ingest.Frame`), in reading order."""
        changed = self.scene.update(frame.rgb, self._faces)
        reason = None
        if self._last_full is None:
            reason = "first frame"
        elif self.interval <= 0 or frame.t - self._last_full >= self.interval:
            reason = "interval"
        elif changed:
            reason = "scene change"
        if reason is None:
            refined = self.detector.refine(frame.rgb, self._faces)
            if any(f is None for f in refined):
                reason = "face lost"
            else:
                faces = sorted(refined, key=reading_order)
                self.refined += 1
        if reason is not None:
            faces = self.detector.detect([frame.rgb])[0]
            self._last_full = frame.t
            self.full_passes[reason] = self.full_passes.get(reason, 0) + 1
        # Something new may be on screen: a full pass for another reason than the routine
        # interval, or a different number of faces.
        self.changed = reason not in (None, "interval") or len(faces) != len(self._faces)
        self._faces = faces
        return faces

    def stats(self) -> dict:
        """Counts of full passes (by reason) and of frames followed by O-Net alone."""
        return {"interval": self.interval, "full_passes": sum(self.full_passes.values()),
                "full_pass_reasons": dict(self.full_passes), "refined_frames": self.refined}


class SceneChange:
    """Notices changes outside the known faces between sampled frames.

    Frames are compared as 160-pixel-wide grey thumbnails, in cells of 8x8 thumbnail pixels
    (about 64x64 pixels of a 720p frame). Each known face and a little space around it (where
    a head moves) are masked out. When, in some cell that is mostly unmasked, more than
    ``share`` of the unmasked pixels changed by more than ``level`` grey levels, something
    new may hold a face there: a camera turned on, a new layout, a screen share ending. A
    local test, not a share of the whole frame: a tile turning on in a 5x5 gallery is 2 % of
    the frame.
    """

    def __init__(self, width: int = 160, level: int = 24, share: float = 0.4, cell: int = 8):
        self.width = width
        self.level = level
        self.share = share
        self.cell = cell
        self._prev: np.ndarray | None = None

    def update(self, rgb: np.ndarray, faces: Sequence[Face]) -> bool:
        """Compare ``rgb`` with the previous frame; True when it changed outside ``faces``."""
        import cv2

        h, w = rgb.shape[:2]
        scale = self.width / w
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
                           (self.width, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        prev, self._prev = self._prev, thumb
        if prev is None or prev.shape != thumb.shape:
            return True
        mask = np.ones(thumb.shape, dtype=bool)
        for f in faces:
            x1, y1, x2, y2 = (float(v) * scale for v in f.box)
            fw, fh = x2 - x1, y2 - y1
            mask[max(0, int(y1 - 0.5 * fh)):max(0, int(y2 + 1.0 * fh) + 1),
                 max(0, int(x1 - 0.5 * fw)):max(0, int(x2 + 0.5 * fw) + 1)] = False
        diff = (np.abs(thumb.astype(np.int16) - prev.astype(np.int16)) > self.level) & mask
        c = self.cell
        hh, ww = (thumb.shape[0] // c) * c, (thumb.shape[1] // c) * c
        free = mask[:hh, :ww].reshape(hh // c, c, ww // c, c).sum(axis=(1, 3))
        changed = diff[:hh, :ww].reshape(hh // c, c, ww // c, c).sum(axis=(1, 3))
        usable = free >= c * c // 2
        return bool((changed[usable] > self.share * free[usable]).any())
