"""Stage 3, names: the participant name labels that meeting apps print on each tile, by OCR.

Zoom and Teams print a participant's name in white on a dark (often translucent) box at the
bottom-left of their tile, and in large type in the tile's centre when the camera is off.
Finding those labels is cheap (a threshold and a morphological close on the frame), reading
them is not (one Tesseract process costs about 120 ms), so:

* :func:`find_labels` runs on every sampled frame and returns the label boxes; their layout
  (positions, quantised) tells when the gallery changed;
* :class:`NameReader` reads all labels of a frame with **one** Tesseract call (the label crops
  are cleaned, upscaled and stacked into one page; ``--psm 6`` gives one line per crop),
  only when the layout changes or every ``interval`` seconds;
* :func:`attach_labels` gives each label to the face of its tile (the nearest face above and
  to the right of the label's left end); a label left without a face is a camera-off tile.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lecturelens.detect import Face
from lecturelens.errors import LectureLensError
from lecturelens.people import DIFFERENT_NAME, CameraOffLog, NameVotes, name_similarity


@dataclass
class Label:
    """A text label found in a frame: box ``x1, y1, x2, y2`` and, once read, its text."""

    box: tuple[int, int, int, int]
    text: str = ""
    conf: float = 0.0  # 0..1, Tesseract's mean word confidence

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def find_labels(rgb: np.ndarray, min_height: int = 6, max_height: int = 60) -> list[Label]:
    """Boxes of light text on a dark background (meeting-app name labels).

    Args:
        rgb: the frame, ``H x W x 3`` uint8.
        min_height, max_height: accepted text heights in pixels.

    Returns:
        Labels sorted top-to-bottom, left-to-right (text not read yet).
    """
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # Thin light strokes on a darker ground: a white top-hat keeps letters and drops bright
    # areas wider than a stroke (a lit wall, a white shirt, a slide).
    tophat = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    # Channel spread (max - min: 0 for greys) with OpenCV: numpy's axis-2 reductions cost
    # 20 ms a 720p frame, and this runs on every sampled frame.
    r, g, b = cv2.split(np.ascontiguousarray(rgb))
    spread = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    text = ((tophat >= 50) & (gray >= 215) & (spread <= 40)).astype(np.uint8)
    # Letters of one word touch after a small dilation; words join into lines below.
    words = cv2.dilate(text, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(words, connectivity=8)
    # Pieces shorter than a letter (the bar of a t, an accent) still join their line.
    boxes = [[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:]
             if 2 <= h <= max_height + 2 and w <= 40 * h]
    lines = _merge_words(boxes)
    H, W = gray.shape
    labels = []
    for x1, y1, x2, y2 in lines:
        h, w = y2 - y1, x2 - x1
        if not (min_height <= h <= max_height + 2) or w < 1.5 * h or w > W / 2:
            continue
        m = max(2, h // 3)
        X1, Y1, X2, Y2 = max(0, x1 - m), max(0, y1 - m), min(W, x2 + m), min(H, y2 + m)
        ring = text[Y1:Y2, X1:X2] == 0
        ground = gray[Y1:Y2, X1:X2][ring]
        fill = text[y1:y2, x1:x2].mean()
        # Name labels are light strokes on a dark, neutral ground (a black box, a grey
        # tile); a slide's title bar or a poster is coloured.
        if (ground.size == 0 or (ground < 100).mean() < 0.8 or not 0.06 <= fill <= 0.6
                or np.median(spread[Y1:Y2, X1:X2][ring]) > 45):
            continue
        labels.append(Label((int(X1), int(Y1), int(X2), int(Y2))))
    labels.sort(key=lambda lb: (lb.box[1] // 8, lb.box[0]))
    return labels


def _merge_words(boxes: list[list[int]]) -> list[list[int]]:
    """Join word boxes of one line: similar heights, side by side, < a height apart."""

    def joinable(a, b):
        h = max(a[3] - a[1], b[3] - b[1])
        lo = min(a[3] - a[1], b[3] - b[1])
        overlap = min(a[3], b[3]) - max(a[1], b[1])
        gap = max(a[0], b[0]) - min(a[2], b[2])
        # Similar heights keep a bright detail of the video next to a label out of its
        # line; a lower-case letter is half a capital, an accent or a t's bar less.
        return overlap >= 0.6 * lo and h <= 4 * lo and gap <= 1.1 * h

    merged = [list(b) for b in sorted(boxes)]
    changed = True
    while changed:
        changed = False
        out: list[list[int]] = []
        for b in merged:
            for m in out:
                if joinable(m, b):
                    m[:] = [min(m[0], b[0]), min(m[1], b[1]), max(m[2], b[2]), max(m[3], b[3])]
                    changed = True
                    break
            else:
                out.append(b)
        merged = out
    return merged


def layout_key(labels: Sequence[Label], quantum: int = 16) -> frozenset:
    """A hashable summary of where the labels are and how long their text is; it changes
    when the gallery changes, including a reshuffle that keeps every tile in place."""
    return frozenset((lb.box[0] // quantum, lb.box[3] // quantum,
                      (lb.box[2] - lb.box[0]) // quantum) for lb in labels)


def _clean_crop(rgb: np.ndarray, box, target_height: int = 40) -> np.ndarray:
    """Black text on white, upscaled so the text is ``target_height`` px tall.

    Marks touching the crop's edge are dropped: the label box has a margin around the text,
    so they are the video beside a translucent label box, which Tesseract would otherwise
    read as letters (``Muñoz`` -> ``Muñozj``, the accent of ``García`` joined to a bar above
    it -> ``Garcfa``).
    """
    import cv2

    x1, y1, x2, y2 = box
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    scale = max(1.0, target_height / max(1, y2 - y1))
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, parts = cv2.connectedComponents((bw == 0).astype(np.uint8), connectivity=8)
    edge = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
    bw[np.isin(parts, edge[edge > 0])] = 255
    return bw


def normalise_name(text: str) -> str:
    """Tidy an OCR'd name: NFC, single spaces, no letterless tokens, no stray end marks.

    A word that starts with a lower-case ``l`` followed by lower-case letters is read as
    ``I`` (``lvanov`` -> ``Ivanov``): in the sans-serif fonts of meeting apps the two glyphs
    are the same, and names are capitalised.
    """
    text = unicodedata.normalize("NFC", text)
    words = []
    for w in text.split():
        w = w.strip(".,;:|_'\"`~!*()[]{}<>/\\\u201c\u201d\u2018\u2019\u00ab\u00bb")
        if not any(ch.isalpha() for ch in w):
            continue
        if len(w) >= 3 and w[0] == "l" and w[1:].isalpha() and w[1:].islower() and (
                words or w[1] not in "aeiouy"):
            w = "I" + w[1:]
        words.append(w)
    # A lone lower-case letter after a name is the edge of the label box read as text.
    while len(words) > 1 and len(words[-1]) == 1 and words[-1].islower():
        words.pop()
    return " ".join(words)


#: Labels read with a lower mean Tesseract confidence are dropped (noise read as text).
MIN_CONF = 0.6


def plausible_name(text: str, conf: float = 1.0) -> bool:
    """Mostly letters, at least two, read confidently: rejects OCR of noise and icons."""
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 2 and letters >= 0.6 * len(text.replace(" ", "")) and conf >= MIN_CONF


def tesseract_languages() -> set[str]:
    """Languages the installed Tesseract has data for (``tesseract --list-langs``)."""
    import subprocess

    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                         check=False, timeout=30).stdout
    return {ln.strip() for ln in out.splitlines()[1:] if ln.strip()}


class NameReader:
    """Reads label text with Tesseract, one process per frame's worth of labels.

    Args:
        lang: Tesseract language(s), e.g. ``eng`` or ``eng+fra``; ``auto``: the Latin-script
            model when installed (Debian ``tesseract-ocr-script-latn``), else ``eng``.

    Raises:
        LectureLensError: Tesseract or pytesseract is missing (with the fix).
    """

    def __init__(self, lang: str = "auto"):
        try:
            import pytesseract
        except ImportError:
            raise LectureLensError("name OCR needs pytesseract: pip install pytesseract "
                                   "(or run `make install`)") from None
        if shutil.which("tesseract") is None:
            raise LectureLensError("name OCR needs Tesseract: apt-get install tesseract-ocr "
                                   "(or run `make install`; --ocr-lang none skips names)")
        # Tesseract's OpenMP threads fight with the detector's torch threads for 2 cores.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self._tess = pytesseract
        self.calls = 0
        try:
            self.version = str(pytesseract.get_tesseract_version())
        except Exception as exc:  # noqa: BLE001 - a broken install says so here, once
            raise LectureLensError(f"tesseract does not run ({exc}); reinstall tesseract-ocr"
                                   ) from None
        langs = tesseract_languages()
        if lang == "auto":
            # Tesseract's Latin-script model reads accented names (García, Muñoz) that the
            # English one turns into Garcia, Mufioz.
            lang = "Latin" if "Latin" in langs else "eng"
        self.lang = lang
        missing = [lg for lg in lang.split("+") if lg not in langs]
        if missing:
            pkg = "script-latn" if missing[0] == "Latin" else missing[0].lower()
            raise LectureLensError(f"tesseract has no language data for {', '.join(missing)}; "
                                   f"apt-get install tesseract-ocr-{pkg} (installed: "
                                   f"{', '.join(sorted(langs))})")

    def read(self, rgb: np.ndarray, labels: Sequence[Label]) -> list[Label]:
        """Fill in ``text`` and ``conf`` of every label (in place); return the labels."""
        if not labels:
            return list(labels)
        crops = [_clean_crop(rgb, lb.box) for lb in labels]
        gap, pad = 30, 20
        width = max(c.shape[1] for c in crops) + 2 * pad
        height = sum(c.shape[0] for c in crops) + gap * (len(crops) - 1) + 2 * pad
        page = np.full((height, width), 255, np.uint8)
        spans = []
        y = pad
        for c in crops:
            page[y:y + c.shape[0], pad:pad + c.shape[1]] = c
            spans.append((y, y + c.shape[0]))
            y += c.shape[0] + gap
        data = self._tess.image_to_data(page, lang=self.lang, config="--psm 6",
                                        output_type=self._tess.Output.DICT)
        self.calls += 1
        words: list[list[tuple[int, str, float]]] = [[] for _ in labels]
        for text, conf, left, top, h in zip(data["text"], data["conf"], data["left"],
                                            data["top"], data["height"]):
            if not str(text).strip() or float(conf) < 0:
                continue
            cy = top + h / 2
            for k, (a, b) in enumerate(spans):
                if a - gap / 2 <= cy < b + gap / 2:
                    words[k].append((left, str(text), float(conf)))
                    break
        for lb, ws in zip(labels, words):
            ws.sort()
            lb.text = normalise_name(" ".join(w for _, w, _ in ws))
            lb.conf = float(np.mean([c for _, _, c in ws])) / 100 if ws else 0.0
        return list(labels)


def attach_labels(labels: Sequence[Label], faces: Sequence[Face]
                  ) -> tuple[dict[int, Label], list[Label]]:
    """Give each label to the face of its tile.

    Meeting apps put the label at the tile's bottom-left, so the labels outline the grid:
    a label's tile spans from its left end to the next label of its row, and from the
    labels of the row above down to it. A face whose centre lies in that span is a
    candidate; nearest pairs are matched first, each face and label used once.

    Returns:
        ``(face index -> label, labels with no face)``; the latter are camera-off tiles (or
        big camera-off names in a tile's centre).
    """
    pairs = []
    for li, lb in enumerate(labels):
        lx1, ly1, _, ly2 = lb.box
        right = min([o.box[0] for o in labels if o is not lb and o.box[0] > lx1
                     and min(o.box[3], ly2) - max(o.box[1], ly1) > 0], default=float("inf"))
        top = max([o.box[3] for o in labels if o.box[3] <= ly1
                   and lx1 - lb.height <= o.box[0] < right], default=0)
        for fi, f in enumerate(faces):
            x1, y1, x2, y2 = (float(v) for v in f.box)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if lx1 <= cx < right and top <= cy <= ly1:
                pairs.append((float(np.hypot(cx - lx1, cy - ly2)), li, fi))
    pairs.sort()
    by_face: dict[int, Label] = {}
    used: set[int] = set()
    for _, li, fi in pairs:
        if li in used or fi in by_face:
            continue
        used.add(li)
        by_face[fi] = labels[li]
    return by_face, [lb for li, lb in enumerate(labels) if li not in used]


class NameStage:
    """Decides when to read labels, reads them, and keeps the readings per track.

    A reading round happens on the first frame, when the label layout changes or a new face
    track starts (a reshuffle, someone joining), while some visible track has fewer than
    ``min_reads`` readings (at most every ``min_spacing`` seconds), and every ``interval``
    seconds. Labels are looked for on every frame where something changed outside the
    known faces: that is how a layout change is seen.

    Args:
        reader: the OCR engine.
        interval: seconds between routine re-reads of an unchanged layout.
        min_reads: readings wanted per track before only routine re-reads are done.
        min_spacing: seconds between rounds at least (labels flicker; OCR costs).
    """

    def __init__(self, reader: NameReader, interval: float = 30.0, min_reads: int = 3,
                 min_spacing: float = 2.0):
        self.reader = reader
        self.interval = interval
        self.min_reads = min_reads
        self.min_spacing = min_spacing
        self.votes: dict[int, NameVotes] = {}
        self.camera_off = CameraOffLog()
        self.rounds = 0
        self._last_round: float | None = None
        self._last_key: frozenset | None = None

    def _due(self, t: float, key: frozenset, track_ids: Sequence[int], new_track: bool) -> bool:
        if self._last_round is None:
            return True
        since = t - self._last_round
        if since >= self.interval:
            return True
        if since < self.min_spacing:
            return False
        changed = key != self._last_key and len(key ^ self._last_key) > 0.2 * max(len(key), 1)
        return changed or new_track or self._needy(track_ids)

    def _needy(self, track_ids: Sequence[int]) -> bool:
        """Some visible track still has fewer than ``min_reads`` readings."""
        return any(self.votes[tid].n < self.min_reads if tid in self.votes else True
                   for tid in track_ids)

    def update(self, t: float, rgb: np.ndarray, faces: Sequence[Face],
               track_ids: list[int], new_track: bool = False, tracker=None,
               changed: bool = True) -> bool:
        """Process one sampled frame; return whether its labels were read.

        With ``tracker``, a face whose label confidently contradicts its track's name is
        split off into a new track (``track_ids`` is updated in place): the appearance gate
        misses a reshuffle that puts a look-alike in the same tile, the label does not.
        ``changed=False`` says that nothing changed outside the known faces since the last
        frame (see :class:`~lecturelens.detect.FaceFollower`): then the labels are not even
        looked for unless a round is due anyway (finding them costs 20 ms a frame).
        """
        if not changed and not self._due(t, self._last_key, track_ids, new_track):
            # Nothing changed outside the faces, so the layout is the last one: a round is due
            # only for the reasons that need no new labels.
            return False
        labels = find_labels(rgb)
        key = layout_key(labels)
        if not self._due(t, key, track_ids, new_track):
            return False
        self._last_round, self._last_key = t, key
        self.rounds += 1
        # A label over a face is a bright detail of the face (teeth, glasses), not a label.
        labels = [lb for lb in labels if not _inside_any(lb, faces)]
        self.reader.read(rgb, labels)
        labels = [lb for lb in labels if plausible_name(lb.text, lb.conf)]
        by_face, orphans = attach_labels(labels, faces)
        for fi, lb in by_face.items():
            votes = self.votes.get(track_ids[fi])
            if tracker is not None and votes is not None and votes.n:
                name, conf = votes.best()
                if conf >= MIN_CONF and name_similarity(name, lb.text) < DIFFERENT_NAME:
                    track_ids[fi] = tracker.split(track_ids[fi], t, faces[fi])
            self.votes.setdefault(track_ids[fi], NameVotes()).add(lb.text, lb.conf)
        self.camera_off.seen(t, [(lb.text, lb.conf) for lb in orphans])
        return True

    def close(self, t_end: float) -> None:
        self.camera_off.close(t_end)


def _inside_any(label: Label, faces: Sequence[Face]) -> bool:
    cx = (label.box[0] + label.box[2]) / 2
    cy = (label.box[1] + label.box[3]) / 2
    return any(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3] for f in faces)
