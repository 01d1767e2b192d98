#!/usr/bin/env python3
"""The naive pipeline, for `bench/speed.py`: every stage on every sampled frame.

    .venv/bin/python bench/naive.py VIDEO [--fps 1] [--seconds 30] [--json OUT]

This is how the reference notebook works, with LectureLens' own models so the comparison is
about the pipeline, not the models: on every sampled frame it runs MTCNN on the full frame,
Tesseract on the full frame (names are then matched to the nearest face), the identity
embedding of every face, the eye landmarks of every face and the emotion model on every
face. Frames are decoded in order (``grab``/``retrieve``, no seeking). Nothing is carried
from frame to frame, so its cost per video second is the same anywhere in the video.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", type=Path)
    p.add_argument("--fps", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--json", type=Path)
    a = p.parse_args()

    t_load = time.perf_counter()
    import pytesseract

    from lecturelens.detect import FaceDetector
    from lecturelens.emotion import create_emotion_model
    from lecturelens.emotion.align import crop_faces
    from lecturelens.identity import create_identity_model
    from lecturelens.ingest import iter_frames, probe
    from lecturelens.signals import create_eye_model

    detector = FaceDetector()
    emotion = create_emotion_model("lensnet-fer")
    identity = create_identity_model("dlib-resnet")
    eyes = create_eye_model("dlib-landmarks68")
    load = time.perf_counter() - t_load

    info = probe(a.video)
    per = {"decode": 0.0, "detect": 0.0, "ocr": 0.0, "identity": 0.0, "eyes": 0.0,
           "emotion": 0.0}
    frames = faces_n = 0
    t0 = time.perf_counter()
    it = iter(iter_frames(info, fps=a.fps))
    while True:
        s = time.perf_counter()
        frame = next(it, None)
        per["decode"] += time.perf_counter() - s
        if frame is None or frame.t >= a.seconds:
            break
        s = time.perf_counter()
        faces = detector.detect([frame.rgb])[0]
        per["detect"] += time.perf_counter() - s
        s = time.perf_counter()
        words = pytesseract.image_to_data(frame.rgb, output_type=pytesseract.Output.DICT)
        per["ocr"] += time.perf_counter() - s
        s = time.perf_counter()
        if faces:
            identity.embed(frame.rgb, faces)
        per["identity"] += time.perf_counter() - s
        s = time.perf_counter()
        eyes.ear(frame.rgb, faces)
        per["eyes"] += time.perf_counter() - s
        s = time.perf_counter()
        if faces:
            emotion.predict(crop_faces(frame.rgb, faces, emotion.input_size))
        per["emotion"] += time.perf_counter() - s
        frames += 1
        faces_n += len(faces)
        del words
    wall = time.perf_counter() - t0
    seconds = min(a.seconds, info.duration)
    out = {"video_seconds": seconds, "frames": frames, "faces": faces_n,
           "wall_seconds": round(wall, 2), "load_seconds": round(load, 2),
           "x_real_time": round(seconds / wall, 3),
           "per_frame": {k: round(v / max(frames, 1), 3) for k, v in per.items()}}
    if a.json:
        tmp = a.json.with_name("." + a.json.name + ".tmp")
        tmp.write_text(json.dumps(out, indent=2) + "\n")
        os.replace(tmp, a.json)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
