"""Text engines for name labels: PP-OCR (detector + recogniser) and Tesseract, and their vote.

Two engines read each label because each fails where the other holds (measured on Zoom-like
galleries with 10 px labels, see ``docs/names.md``):

* **PP-OCRv4** (the ONNX models inside the ``rapidocr-onnxruntime`` wheel, Apache-2.0) finds
  small light-on-dark text anywhere in a frame (0.3-1 s a 720p frame on one core) and reads
  Latin letters and Chinese, but drops accents and often the space between words
  (``TomaszWojcik``, ``Zoe Lefevre``) and has no Hangul, Cyrillic or Arabic.
* **Tesseract** (Debian's ``tesseract-ocr`` and its languages) reads accents and any script it
  has data for, but only on an isolated, upscaled crop: it reads nothing on the raw frame.

So PP-OCR's detector finds the text boxes, every box is read by both recognisers (Tesseract
on one page of upscaled, cleaned crops: one process per round, not per label), and
:func:`vote` keeps the reading both agree on, in Tesseract's spelling (accents, spaces), or the
engine that can read the script.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Sequence

import numpy as np

from lecturelens.errors import LectureLensError

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 (pixels, x2/y2 exclusive)

#: Confusions of PP-OCR's Latin-less-accents alphabet and Tesseract's, folded before the
#: two readings are compared (``W6jcik`` against ``Wójcik``).
_CONFUSABLE = str.maketrans({"0": "o", "6": "o", "1": "l", "i": "l", "|": "l", "5": "s",
                             "8": "b", "{": "(", "}": ")", "[": "(", "]": ")"})


def skeleton(text: str) -> str:
    """The form two readings are compared in: no accents, case, spaces or punctuation, and
    the letters PP-OCR and Tesseract confuse folded together."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.translate(_CONFUSABLE)
    return "".join(ch for ch in text if ch.isalnum())


def _similar(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.ratio(a, b)) if a and b else 0.0


_CAMEL = re.compile(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ])|(?<=[)\]])(?=\w)|(?<=\d)(?=[A-Za-z])")


def respace(text: str) -> str:
    """Put back the spaces PP-OCR drops: ``TomaszWojcik`` -> ``Tomasz Wojcik``,
    ``(Beginner)Kim`` -> ``(Beginner) Kim``, ``20200759Lee`` -> ``20200759 Lee``."""
    return _CAMEL.sub(" ", text)


def _latin_or_han_only(text: str) -> bool:
    """Every letter is Latin or a CJK ideograph: PP-OCR's alphabet."""
    return all(not ch.isalpha() or unicodedata.name(ch, "").startswith(("LATIN", "CJK"))
               for ch in text)


def _base(ch: str) -> str:
    return unicodedata.normalize("NFKD", ch)[:1].lower()


def merge_letters(pp_text: str, tess_text: str) -> str:
    """Tesseract's reading with PP-OCR's letters where Tesseract read a different plain
    letter (``Garcfa`` + ``Garcia`` -> ``Garcia``); Tesseract's accents, spaces and every
    letter PP-OCR has no accent for stay (``Wójcik`` + ``W6jcik`` -> ``Wójcik``)."""
    import difflib

    p = [ch for ch in pp_text if not ch.isspace()]
    t_pos = [i for i, ch in enumerate(tess_text) if not ch.isspace()]
    t = [_base(tess_text[i]) for i in t_pos]
    out = list(tess_text)
    sm = difflib.SequenceMatcher(None, [c.lower() for c in p], t, autojunk=False)
    for op, a1, a2, b1, b2 in sm.get_opcodes():
        if op != "replace" or a2 - a1 != b2 - b1:
            continue
        for pa, tb in zip(range(a1, a2), range(b1, b2)):
            tch = tess_text[t_pos[tb]]
            if p[pa].isalpha() and tch.isalpha() and tch.isascii() and p[pa].isascii():
                out[t_pos[tb]] = p[pa] if tch.islower() == p[pa].islower() else (
                    p[pa].lower() if tch.islower() else p[pa].upper())
    return "".join(out)


#: Lower-case name particles that stand as words of their own (van der Berg, da Silva).
PARTICLES = frozenset("van der den de da di du dos das del della la le von zu bin binti "
                      "al el ibn ben y e ten ter af av".split())


def rejoin(pp_text: str, tess_text: str) -> str:
    """Undo a space Tesseract put inside a word (``Fà ure``): a lower-case word that is
    not a particle joins the word before it when PP-OCR read the two as one word."""
    pp_words = {skeleton(w) for w in pp_text.split()}
    words = tess_text.split()
    out: list[str] = []
    for w in words:
        if (out and w[:1].islower() and w.lower() not in PARTICLES
                and skeleton(out[-1] + w) in pp_words and skeleton(w) not in pp_words):
            out[-1] += w
        else:
            out.append(w)
    return " ".join(out)


def vote(pp: tuple[str, float] | None, tess: tuple[str, float] | None
         ) -> tuple[str, float, str]:
    """One reading of a label from the two engines' readings.

    Args:
        pp: PP-OCR's ``(text, score 0..1)`` or None.
        tess: Tesseract's ``(text, mean word confidence 0..1)`` or None.

    Returns:
        ``(text, confidence 0..1, source)``; source is ``both``, ``ppocr``, ``tesseract``
        or ``""`` (nothing read).
    """
    p_text, p_conf = pp if pp and pp[0].strip() else ("", 0.0)
    t_text, t_conf = tess if tess and tess[0].strip() else ("", 0.0)
    if not p_text and not t_text:
        return "", 0.0, ""
    if not p_text:
        return t_text, t_conf, "tesseract"
    p_text = respace(p_text)
    if not t_text:
        return p_text, p_conf, "ppocr"
    ps, ts = skeleton(p_text), skeleton(t_text)
    if _similar(ps, ts) >= 80:
        # One text, two spellings: Tesseract's has the accents and spaces, unless it lost a
        # letter at the crop's edge (then PP-OCR's, which saw the whole box).
        conf = max(p_conf, t_conf)
        if len(ts) + 1 < len(ps):
            return p_text, conf, "both"
        return rejoin(p_text, merge_letters(p_text, t_text)), conf, "both"
    # They disagree. A script PP-OCR cannot read (Hangul, Cyrillic, Arabic...) is
    # Tesseract's; otherwise the more confident engine, PP-OCR first on a near tie (it was
    # trained on scene text like these labels; Tesseract on documents).
    t_letters = sum(ch.isalpha() for ch in t_text)
    if (not _latin_or_han_only(t_text) and t_conf >= 0.6 and t_letters >= 2
            and t_letters >= 0.5 * sum(ch.isalpha() for ch in p_text)):
        return t_text, t_conf, "tesseract"
    if p_conf >= t_conf - 0.05:
        return p_text, p_conf, "ppocr"
    return t_text, t_conf, "tesseract"


class PPOCR:
    """PP-OCRv4 text detection and recognition (ONNX, from the ``rapidocr-onnxruntime`` wheel).

    Args:
        threads: ONNX Runtime threads (1: the other core runs the emotion worker).

    Raises:
        LectureLensError: the package is not installed (with the command that installs it).
    """

    name = "ppocr-v4"

    def __init__(self, threads: int = 1):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise LectureLensError(
                "name OCR needs rapidocr-onnxruntime: pip install --no-deps "
                "rapidocr-onnxruntime==1.4.4 && pip install onnxruntime pyclipper shapely "
                "PyYAML six (or run `make install`; --ocr-engine tesseract does without)"
            ) from None
        threads = max(1, threads)
        self._engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)

        from lecturelens.models import get_model_entry

        # The registry's sha256 check: the wheel's files, not some other release's.
        self.weights = get_model_entry("ppocr-v4").check()

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Axis-aligned boxes of the text lines in a frame (top-to-bottom, left-to-right)."""
        quads, _ = self._engine.text_det(np.ascontiguousarray(rgb[:, :, ::-1]))
        if quads is None or len(quads) == 0:
            return []
        H, W = rgb.shape[:2]
        boxes = []
        for q in quads:
            x1, y1 = np.floor(q.min(axis=0)).astype(int)
            x2, y2 = np.ceil(q.max(axis=0)).astype(int)
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(W, x2 + 1), min(H, y2 + 1)
            if x2 - x1 >= 4 and y2 - y1 >= 4:
                boxes.append((int(x1), int(y1), int(x2), int(y2)))
        boxes = join_line_pieces(boxes)
        boxes.sort(key=lambda b: (b[1] // 8, b[0]))
        return boxes

    def recognise(self, rgb: np.ndarray, boxes: Sequence[Box]) -> list[tuple[str, float]]:
        """``(text, score)`` per box; the recogniser sees each box's pixels (BGR, as trained)."""
        if not boxes:
            return []
        crops = [np.ascontiguousarray(mute_colour(rgb[y1:y2, x1:x2])[:, :, ::-1])
                 for x1, y1, x2, y2 in boxes]
        res, _ = self._engine.text_rec(crops)
        return [(str(t), float(s)) for t, s in res]


def join_line_pieces(boxes: Sequence[Box], max_gap: float = 0.8) -> list[Box]:
    """Boxes of one text line joined: similar heights, side by side, less than ``max_gap``
    of their height apart. Over bright video the detector cuts a box-less label (Meet's)
    into pieces (``Grzegorz Ko`` + ``walski``); one label is one box. Labels of two tiles
    stand a tile gap and their own margins apart, more than a word space."""
    out = [list(b) for b in sorted(boxes)]
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                ha, hb = a[3] - a[1], b[3] - b[1]
                overlap = min(a[3], b[3]) - max(a[1], b[1])
                gap = max(a[0], b[0]) - min(a[2], b[2])
                if (overlap >= 0.7 * min(ha, hb) and max(ha, hb) <= 1.4 * min(ha, hb)
                        and gap <= max_gap * max(ha, hb)):
                    out[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]),
                              max(a[3], b[3])]
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return [tuple(b) for b in out]


def mute_colour(crop: np.ndarray) -> np.ndarray:
    """A copy of an RGB crop with its strongly coloured pixels painted with its dark ground.

    Name labels are white or grey letters; the icons beside them are coloured (Zoom's red
    muted microphone), and a recogniser reads an icon as a letter (``E Zoë Adams``).
    """
    import cv2

    r, g, b = cv2.split(np.ascontiguousarray(crop))
    spread = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    coloured = spread > 90
    if not coloured.any():
        return crop
    out = crop.copy()
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    dark = gray <= np.median(gray)
    ground = np.median(crop[dark & ~coloured], axis=0) if (dark & ~coloured).any() else 0
    # Grow the mask a little: the icon's antialiased edge is less coloured than its body.
    coloured = cv2.dilate(coloured.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out[coloured] = ground
    return out


def clean_crop(rgb: np.ndarray, box: Box, target_height: int = 40) -> np.ndarray:
    """Black text on white, upscaled so the box is ``target_height`` px tall.

    Marks touching the crop's edge are dropped: the box has a margin around the text, so they
    are the video beside a translucent label box or the icon before the name, which
    Tesseract would otherwise read as letters (``Muñoz`` -> ``Muñozj``, a mic -> ``i``).
    Meeting apps print light text on a darker ground; that is what this expects.
    """
    import cv2

    x1, y1, x2, y2 = box
    gray = cv2.cvtColor(mute_colour(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    scale = max(1.0, target_height / max(1, y2 - y1))
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, parts = cv2.connectedComponents((bw == 0).astype(np.uint8), connectivity=8)
    edge = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
    bw[np.isin(parts, edge[edge > 0])] = 255
    return bw


def pad_box(box: Box, shape: tuple[int, ...], x_frac: float = 0.3,
            y_frac: float = 0.15) -> Box:
    """``box`` grown by a share of its height (PP-OCR's boxes are tight: a letter touching
    the crop's edge would be dropped as video by :func:`clean_crop`)."""
    x1, y1, x2, y2 = box
    h = y2 - y1
    mx, my = int(round(h * x_frac)), int(round(h * y_frac))
    return (max(0, x1 - mx), max(0, y1 - my), min(shape[1], x2 + mx), min(shape[0], y2 + my))


class TesseractPage:
    """Reads many label crops with one Tesseract process: the crops are cleaned, upscaled and
    stacked into one page (``--psm 6``: one line per crop).

    Args:
        lang: Tesseract language(s), ``+``-joined; already checked against the installed ones.
    """

    name = "tesseract"

    def __init__(self, lang: str):
        try:
            import pytesseract
        except ImportError:
            raise LectureLensError("name OCR needs pytesseract: pip install pytesseract "
                                   "(or run `make install`)") from None
        import shutil

        if shutil.which("tesseract") is None:
            raise LectureLensError("name OCR needs Tesseract: apt-get install tesseract-ocr "
                                   "(or run `make install`; --ocr-lang none skips names)")
        # Tesseract's OpenMP threads fight with the detector's torch threads for 2 cores.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self._tess = pytesseract
        self.lang = lang
        self.calls = 0
        try:
            self.version = str(pytesseract.get_tesseract_version())
        except Exception as exc:  # noqa: BLE001 - a broken install says so here, once
            raise LectureLensError(f"tesseract does not run ({exc}); reinstall tesseract-ocr"
                                   ) from None

    def read(self, rgb: np.ndarray, boxes: Sequence[Box], target_height: int = 48,
             heights: Sequence[int] | None = None) -> list[tuple[str, float]]:
        """``(text, mean word confidence 0..1)`` per box, raw (not normalised).

        ``heights`` gives each box its own upscaled height (the same box may be listed
        twice at two scales); default ``target_height`` for all.
        """
        if not boxes:
            return []
        heights = heights or [target_height] * len(boxes)
        crops = [clean_crop(rgb, b, h) for b, h in zip(boxes, heights)]
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
        words: list[list[tuple[int, str, float]]] = [[] for _ in boxes]
        for text, conf, left, top, h in zip(data["text"], data["conf"], data["left"],
                                            data["top"], data["height"]):
            if not str(text).strip() or float(conf) < 0:
                continue
            cy = top + h / 2
            for k, (a, b) in enumerate(spans):
                if a - gap / 2 <= cy < b + gap / 2:
                    words[k].append((left, str(text), float(conf)))
                    break
        from lecturelens.scripts import is_rtl

        out = []
        for ws in words:
            ws.sort()
            if is_rtl(" ".join(w for _, w, _ in ws)):
                ws.reverse()  # Arabic, Hebrew: the first word is the rightmost
            out.append((" ".join(w for _, w, _ in ws),
                        float(np.mean([c for _, _, c in ws])) / 100 if ws else 0.0))
        return out
