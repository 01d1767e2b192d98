"""``lecturelens eval-emotion``: accuracy, per-class recall and confusion matrix of an emotion
model on any folder laid out as ``DATA_DIR/<label>/*.jpg``.

Faces are detected first (MTCNN, on an upscaled copy when the image is small) and cut with
the same crop function as ``analyze``; when no face is found (a tight crop such as FER2013's
48x48 faces often is) the whole image is used. Label names are mapped to the model's classes
(``anger``/``angry``, ``happiness``/``happy`` ...); classes the model lacks are reported and
skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from lecturelens.emotion import DEFAULT_EMOTION_MODEL, create_emotion_model
from lecturelens.emotion.align import crop_face
from lecturelens.emotion.data import list_labelled_images

DETECT_SIDE = 160  # small images are upscaled to this side before face detection


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def evaluate_folder(data_dir: str | Path, model: str = DEFAULT_EMOTION_MODEL,
                    weights: str | Path | None = None, detect: bool = True, chunk: int = 256,
                    progress: bool = True, threads: int = 0) -> dict:
    """Evaluate an emotion model on a labelled folder.

    Args:
        data_dir: ``DATA_DIR/<label>/*.{jpg,png}``.
        model: registry name of the emotion model.
        weights: optional weight file overriding the registry location.
        detect: detect and crop faces first (else use every whole image).
        chunk: images processed at once (bounds memory).
        progress: progress bar on stderr.
        threads: torch CPU threads (0: torch's default).

    Returns:
        A JSON-ready dict: ``accuracy``, ``per_class`` recall/precision/support,
        ``confusion`` (rows: true class, columns: predicted, both in ``classes`` order),
        ``skipped`` label counts, ``faces_found`` share, ``ms_per_image``.
    """
    import cv2
    from tqdm import tqdm

    em = create_emotion_model(model, weights=weights, threads=threads)
    classes = list(em.classes)
    index = {c: i for i, c in enumerate(classes)}
    items = list_labelled_images(data_dir)
    skipped = Counter(label for _, label in items if label not in index)
    items = [(p, label) for p, label in items if label in index]
    detector = None
    if detect:
        from lecturelens.detect import FaceDetector

        detector = FaceDetector(min_face=1, detect_min_size=20, threshold=0.8, threads=threads)
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    found = 0
    t0 = time.perf_counter()
    with tqdm(total=len(items), unit="img", disable=not progress, desc="eval-emotion") as bar:
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            images = [_load_rgb(p) for p, _ in part]
            faces = [None] * len(images)
            if detector is not None:
                scales = [max(1.0, DETECT_SIDE / max(im.shape[:2])) for im in images]
                big = [im if s == 1.0 else cv2.resize(im, (round(im.shape[1] * s),
                                                           round(im.shape[0] * s)),
                                                      interpolation=cv2.INTER_CUBIC)
                       for im, s in zip(images, scales)]
                for i, (fs, s) in enumerate(zip(detector.detect(big), scales)):
                    if fs:
                        best = max(fs, key=lambda f: f.prob * f.width)
                        faces[i] = (best.box / s, best.landmarks / s)
            crops = []
            for im, f in zip(images, faces):
                box, lm = f if f is not None else (None, None)
                found += f is not None
                crops.append(crop_face(im, box, lm, em.input_size))
            probs, _ = em.predict(np.stack(crops))
            for (_, label), pred in zip(part, probs.argmax(1)):
                confusion[index[label], pred] += 1
            bar.update(len(part))
    seconds = time.perf_counter() - t0
    support = confusion.sum(1)
    predicted = confusion.sum(0)
    diag = np.diag(confusion)
    n = int(support.sum())
    return {
        "data_dir": str(data_dir),
        "model": em.name,
        "weights": em.weights,
        "detect": detect,
        "images": n,
        "accuracy": float(diag.sum() / n) if n else 0.0,
        "classes": classes,
        "per_class": {c: {"recall": float(diag[i] / support[i]) if support[i] else None,
                          "precision": float(diag[i] / predicted[i]) if predicted[i] else None,
                          "support": int(support[i])}
                      for i, c in enumerate(classes)},
        "confusion": confusion.tolist(),
        "skipped": dict(skipped),
        "faces_found": found / n if n else 0.0,
        "ms_per_image": 1000 * seconds / n if n else 0.0,
    }


def format_report(res: dict) -> str:
    """Human-readable table of :func:`evaluate_folder`'s result."""
    classes = res["classes"]
    lines = [f"model {res['model']} on {res['data_dir']}: {res['images']} images, "
             f"accuracy {res['accuracy']:.4f} (faces found in {res['faces_found']:.0%}, "
             f"{res['ms_per_image']:.1f} ms/image)"]
    if res["skipped"]:
        lines.append("skipped (model lacks these classes): "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(res["skipped"].items())))
    lines.append(f"{'class':<10} {'recall':>7} {'prec.':>7} {'n':>6}")
    for c in classes:
        pc = res["per_class"][c]
        fmt = lambda v: "   -   " if v is None else f"{v:7.3f}"  # noqa: E731
        lines.append(f"{c:<10} {fmt(pc['recall'])} {fmt(pc['precision'])} {pc['support']:6d}")
    w = max(6, max(len(c) for c in classes))
    lines.append("confusion (rows true, columns predicted):")
    lines.append(" " * (w + 1) + " ".join(f"{c[:6]:>6}" for c in classes))
    for c, row in zip(classes, res["confusion"]):
        lines.append(f"{c:<{w}} " + " ".join(f"{v:6d}" for v in row))
    return "\n".join(lines)
