"""Stage 2, detect: faces per sampled frame with MTCNN (weights ship in facenet-pytorch).

Frames are detected in batches of equal-sized images. Every face keeps its box, five
landmarks (left eye, right eye, nose, left mouth corner, right mouth corner) and
probability; faces narrower than ``min_face`` are kept but flagged ``small``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lecturelens.models import get_model_entry

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Face:
    """One detected face in one frame (pixel coordinates of the full frame)."""

    box: np.ndarray  # (4,) x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2)
    prob: float
    small: bool = False
    signature: np.ndarray | None = None  # appearance histogram, set by the tracking stage

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def quality(self) -> str:
        return "small" if self.small else "ok"


class FaceDetector:
    """Batched MTCNN face detector on the CPU.

    Args:
        min_face: faces narrower than this (pixels) are flagged ``small``.
        detect_min_size: smallest face MTCNN searches for; raising it skips pyramid levels.
        threshold: minimum final probability of a kept face.
        threads: torch CPU threads; 0 leaves torch's default.
    """

    model_name = "mtcnn"

    def __init__(self, min_face: int = 40, detect_min_size: int = 20, threshold: float = 0.9,
                 threads: int = 0):
        import torch
        from facenet_pytorch import MTCNN

        self.weights = get_model_entry(self.model_name).check()
        if threads > 0:
            torch.set_num_threads(threads)
        self.min_face = min_face
        self.threshold = threshold
        self._mtcnn = MTCNN(keep_all=True, min_face_size=detect_min_size, device="cpu",
                            post_process=False, select_largest=False)
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
        faces.sort(key=lambda f: (round(float(f.box[1]) / 50), float(f.box[0])))
        return faces
