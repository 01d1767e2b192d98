"""``lecturelens eval-emotion``: accuracy, per-class recall and precision, their macro averages
and the confusion matrix of an emotion model on any folder laid out as
``DATA_DIR/<label>/*.jpg`` (any format of :data:`~lecturelens.emotion.data.IMAGE_SUFFIXES`).

Faces are detected first and cut as ``analyze`` cuts them (:mod:`.data`); when no face is
found the whole image is used. Label names are mapped to the model's classes
(``anger``/``angry``, ``happiness``/``happy`` ...); classes the model lacks are reported and
skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from lecturelens.emotion import DEFAULT_EMOTION_MODEL, create_emotion_model
from lecturelens.emotion.data import (face_crops, list_labelled_images, load_rgb,
                                     photo_detector, photo_faces)


def evaluate_folder(data_dir: str | Path, model: str = DEFAULT_EMOTION_MODEL,
                    weights: str | Path | None = None, detect: bool = True, chunk: int = 256,
                    progress: bool = True, threads: int = 0, precision: str = "auto") -> dict:
    """Evaluate an emotion model on a labelled folder.

    Args:
        data_dir: ``DATA_DIR/<label>/*.jpg`` (or any format OpenCV reads).
        model: registry name of the emotion model.
        weights: optional weight file overriding the registry location.
        detect: detect and crop faces first (else use every whole image).
        chunk: images processed at once (bounds memory).
        progress: progress bar on stderr.
        threads: torch CPU threads (0: torch's default).
        precision: ``auto``, ``float`` or ``int8`` (see :func:`create_emotion_model`).

    Returns:
        A JSON-ready dict: ``accuracy``, ``per_class`` recall/precision/support,
        ``macro_recall`` and ``macro_precision`` (see :func:`confusion_scores`),
        ``confusion`` (rows: true class, columns: predicted, both in ``classes`` order),
        ``skipped`` label counts, ``faces_found`` share, ``ms_per_image``, ``precision``.
    """
    from tqdm import tqdm

    em = create_emotion_model(model, weights=weights, threads=threads, precision=precision)
    classes = list(em.classes)
    index = {c: i for i, c in enumerate(classes)}
    items = list_labelled_images(data_dir)
    skipped = Counter(label for _, label in items if label not in index)
    items = [(p, label) for p, label in items if label in index]
    detector = photo_detector(threads) if detect else None
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    found = 0
    t0 = time.perf_counter()
    with tqdm(total=len(items), unit="img", disable=not progress, desc="eval-emotion") as bar:
        for start in range(0, len(items), chunk):
            part = items[start:start + chunk]
            images = [load_rgb(p) for p, _ in part]
            faces = photo_faces(detector, images) if detector else [None] * len(images)
            found += sum(f is not None for f in faces)
            probs, _ = em.predict(face_crops(images, faces, em.input_size))
            for (_, label), pred in zip(part, probs.argmax(1)):
                confusion[index[label], pred] += 1
            bar.update(len(part))
    seconds = time.perf_counter() - t0
    n = int(confusion.sum())
    return {
        "data_dir": str(data_dir),
        "model": em.name,
        "weights": em.weights,
        "detect": detect,
        "precision": em.precision,
        **confusion_scores(confusion, classes),
        "skipped": dict(skipped),
        "faces_found": found / n if n else 0.0,
        "ms_per_image": 1000 * seconds / n if n else 0.0,
    }


def confusion_scores(confusion, classes: list[str]) -> dict:
    """Scores of a confusion matrix (rows: true class, columns: predicted).

    Returns:
        ``images``, ``accuracy``, ``macro_recall`` and ``macro_precision`` (unweighted means
        over the classes that have images, so every class counts the same however many
        images it has; a class never predicted has precision 0; ``None`` without images),
        ``classes``, ``per_class`` recall/precision/support (``None`` where undefined) and
        ``confusion`` as lists.
    """
    confusion = np.asarray(confusion, np.int64)
    support = confusion.sum(1)
    predicted = confusion.sum(0)
    diag = np.diag(confusion)
    n = int(support.sum())
    present = support > 0
    recall = np.divide(diag, support, out=np.zeros(len(classes)), where=present)
    precision = np.divide(diag, predicted, out=np.zeros(len(classes)), where=predicted > 0)
    return {
        "images": n,
        "accuracy": float(diag.sum() / n) if n else 0.0,
        "macro_recall": float(recall[present].mean()) if n else None,
        "macro_precision": float(precision[present].mean()) if n else None,
        "classes": list(classes),
        "per_class": {c: {"recall": float(recall[i]) if support[i] else None,
                          "precision": float(precision[i]) if predicted[i] else None,
                          "support": int(support[i])}
                      for i, c in enumerate(classes)},
        "confusion": confusion.tolist(),
    }


def format_report(res: dict) -> str:
    """Human-readable table of :func:`evaluate_folder`'s result."""
    classes = res["classes"]
    lines = [f"model {res['model']} on {res['data_dir']}: {res['images']} images, "
             f"accuracy {res['accuracy']:.4f} ({res['precision']}, faces found in "
             f"{res['faces_found']:.0%}, "
             f"{res['ms_per_image']:.1f} ms/image)"]
    if res["skipped"]:
        lines.append("skipped (model lacks these classes): "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(res["skipped"].items())))
    lines.append(f"{'class':<10} {'recall':>7} {'prec.':>7} {'n':>6}")

    def fmt(v):
        return "   -   " if v is None else f"{v:7.3f}"

    for c in classes:
        pc = res["per_class"][c]
        lines.append(f"{c:<10} {fmt(pc['recall'])} {fmt(pc['precision'])} {pc['support']:6d}")
    lines.append(f"{'macro avg':<10} {fmt(res.get('macro_recall'))} "
                 f"{fmt(res.get('macro_precision'))} {res['images']:6d}")
    w = max(6, max(len(c) for c in classes))
    lines.append("confusion (rows true, columns predicted):")
    lines.append(" " * (w + 1) + " ".join(f"{c[:6]:>6}" for c in classes))
    for c, row in zip(classes, res["confusion"]):
        lines.append(f"{c:<{w}} " + " ".join(f"{v:6d}" for v in row))
    return "\n".join(lines)
