"""Labelled face-image folders (``DATA_DIR/<label>/*.jpg``) and label-name mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lecturelens.errors import InputError

#: Canonical emotion names used throughout LectureLens (FER2013's seven plus contempt).
CANONICAL = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")

_ALIASES = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "contempt": "contempt",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "scared": "fear", "afraid": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "smile": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
}

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def canonical_label(name: str) -> str | None:
    """Map a folder/class name (``Anger``, ``happiness``, ``sad`` ...) to a canonical name."""
    return _ALIASES.get(name.strip().lower())


def list_labelled_images(root: str | Path) -> list[tuple[Path, str]]:
    """``(image path, canonical label)`` for every image under ``root/<label>/``.

    Raises:
        InputError: ``root`` is not a folder or holds no labelled images.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; expected DATA_DIR/<label>/*.jpg")
    items = []
    unknown = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        label = canonical_label(sub.name)
        if label is None:
            unknown.append(sub.name)
            continue
        items += [(p, label) for p in sorted(sub.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        hint = f" (unrecognised label folders: {', '.join(unknown)})" if unknown else ""
        raise InputError(f"{root}: no images in <label>/ sub-folders{hint}; expected e.g. "
                         f"{root}/happy/001.jpg")
    return items


def load_gray(items: list[tuple[Path, str]], classes: tuple[str, ...], size: int = 48
              ) -> tuple[np.ndarray, np.ndarray]:
    """Load images as ``N x size x size`` uint8 grayscale and their class indices.

    Images whose label is not in ``classes`` are skipped.
    """
    from PIL import Image

    index = {c: i for i, c in enumerate(classes)}
    xs, ys = [], []
    for path, label in items:
        if label not in index:
            continue
        with Image.open(path) as im:
            im = im.convert("L")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            xs.append(np.asarray(im, dtype=np.uint8))
        ys.append(index[label])
    return np.stack(xs), np.asarray(ys, dtype=np.int64)
