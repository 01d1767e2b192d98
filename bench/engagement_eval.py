#!/usr/bin/env python3
"""Engagement levels on labelled webcam frames tiled 2x2 into still galleries.

    .venv/bin/python bench/engagement_eval.py                  # the dev frames
    .venv/bin/python bench/engagement_eval.py --data DIR       # DIR/<label>/*.jpg
    .venv/bin/python bench/engagement_eval.py --json out.json  # rows per tile as well

For every gallery (four labelled frames drawn at random, each in a tile with a name label,
as meeting apps draw them, then JPEG-compressed like a recording) this runs the stages that
engagement depends on, as ``analyze`` runs them: MTCNN faces, head pose from their five
landmarks, the eye aspect ratio (dlib 68 points) and the emotion model's features. The
gallery is still, so each tile's face is repeated over one window's sampled frames (8 s at
1 frame/s), each tile is its own student, and :func:`lecturelens.windows.compute_windows`
gives each tile its window: state, engagement and level.

Prints, per label: tiles, tiles with a face, the mean level and engagement of the tiles with
a level, the share of each level; then the AUC of the engagement score for engaged against
every other label (tiles with a score). Nothing composed is written unless ``--save DIR``
asks for the gallery images (never commit them: the frames are not ours).

The data folder holds ``<label>/`` folders; ``engaged`` is the positive class and
``looking_away`` is the other label the issue's goals name (see ``--positive``).

``--lecture`` instead composes a 60 s 3x4 meeting from the shared face videos with the hard
cases (reshuffles, cameras off, a leave and rejoin, a screen share; cached in
``bench/videos/``, git-ignored), runs the whole ``analyze`` on it (reports in
``bench/results/engagement/``, git-ignored) and prints how its student-windows spread over
the states and levels: a lecture's levels should not all say the same.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT, GAP = 1280, 720, 6
NAMES = ["Ana García", "Ben Okafor", "Chloé Martin", "Dmitri Ivanov"]


def labelled_frames(folder: Path) -> list[tuple[str, Path]]:
    """``(label, path)`` of every image under ``folder/<label>/``, sorted."""
    from lecturelens.emotion.data import is_image_file

    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        out += [(sub.name, p) for p in sorted(sub.iterdir()) if is_image_file(p)]
    return out


def tile_rects(width: int, height: int, gap: int = GAP) -> list[tuple[int, int, int, int]]:
    """The four ``x, y, w, h`` tiles of a 2x2 gallery."""
    tw, th = (width - 3 * gap) // 2, (height - 3 * gap) // 2
    return [(gap + c * (tw + gap), gap + r * (th + gap), tw, th)
            for r in range(2) for c in range(2)]


def compose(paths: list[Path], width: int, height: int, quality: int = 80) -> np.ndarray:
    """One gallery frame (RGB): each image fitted in its tile with a name label."""
    import cv2

    from lecturelens.dev.compose import BACKGROUND, _render_tile

    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = BACKGROUND
    for k, (path, rect) in enumerate(zip(paths, tile_rects(width, height))):
        src = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        tile, _ = _render_tile(src, rect, NAMES[k])
        x, y, w, h = rect
        frame[y:y + h, x:x + w] = tile
    # A recording is compressed: faces are judged through its artefacts, as in analyze.
    ok, enc = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(enc, cv2.IMREAD_COLOR)[:, :, ::-1])


def auc(pos: list[float], neg: list[float]) -> float:
    """Area under the ROC curve (ties count half)."""
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def evaluate(data: Path, seed: int = 0, **kw) -> dict:
    """The labelled frames of ``data`` through :func:`evaluate_frames`."""
    frames = labelled_frames(data)
    if not frames:
        raise SystemExit(f"{data}: no <label>/*.jpg frames")
    return {"data": str(data), **evaluate_frames(frames, seed, **kw)}


def evaluate_frames(frames: list[tuple[str, Path]], seed: int = 0,
                    size: tuple[int, int] = (WIDTH, HEIGHT), samples: int = 8,
                    save: Path | None = None, emotion_model: str = "lensnet-fer",
                    eye_model: str = "dlib-landmarks68") -> dict:
    """Labelled frames, shuffled by ``seed`` into 2x2 galleries, through the engagement
    stages.

    Args:
        frames: ``(label, image path)`` pairs.
        seed: the draw of the galleries.
        size: gallery frame size.
        samples: sampled frames per window (the window is that many seconds at 1 fps).
        save: write the gallery images here (never commit them).
        emotion_model: registry name, or ``"none"``.
        eye_model: registry name, or ``"none"``.

    Returns:
        ``{"seed", "size", "tiles"}``: per tile its label, file, face signals, state,
        engagement, level and window signals.
    """
    from lecturelens.detect import FaceDetector
    from lecturelens.signals import create_eye_model, head_pose
    from lecturelens.windows import LEVELS, Observations, StudentInfo, compute_windows

    frames = list(frames)
    random.Random(seed).shuffle(frames)
    galleries = [frames[i:i + 4] for i in range(0, len(frames), 4)]
    detector = FaceDetector()
    eyes = create_eye_model(eye_model)
    emotion = None
    if emotion_model != "none":
        from lecturelens.emotion import create_emotion_model

        emotion = create_emotion_model(emotion_model)
    window = samples  # seconds, at 1 frame/s
    cols = {k: [] for k in ("t", "sid", "box", "yaw", "pitch", "ear", "probs", "feats")}
    tiles = []
    for g, gallery in enumerate(galleries):
        rgb = compose([p for _, p in gallery], *size)
        if save is not None:
            from PIL import Image

            save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(save / f"gallery_{g:02d}.jpg")
        faces = detector.detect([rgb])[0]
        ears = eyes.ear(rgb, faces) if eyes is not None and faces else [None] * len(faces)
        probs = feats = None
        if emotion is not None and faces:
            from lecturelens.emotion.align import crop_faces

            probs, feats = emotion.predict(crop_faces(rgb, faces, emotion.input_size))
        for k, ((label, path), (x, y, w, h)) in enumerate(zip(gallery, tile_rects(*size))):
            sid = f"G{g:02d}T{k}"
            inside = [i for i, f in enumerate(faces)
                      if x <= (f.box[0] + f.box[2]) / 2 < x + w
                      and y <= (f.box[1] + f.box[3]) / 2 < y + h]
            tiles.append({"label": label, "file": path.name, "student_id": sid,
                          "gallery": g, "tile": k, "face": bool(inside)})
            if not inside:
                continue
            i = max(inside, key=lambda j: faces[j].width)  # the tile's person, not a poster
            yaw, pitch = head_pose(faces[i].landmarks)
            tiles[-1].update(yaw=round(yaw, 1), pitch=round(pitch, 1),
                             ear=None if ears[i] is None else round(float(ears[i]), 3),
                             width=round(faces[i].width))
            for j in range(samples):
                cols["t"].append(g * window + j)
                cols["sid"].append(sid)
                cols["box"].append(np.asarray(faces[i].box, float))
                cols["yaw"].append(yaw)
                cols["pitch"].append(pitch)
                cols["ear"].append(np.nan if ears[i] is None else ears[i])
                if probs is not None:
                    cols["probs"].append(probs[i])
                    cols["feats"].append(feats[i])
    n = len(cols["t"])
    classes = tuple(emotion.classes) if emotion is not None else ()
    obs = Observations(
        t=np.asarray(cols["t"], float), frame=np.asarray(cols["t"], np.int64),
        track_id=np.asarray([hash(s) % 100000 for s in cols["sid"]], np.int64),
        student_id=np.asarray(cols["sid"], object),
        box=np.asarray(cols["box"], float).reshape(n, 4), usable=np.ones(n, bool),
        yaw=np.asarray(cols["yaw"], float), pitch=np.asarray(cols["pitch"], float),
        ear=np.asarray(cols["ear"], float),
        probs=(np.asarray(cols["probs"], np.float32) if classes
               else np.zeros((n, 0), np.float32)),
        classes=classes,
        features=np.asarray(cols["feats"], np.float32) if classes else None)
    students = [StudentInfo(t["student_id"], t["student_id"], t["gallery"] * window,
                            t["gallery"] * window + samples - 1) for t in tiles]
    res = compute_windows(obs, students, duration=len(galleries) * window, fps=1.0)
    by_key = {(r["student_id"], r["start"]): r for r in res.rows}
    for t in tiles:
        r = by_key[(t["student_id"], float(t["gallery"] * window))]
        t["state"] = r["state"]
        t["engagement"] = r.get("engagement", float("nan"))
        lvl = r.get("level")
        t["level"] = None if lvl is None else LEVELS[lvl]
        t["signals"] = {k: (round(v, 3) if isinstance(v, float) else v)
                        for k, v in r.get("signals", {}).items()}
    return {"seed": seed, "size": list(size), "tiles": tiles}


def summarise(result: dict, positive: str = "engaged") -> dict:
    """Per-label table and the AUC of ``positive`` against the rest."""
    from lecturelens.windows import LEVELS

    tiles = result["tiles"]
    table = {}
    for label in sorted({t["label"] for t in tiles}):
        mine = [t for t in tiles if t["label"] == label]
        lv = [t["level"] for t in mine if t["level"] is not None]
        eng = [t["engagement"] for t in mine if t["engagement"] == t["engagement"]]
        states = {}
        for t in mine:
            states[t["state"]] = states.get(t["state"], 0) + 1
        table[label] = {"tiles": len(mine), "faces": sum(t["face"] for t in mine),
                        "levels": len(lv), "mean_level": float(np.mean(lv)) if lv else None,
                        "mean_engagement": float(np.mean(eng)) if eng else None,
                        "level_shares": [sum(x == L for x in lv) / len(lv) if lv else None
                                         for L in LEVELS],
                        "states": states}
    scored = [t for t in tiles if t["engagement"] == t["engagement"]]
    pos = [t["engagement"] for t in scored if t["label"] == positive]
    neg = [t["engagement"] for t in scored if t["label"] != positive]
    return {"labels": table, "auc": auc(pos, neg), "positive": positive}


def print_table(summary: dict, out=sys.stdout) -> None:
    print(f"{'label':<20} {'tiles':>5} {'faces':>5} {'lvls':>4} {'mean lvl':>8} "
          f"{'mean eng':>8}   share of levels 0 / .33 / .66 / 1", file=out)
    for label, r in summary["labels"].items():
        ml = "-" if r["mean_level"] is None else f"{r['mean_level']:.2f}"
        me = "-" if r["mean_engagement"] is None else f"{r['mean_engagement']:.2f}"
        sh = " / ".join("-" if s is None else f"{s:.2f}" for s in r["level_shares"])
        print(f"{label:<20} {r['tiles']:>5} {r['faces']:>5} {r['levels']:>4} {ml:>8} {me:>8}"
              f"   {sh}", file=out)
    print(f"AUC {summary['positive']} vs rest (tiles with a score): {summary['auc']:.3f}",
          file=out)


def lecture(seed: int = 0) -> dict:
    """The level and state counts of a composed hard-case meeting run through ``analyze``."""
    import csv

    from lecturelens.dev.compose import compose_gallery, face_videos
    from lecturelens.config import AnalyzeConfig
    from lecturelens.pipeline import analyze

    if len(face_videos()) < 12:
        raise SystemExit("--lecture needs the 12 face videos of the shared data folder")
    video = ROOT / "bench" / "videos" / f"engagement_s{seed}_3x4_60s_hard.mp4"
    if not video.is_file():
        video.parent.mkdir(parents=True, exist_ok=True)
        compose_gallery(video, rows=3, cols=4, duration=60, fps=10, width=1280, height=720,
                        scenario="hard", seed=seed)
    out = ROOT / "bench" / "results" / "engagement"
    analyze(video, out, AnalyzeConfig(fps=1.0, gifs="none"), progress=False)
    with open(out / video.stem / "windows.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    count = {"states": {}, "levels": {}}
    for r in rows:
        count["states"][r["state"]] = count["states"].get(r["state"], 0) + 1
        if r["level_name"]:
            count["levels"][r["level_name"]] = count["levels"].get(r["level_name"], 0) + 1
    return count


def main(argv=None) -> int:
    from lecturelens.dev.compose import data_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None,
                    help="folder of <label>/ image folders (default: the dev frames)")
    ap.add_argument("--seed", type=int, default=0, help="gallery draw")
    ap.add_argument("--size", default=f"{WIDTH}x{HEIGHT}", help="gallery frame size")
    ap.add_argument("--samples", type=int, default=8, help="sampled frames per window")
    ap.add_argument("--positive", default="engaged")
    ap.add_argument("--emotion-model", default="lensnet-fer")
    ap.add_argument("--json", type=Path, help="write the rows and the table here")
    ap.add_argument("--save", type=Path, help="write the gallery images here (not to commit)")
    ap.add_argument("--lecture", action="store_true",
                    help="level spread of a composed meeting of the face videos instead")
    args = ap.parse_args(argv)
    if args.lecture:
        count = lecture(args.seed)
        print("states:", ", ".join(f"{k} {v}" for k, v in count["states"].items()))
        print("levels:", ", ".join(f"{k} {v}" for k, v in count["levels"].items()))
        return 0
    data = args.data or data_dir() / "engagement"
    if not data.is_dir():
        print(f"{data}: no such folder (set LECTURELENS_DATA or pass --data)", file=sys.stderr)
        return 2
    w, h = (int(v) for v in args.size.lower().split("x"))
    t0 = time.perf_counter()
    result = evaluate(data, args.seed, size=(w, h), samples=args.samples, save=args.save,
                      emotion_model=args.emotion_model)
    summary = summarise(result, args.positive)
    print_table(summary)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**result, "summary": summary}, indent=1,
                                        default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
