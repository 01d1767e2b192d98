#!/usr/bin/env python3
"""Emotion-model speed: milliseconds per face in batches of 25 face crops, on the CPU.

    .venv/bin/python bench/emotion_speed.py [--model lensnet-fer] [--threads 2] [--repeat 40]
        [--precision auto|float|int8]

Uses real face crops when the shared face videos are present (one frame per video, cut with
the shared crop function), random crops otherwise; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def face_crops(size: int, n: int = 25) -> tuple[np.ndarray, str]:
    import cv2

    from lecturelens.dev.compose import face_videos
    from lecturelens.detect import FaceDetector
    from lecturelens.emotion.align import crop_faces

    crops = []
    videos = face_videos()
    if videos:
        det = FaceDetector()
        for v in videos:
            ok, bgr = cv2.VideoCapture(str(v)).read()
            if ok:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                crops += list(crop_faces(rgb, det.detect([rgb])[0], size))
    if not crops:
        rng = np.random.default_rng(0)
        return rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8), "random"
    return np.stack([crops[i % len(crops)] for i in range(n)]), "real faces"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lensnet-fer")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=40)
    from lecturelens.config import EMOTION_PRECISIONS as PRECISIONS

    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    a = p.parse_args()
    from lecturelens.emotion import create_emotion_model

    em = create_emotion_model(a.model, threads=a.threads, precision=a.precision)
    crops, kind = face_crops(em.input_size)
    em.predict(crops)  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.repeat):
        em.predict(crops)
    ms = 1000 * (time.perf_counter() - t0) / (a.repeat * len(crops))
    print(json.dumps({"model": a.model, "precision": em.precision, "threads": a.threads,
                      "batch": len(crops),
                      "crops": kind, "ms_per_face": round(ms, 3)}))


if __name__ == "__main__":
    main()
