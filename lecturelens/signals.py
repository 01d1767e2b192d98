"""Per-face engagement signals: head pose from the five detector landmarks, eyes open from
dlib's 68-point landmarks.

Both are geometric and cheap. Head pose is an approximation (a frontal face has yaw and
pitch near 0; the sign says left/right, down/up), good enough to tell "looking at the
screen" from "turned away", not a 3D pose estimate. The eye aspect ratio (EAR, Soukupova
and Cech 2016) is about 0.25-0.35 for open eyes and falls below about 0.2 when they close.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from lecturelens.detect import Face
from lecturelens.models import get_model_entry
from lecturelens.rubric import FOLLOW_UP_EAR

#: Nose tip depth in front of the eyes' plane, in inter-ocular distances (anthropometric
#: average); turns the nose's sideways offset into a yaw angle.
NOSE_DEPTH = 0.55
#: Where the nose tip sits between the eye line (0) and the mouth line (1) in a frontal face
#: (the ArcFace 5-point template); the offset from it gives the pitch.
NOSE_REST = 0.49
#: Nose depth in eye-to-mouth heights (NOSE_DEPTH / 1.14, the template's ratio).
NOSE_DEPTH_V = 0.48
#: Below this eye aspect ratio the eyes count as closed.
EYES_CLOSED_EAR = 0.2

#: Registry name of the eye model (its entry: :data:`lecturelens.models.MODELS`).
DEFAULT_EYE_MODEL = "dlib-landmarks68"


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """Approximate yaw and pitch in degrees from five landmarks.

    Args:
        landmarks: ``5 x 2`` (left eye, right eye, nose, left and right mouth corner) in
            image coordinates.

    Returns:
        ``(yaw, pitch)``: 0 for a frontal face; yaw is positive when the nose points to the
        image's right, pitch positive when the face tilts down.
    """
    le, re, nose, ml, mr = np.asarray(landmarks, dtype=np.float64)
    eye_mid, mouth_mid = (le + re) / 2, (ml + mr) / 2
    axis = re - le
    iod = float(np.hypot(*axis))
    if iod < 1e-6:
        return 0.0, 0.0
    # Work in the face's own frame so that head roll does not read as yaw.
    ux = axis / iod
    uy = np.array([-ux[1], ux[0]])
    if np.dot(mouth_mid - eye_mid, uy) < 0:
        uy = -uy
    side = float(np.dot(nose - eye_mid, ux)) / iod
    yaw = math.degrees(math.atan2(side, NOSE_DEPTH))
    height = float(np.dot(mouth_mid - eye_mid, uy))
    if height < 1e-6:
        return yaw, 0.0
    down = (float(np.dot(nose - eye_mid, uy)) / height - NOSE_REST) / NOSE_DEPTH_V
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, down))))
    return yaw, pitch


#: dlib's 68-point indices of the two eyes (6 points each).
_EYE_POINTS = range(36, 48)


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes from 68 dlib landmarks (``68 x 2``)."""
    return _ear_of_eyes(np.asarray(points)[36:48])


def _ear_of_eyes(p: np.ndarray) -> float:
    """Mean eye aspect ratio from the 12 eye points (``12 x 2``: both eyes, dlib order)."""
    def ear(e):
        v = np.hypot(*(e[1] - e[5])) + np.hypot(*(e[2] - e[4]))
        h = np.hypot(*(e[0] - e[3]))
        return v / (2 * h) if h > 1e-6 else 0.0

    return float((ear(p[:6]) + ear(p[6:])) / 2)


class EyeModel:
    """dlib's 68-point shape predictor, used for the eye aspect ratio of each face."""

    def __init__(self, name: str = DEFAULT_EYE_MODEL):
        import dlib

        self.entry = get_model_entry(name, task="face-landmarks")
        self.weights = self.entry.check()
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(self.weights[0]["path"])

    @property
    def name(self) -> str:
        return self.entry.name

    def _shape(self, gray: np.ndarray, face: Face):
        x1, y1, x2, y2 = (int(round(float(v))) for v in face.box)
        # dlib copies the image it is given: hand it the face's neighbourhood, not the frame
        # (same landmarks; the predictor only samples pixels near the box).
        w, h = x2 - x1, y2 - y1
        ox, oy = max(0, x1 - w // 2), max(0, y1 - h // 2)
        sub = np.ascontiguousarray(gray[oy:max(oy + 1, y2 + h // 2),
                                        ox:max(ox + 1, x2 + w // 2)])
        shape = self._predictor(sub, self._dlib.rectangle(x1 - ox, y1 - oy, x2 - ox, y2 - oy))
        return shape, ox, oy

    def landmarks(self, gray: np.ndarray, face: Face) -> np.ndarray:
        """``68 x 2`` landmarks of ``face`` in a grayscale frame."""
        shape, ox, oy = self._shape(gray, face)
        return np.array([(p.x + ox, p.y + oy) for p in shape.parts()], dtype=np.float64)

    def ear(self, rgb: np.ndarray, faces: Sequence[Face]) -> list[float]:
        """Eye aspect ratio of each face in one RGB frame."""
        if not faces:
            return []
        import cv2

        gray = np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        out = []
        for f in faces:
            # Only the 12 eye points are read back: converting all 68 from dlib's objects
            # cost a third as much again as the predictor itself. EAR needs no offset.
            shape, _, _ = self._shape(gray, f)
            eyes = np.array([(p.x, p.y) for p in (shape.part(i) for i in _EYE_POINTS)],
                            dtype=np.float64)
            out.append(_ear_of_eyes(eyes))
        return out


    def ear_pairs(self, frame, faces: Sequence[Face]) -> list[tuple[float, float | None]]:
        """Per face: its EAR in ``frame`` and, where the eyes may be closed and the frame
        carries a follow-up (``frame.follow``, :data:`lecturelens.rubric.FOLLOW_UP_SECONDS`
        later), the EAR there too (same box: a face barely moves in half a second); else
        ``None``. Closed in both means a closure, not a blink."""
        ears = self.ear(frame.rgb, faces)
        again = [None] * len(ears)
        follow = getattr(frame, "follow", None)
        idx = [i for i, e in enumerate(ears) if e < FOLLOW_UP_EAR]
        if follow is not None and idx:
            for i, e in zip(idx, self.ear(follow, [faces[i] for i in idx])):
                again[i] = e
        return list(zip(ears, again))


def create_eye_model(name: str = DEFAULT_EYE_MODEL) -> EyeModel | None:
    """The eye-landmark model by registry name; ``"none"`` turns the eyes signal off."""
    if name.lower() == "none":
        return None
    return EyeModel(name)

