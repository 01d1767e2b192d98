"""Compose a video-conference recording with known truth, for tests and benchmarks.

Tiles in a grid on a Zoom-like dark background, each showing one real face video (scaled to
the tile's height, centred, with dark side bars as meeting apps show square/portrait
cameras) and a white name label at the tile's bottom-left. At the given reshuffle times
the people move to other tiles, as meeting apps do when someone joins or speaks.

The hard cases that "who is who" must survive can be scheduled too (see
:func:`compose_gallery` and :func:`hard_case_schedule`): a person turns the camera off (their
tile shows only their name), leaves and rejoins (the gallery is laid out again for the people
present, and the returning person is placed last), or someone shares the screen (a slide
fills most of the frame and a strip of small tiles shows a few participants). The default
names include accented Latin-1 letters, and when tiles outnumber face videos the videos are
reused mirrored as different people.

Skins (``skin=``): ``"classic"`` is the original look above (labels scaled with the tile, no
UI around the gallery, the default). ``"zoom"``, ``"teams"`` and ``"meet"`` draw what those
apps draw, every parameter randomised by the seed around the values measured on real screens
(:mod:`lecturelens.dev.skins`): a label size that does not scale with the tile, muted-mic icons,
``...`` truncation, camera-off tiles, an active-speaker border that moves, UI chrome whose
text is never a name, random names of many scripts with what people type around them
(student IDs, ``(Host)``, pronouns), and a low-bitrate final encode. ``layout=`` adds the
speaker view and a whole-video screen share. The truth records, per tile, both the person's
canonical ``name`` and the exact ``label`` printed.

The face videos come from ``${LECTURELENS_DATA:-../shared/data}/videos``; with no data folder
the composer falls back to scikit-image's ``astronaut`` photo (a real face shipped in a pip
package), animated with a slow zoom and drift. The output video is H.264 written through the
ffmpeg binary shipped by imageio-ffmpeg; the truth file says which tile shows whom, when.
Nothing composed here is meant to be committed.
"""

from __future__ import annotations

import json
import math
import os
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from lecturelens.atomic import write_json
from lecturelens.fonts import covers, label_font

BACKGROUND = (26, 26, 26)
TILE_BG = (35, 35, 38)
SLIDE_BG = (248, 248, 244)
DEFAULT_NAMES = [
    "Ana García", "Ben Okafor", "Chloé Martin", "Dmitri Ivanov", "Emma Schmidt",
    "Farid Haddad", "Giulia Rossi", "Hiro Tanaka", "Ingrid Nilsson", "José Muñoz",
    "Kwame Mensah", "Léa Dubois", "Maya Cohen", "Nikhil Rao", "Olga Petrova",
    "Pablo Reyes", "Qing Li", "Rosa Silva", "Søren Lund", "Tomás Novák",
    "Uma Patel", "Victor Hugo", "Wen Zhao", "Yara Nasser", "Zoë Adams",
    "Jürgen Weiß", "Inês Conceição", "Björn Åkesson", "Frédéric Lefèvre", "Nuria Ibáñez",
]

#: Slides shown while someone shares the screen; the footer names a lecturer who is not a
#: participant, so reading it as a tile's name is an error an evaluation can catch.
SLIDES = [
    ("Lecture 3: Photosynthesis",
     ["Light reactions happen in the thylakoid membranes",
      "The Calvin cycle fixes CO2 into sugars",
      "Chlorophyll absorbs mostly red and blue light",
      "Reading: Campbell Biology, chapter 10"],
     "Prof. Renée Fischer · Biology 101"),
    ("Lecture 4: Cellular Respiration",
     ["Glycolysis splits glucose into two pyruvates",
      "The Krebs cycle runs in the mitochondrial matrix",
      "Oxidative phosphorylation makes most of the ATP",
      "Quiz on Friday: chapters 9 and 10"],
     "Prof. Renée Fischer · Biology 101"),
    ("Week 5: Supply and Demand",
     ["Demand falls as the price rises",
      "Equilibrium: quantity supplied = quantity demanded",
      "Shifts versus movements along a curve",
      "Problem set 2 is due next Monday"],
     "Dr. Andrés Villalobos · Economics 110"),
]

# Letters that NFKD does not decompose into a base letter plus accent.
_ASCII_FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ð": "d",
                             "Ð": "D", "þ": "th", "Þ": "Th", "·": "-"})


def data_dir() -> Path:
    """The development data folder: ``$LECTURELENS_DATA`` or ``../shared/data``."""
    env = os.environ.get("LECTURELENS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def face_videos(root: Path | None = None) -> list[Path]:
    """The real face videos available for composing, sorted by name (may be empty)."""
    folder = (root or data_dir()) / "videos"
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


def font_renders(text: str, size: int = 20) -> bool:
    """Whether :func:`label_font` draws every character of ``text`` (no missing-glyph boxes)."""
    return covers(label_font(size), text, ignore=" ")


def displayable(text: str) -> str:
    """``text`` as the label font can draw it: accents folded to ASCII only where needed."""
    if font_renders(text):
        return text
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(c for c in folded if not unicodedata.combining(c))


def grid_rects(rows: int, cols: int, width: int, height: int, gap: int = 6,
               aspect: float = 16 / 9) -> list[tuple[int, int, int, int]]:
    """Tile rectangles ``(x, y, w, h)``, row by row, centred like a meeting app's gallery."""
    tw = (width - gap * (cols + 1)) / cols
    th = (height - gap * (rows + 1)) / rows
    if tw / th > aspect:
        tw = th * aspect
    else:
        th = tw / aspect
    tw, th = int(tw), int(th)
    x0 = (width - (cols * tw + (cols - 1) * gap)) // 2
    y0 = (height - (rows * th + (rows - 1) * gap)) // 2
    return [(x0 + c * (tw + gap), y0 + r * (th + gap), tw, th)
            for r in range(rows) for c in range(cols)]


def gallery_shape(n: int, width: int, height: int, gap: int = 6,
                  aspect: float = 16 / 9) -> tuple[int, int]:
    """The ``(rows, cols)`` a meeting app picks for ``n`` tiles: the largest tiles that fit.

    Among the grids with room for ``n`` tiles and no empty row, the one whose tiles are
    largest wins; ties go to more columns (a wide frame fills with wide rows).
    """
    if n < 1:
        raise ValueError("a gallery needs at least one tile")
    best, best_key = (1, n), None
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        tw = grid_rects(rows, cols, width, height, gap, aspect)[0][2]
        key = (tw, cols)
        if best_key is None or key > best_key:
            best, best_key = (rows, cols), key
    return best


def gallery_rects(n: int, rows: int, cols: int, width: int, height: int, gap: int = 6,
                  aspect: float = 16 / 9) -> list[tuple[int, int, int, int]]:
    """The first ``n`` tiles of a ``rows`` x ``cols`` grid, a partial last row centred.

    Meeting apps centre the leftover tiles of the last row rather than leaving them flush
    left, so a gallery with one person fewer looks laid out anew even on the same grid.
    """
    rects = grid_rects(rows, cols, width, height, gap, aspect)[:n]
    last = n - (rows - 1) * cols
    if 0 < last < cols:
        tw = rects[0][2]
        shift = (cols - last) * (tw + gap) // 2
        rects[-last:] = [(x + shift, y, w, h) for x, y, w, h in rects[-last:]]
    return rects


def screen_share_layout(n_strip: int, width: int, height: int
                        ) -> tuple[list[tuple[int, int, int, int]], tuple[int, int, int, int]]:
    """Rectangles of a screen-share view: a strip of small tiles on top, the screen below.

    Args:
        n_strip: tiles wanted in the strip (fewer come back if they do not fit the width).
        width, height: frame size.

    Returns:
        ``(strip_rects, screen_rect)``; strip tiles are about a sixth of the frame wide
        (200 x 112 at 1280 x 720), the screen is the largest 16:9 area below them.
    """
    gap = max(2, round(width / 213))
    tw = round(width * 0.156)
    th = round(tw * 9 / 16)
    fit = max(1, (width - gap) // (tw + gap))
    n = max(0, min(n_strip, fit))
    x0 = (width - (n * tw + (n - 1) * gap)) // 2
    strip = [(x0 + i * (tw + gap), gap, tw, th) for i in range(n)]
    top = gap + th + gap
    sw, sh = width - 2 * gap, height - top - gap
    if sw / sh > 16 / 9:
        sw = int(sh * 16 / 9)
    else:
        sh = int(sw * 9 / 16)
    screen = ((width - sw) // 2, top + (height - top - gap - sh) // 2, sw, sh)
    return strip, screen


class _VideoSource:
    """Frames of one face video at arbitrary times, looping, read sequentially."""

    def __init__(self, path: Path, mirror: bool = False, offset: float = 0.0):
        import cv2

        self.path, self.mirror, self.offset = path, mirror, offset
        cap = cv2.VideoCapture(str(path))
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        self.n_frames = max(n, 1)
        self._cap = None
        self._index = -1  # index of the frame held in self._frame
        self._frame = None

    def frame(self, t: float) -> np.ndarray:
        import cv2

        target = int((t + self.offset) * self.fps) % self.n_frames
        if self._cap is None or target < self._index:
            if self._cap is not None:
                self._cap.release()
            self._cap = cv2.VideoCapture(str(self.path))
            self._index, self._frame = -1, None
        while self._index < target:
            ok, bgr = self._cap.read()
            if not ok:  # container frame count was optimistic: hold the last frame
                self.n_frames = max(self._index + 1, 1)
                break
            self._index += 1
            self._frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if self._frame is None:
            raise RuntimeError(f"{self.path}: no frame could be decoded")
        return self._frame[:, ::-1] if self.mirror else self._frame

    def close(self):
        if self._cap is not None:
            self._cap.release()


class _StillSource:
    """A photo animated with a slow zoom and drift, so it behaves like a webcam feed."""

    def __init__(self, image: np.ndarray, phase: float = 0.0, mirror: bool = False):
        self.image = image[:, ::-1] if mirror else image
        self.phase = phase

    def frame(self, t: float) -> np.ndarray:
        import cv2

        h, w = self.image.shape[:2]
        s = 1.0 + 0.04 * np.sin(0.7 * t + self.phase)
        dx = 6 * np.sin(0.5 * t + 2 * self.phase)
        dy = 4 * np.cos(0.4 * t + self.phase)
        m = np.float32([[s, 0, (1 - s) * w / 2 + dx], [0, s, (1 - s) * h / 2 + dy]])
        return cv2.warpAffine(self.image, m, (w, h), borderMode=cv2.BORDER_REFLECT)

    def close(self):
        pass


def _astronaut() -> np.ndarray:
    from skimage import data

    img = data.astronaut()
    return np.ascontiguousarray(img[0:300, 80:380])  # head and shoulders, square


@dataclass
class Person:
    """One participant of a composed gallery."""

    person_id: str
    name: str
    source: str
    mirrored: bool = False
    label: str = ""  # the label text as typed (before any truncation); "" = the name
    script: str = "latin"
    culture: str = ""
    given: str = ""
    family: str = ""
    muted: bool = False


def _classic_font(text: str, size: int, bold: bool = False):
    """The classic skin's font: DejaVu Sans, or a font of the text's script (Hangul, Han,
    Arabic) when DejaVu lacks its letters."""
    if font_renders(text):
        return label_font(size, bold)
    from lecturelens.dev.skins import _guess_info, text_font

    return text_font(text, _guess_info(text).script, size, bold) or label_font(size, bold)


def _draw_label(tile: np.ndarray, name: str, font_px: int) -> None:
    from PIL import Image, ImageDraw

    font = _classic_font(name, font_px)
    pad = max(3, font_px // 4)
    x0, y0, x1, y1 = font.getbbox(name)
    w, h = x1 - x0 + 2 * pad, font_px + 2 * pad
    y = tile.shape[0] - h - pad
    region = tile[y:y + h, pad:pad + w]
    if region.shape[0] <= 0 or region.shape[1] <= 0:
        return
    img = Image.fromarray((region * 0.35).astype(np.uint8))  # translucent dark box
    ImageDraw.Draw(img).text((pad - x0, pad - y0 + (font_px - (y1 - y0)) // 2), name,
                             font=font, fill=(255, 255, 255))
    tile[y:y + h, pad:pad + w] = np.asarray(img)[: region.shape[0], : region.shape[1]]


def _fit(src_hw: tuple[int, int], w: int, h: int) -> tuple[int, int, int, int]:
    """Offset and size ``(ox, oy, nw, nh)`` of a source scaled to fit inside ``w`` x ``h``."""
    sh, sw = src_hw
    scale = min(h / sh, w / sw)
    nh, nw = int(round(sh * scale)), int(round(sw * scale))
    return (w - nw) // 2, (h - nh) // 2, nw, nh


def _label_px(h: int, small: bool) -> int:
    # Meeting apps keep strip labels readable rather than scaling them with the tiny tile.
    return max(10, h // 9) if small else max(10, h // 12)


def _render_tile(src_frame: np.ndarray, rect: tuple[int, int, int, int], name: str,
                 font_px: int | None = None) -> tuple[np.ndarray, list[int]]:
    """The tile image and the face-video area inside it (frame coordinates)."""
    import cv2

    x, y, w, h = rect
    tile = np.empty((h, w, 3), np.uint8)
    tile[:] = TILE_BG
    ox, oy, nw, nh = _fit(src_frame.shape[:2], w, h)
    resized = cv2.resize(src_frame, (nw, nh), interpolation=cv2.INTER_AREA)
    tile[oy:oy + nh, ox:ox + nw] = resized
    _draw_label(tile, name, font_px=font_px or _label_px(h, False))
    return tile, [x + ox, y + oy, nw, nh]


def _render_camera_off(w: int, h: int, name: str, font_px: int) -> np.ndarray:
    """A camera-off tile: the name large in the centre, as Zoom shows it, and the label."""
    from PIL import Image, ImageDraw

    size = max(10, h // 6)
    while size > 10 and _classic_font(name, size).getlength(name) > 0.85 * w:
        size -= 1
    font = _classic_font(name, size)
    img = Image.new("RGB", (w, h), TILE_BG)
    x0, y0, x1, y1 = font.getbbox(name)
    ImageDraw.Draw(img).text(((w - (x1 - x0)) // 2 - x0, (h - (y1 - y0)) // 2 - y0), name,
                             font=font, fill=(235, 235, 235))
    tile = np.array(img)
    _draw_label(tile, name, font_px)
    return tile


def _render_slide(w: int, h: int, slide: tuple[str, list[str], str]) -> np.ndarray:
    """A lecture slide: title, bullet lines, a footer naming the lecturer, a small diagram."""
    from PIL import Image, ImageDraw

    title, bullets, footer = (displayable(slide[0]), [displayable(b) for b in slide[1]],
                              displayable(slide[2]))
    img = Image.new("RGB", (w, h), SLIDE_BG)
    d = ImageDraw.Draw(img)
    margin = w // 16
    d.rectangle([0, 0, w, h // 7], fill=(30, 70, 120))
    tfont = label_font(max(10, h // 13), bold=True)
    d.text((margin, h // 14), title, font=tfont, fill=(255, 255, 255), anchor="lm")
    bfont = label_font(max(8, h // 24))
    bullet = "•" if font_renders("•") else "-"
    y = h // 7 + h // 12
    for line in bullets:
        d.text((margin, y), f"{bullet} {line}", font=bfont, fill=(40, 40, 40))
        y += int(h * 0.085)
    # A leaf-and-sun sketch: the non-text content slides usually carry.
    cx, cy, r = int(w * 0.82), int(h * 0.78), max(4, h // 14)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(250, 200, 40))
    d.ellipse([cx - 4 * r, cy - r // 2, cx - 2 * r, cy + 2 * r], fill=(70, 150, 60))
    ffont = label_font(max(8, h // 36))
    d.text((margin, h - h // 20), footer, font=ffont, fill=(110, 110, 110), anchor="lm")
    return np.array(img)


def _interval_list(items, n_people: int | None, duration: float, what: str) -> list[tuple]:
    """Validated ``(person, start, end)`` (or ``(start, end)``) tuples clipped to the video."""
    out = []
    for item in items:
        item = tuple(item)
        if n_people is not None:
            if len(item) != 3:
                raise ValueError(f"{what}: expected (person_index, start, end), got {item!r}")
            p, start, end = int(item[0]), float(item[1]), float(item[2])
            if not 0 <= p < n_people:
                raise ValueError(f"{what}: person index {p} out of range 0..{n_people - 1}")
        else:
            if len(item) != 2:
                raise ValueError(f"{what}: expected (start, end), got {item!r}")
            p, start, end = None, float(item[0]), float(item[1])
        if not start < end:
            raise ValueError(f"{what}: interval {start}-{end} is empty")
        start, end = max(0.0, start), min(float(duration), end)
        if start < end:
            out.append((p, start, end) if n_people is not None else (start, end))
    return out


def hard_case_schedule(n_people: int, duration: float, seed: int = 0) -> dict:
    """A schedule of the hard cases for identity evaluation, reproducible from ``seed``.

    Two reshuffles (~25% and ~75%); two people with their camera off for ~15% of the video
    each, one of them from the very start; one person leaving at ~40% and rejoining at
    ~65%; and one screen share over ~82-97%. Times are jittered by up to 2% of the
    duration so different seeds differ; the events overlap only partly.

    Args:
        n_people: participants (tiles of the full gallery).
        duration: seconds of video.
        seed: picks the people and jitters the times.

    Returns:
        ``{"reshuffle": [t, ...], "camera_off": [(person, start, end), ...],
        "absent": [(person, start, end)], "screen_share": [(start, end)]}``, in the form
        :func:`compose_gallery` takes.
    """
    rng = random.Random(f"hard-{seed}")
    d = float(duration)

    def at(frac: float) -> float:
        return round(min(max((frac + rng.uniform(-0.02, 0.02)) * d, 0.0), d), 2)

    picks = rng.sample(range(n_people), min(3, n_people))
    off_a, off_b = picks[0], picks[1 % len(picks)]
    schedule = {
        "reshuffle": [at(0.25), at(0.75)],
        "camera_off": [(off_a, 0.0, at(0.15)), (off_b, at(0.52), at(0.67))],
        "absent": [],
        "screen_share": [(at(0.82), at(0.97))],
    }
    if n_people >= 2:  # someone must stay in the meeting
        schedule["absent"].append((picks[2 % len(picks)] if n_people >= 3 else picks[1],
                                   at(0.40), at(0.65)))
    return schedule


def _plan_segments(n_people: int, duration: float, reshuffle: list[float],
                   camera_off: list[tuple], absent: list[tuple], screen_share: list[tuple],
                   rng: random.Random, shuffle_start: bool = False,
                   marks: Sequence[float] = ()) -> list[dict]:
    """Split the video at every event and decide who is shown where in each piece.

    Each segment holds ``start``, ``end``, ``layout``, ``order`` (person indices in tile
    order), ``off`` (indices with camera off), ``absent`` and ``share`` (index of the screen
    share interval, or None). ``marks`` are further cut times (active-speaker changes) that
    move nobody.
    """
    cuts = set(reshuffle) | set(marks)
    for _, s, e in camera_off + absent:
        cuts |= {s, e}
    for s, e in screen_share:
        cuts |= {s, e}
    bounds = [0.0] + sorted(t for t in cuts if 0 < t < duration) + [float(duration)]
    shares = sorted(screen_share)
    order = list(range(n_people))
    if shuffle_start:
        rng.shuffle(order)
    prev_present: set[int] | None = None
    segments = []
    for a, b in zip(bounds, bounds[1:]):
        mid = (a + b) / 2
        gone = {p for p, s, e in absent if s <= mid < e}
        present = [i for i in range(n_people) if i not in gone]
        if not present:
            raise ValueError(f"everyone is absent at {mid:.2f} s")
        if prev_present is not None:
            # Meeting apps put someone who (re)joins at the end of the gallery.
            for p in present:
                if p not in prev_present:
                    order.remove(p)
                    order.append(p)
            if a in cuts and a in reshuffle:
                visible = [p for p in order if p not in gone]
                while len(visible) > 1 and [p for p in order if p not in gone] == visible:
                    rng.shuffle(order)
        prev_present = set(present)
        share = next((i for i, (s, e) in enumerate(shares) if s <= mid < e), None)
        segments.append({
            "start": a, "end": b, "layout": "gallery" if share is None else "screen_share",
            "order": [p for p in order if p not in gone],
            "off": {p for p, s, e in camera_off if s <= mid < e},
            "absent": sorted(gone), "share": share,
        })
    return segments


LAYOUTS = ("gallery", "speaker", "screen_share")


def resolve_skin(skin: str, seed: int) -> str:
    """The skin a name stands for: ``random`` picks ``zoom``, ``teams`` or ``meet`` by seed.

    Raises:
        ValueError: an unknown skin name.
    """
    from lecturelens.dev.skins import SKINS

    if skin == "random":
        return SKINS[random.Random(f"skin-pick-{seed}").randrange(len(SKINS))]
    if skin != "classic" and skin not in SKINS:
        raise ValueError(f"unknown skin {skin!r} (known: classic, random, {', '.join(SKINS)})")
    return skin


def _speaker_marks(skin, duration: float, seed: int) -> list[float]:
    """Times at which the active speaker changes (every few seconds, jittered)."""
    rng = random.Random(f"speaker-{seed}")
    marks, t = [], 0.0
    while True:
        t += rng.uniform(*skin.speaker_every)
        if t >= duration - 0.5:
            return marks
        marks.append(round(t, 2))


def _offset_rects(rects, dx: int, dy: int) -> list[tuple[int, int, int, int]]:
    return [(x + dx, y + dy, w, h) for x, y, w, h in rects]


def _cover_crop(src: np.ndarray, w: int, h: int) -> np.ndarray:
    """``src`` cropped to the ``w`` x ``h`` aspect (centred) and resized: a "fill" tile."""
    import cv2

    sh, sw = src.shape[:2]
    if sw / sh > w / h:
        cw = max(1, int(round(sh * w / h)))
        x0 = (sw - cw) // 2
        src = src[:, x0:x0 + cw]
    else:
        ch = max(1, int(round(sw * h / w)))
        y0 = (sh - ch) // 2
        src = src[y0:y0 + ch]
    return cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)


def compose_gallery(out: str | Path, rows: int = 3, cols: int = 4, duration: float = 60.0,
                    fps: float = 25.0, width: int = 1280, height: int = 720,
                    reshuffle: Sequence[float] = (), seed: int = 0,
                    names: Sequence[str] | None = None, data_root: Path | None = None,
                    progress: bool = False, *,
                    camera_off: Sequence[tuple[int, float, float]] = (),
                    absent: Sequence[tuple[int, float, float]] = (),
                    screen_share: Sequence[tuple[float, float]] = (),
                    strip_tiles: int = 6, scenario: str | None = None,
                    shuffle_start: bool = False, skin: str = "classic",
                    layout: str = "gallery", scripts: Sequence[str] | None = None,
                    tiles: int | None = None, decorate: bool | None = None,
                    crf: int | None = None) -> dict:
    """Write a meeting recording (gallery view plus scheduled hard cases) and its truth file.

    Args:
        out: output ``.mp4``; the truth is written beside it as ``<stem>.truth.json``.
        rows, cols: grid size of the full gallery (one participant per tile).
        duration: seconds of video.
        fps: frame rate of the output.
        width, height: frame size.
        reshuffle: times (s) at which people move to other tiles.
        seed: makes names, labels, skin, tile order, reshuffles and the ``"hard"`` schedule
            reproducible.
        names: canonical names (default: the classic skin's built-in list with accented
            names, or for other skins random names of ``scripts``); one per tile, all
            different.
        data_root: data folder holding ``videos/``; default :func:`data_dir`.
        progress: show a progress bar.
        camera_off: ``(person_index, start, end)``: the person's tile shows their name
            instead of their video. ``person_index`` indexes ``truth["people"]``.
        absent: ``(person_index, start, end)``: the person has left the meeting; the
            gallery is laid out for the people present and the person comes back last.
        screen_share: ``(start, end)``: a slide fills the frame and a strip of small
            tiles shows ``strip_tiles`` participants, rotating between intervals.
        strip_tiles: tiles in the screen-share strip and the speaker view's filmstrip
            (fewer if they do not fit).
        scenario: ``"hard"`` adds :func:`hard_case_schedule` to the events given.
        shuffle_start: start with the people in a seeded random tile order (another
            lecture of the same class), not in the order of ``truth["people"]``.
        skin: ``"classic"`` (the original look: labels scaled with the tile, no UI),
            ``"zoom"``, ``"teams"``, ``"meet"`` (randomised around the real apps, see
            :mod:`lecturelens.dev.skins`) or ``"random"`` (one of the three by ``seed``).
        layout: ``"gallery"``, ``"speaker"`` (the active speaker large, a filmstrip of
            ``strip_tiles`` small tiles above) or ``"screen_share"`` (a share for the whole
            video).
        scripts: scripts of generated names (``latin``, ``korean``, ``chinese``,
            ``cyrillic``, ``arabic``; default a mix); ignored when ``names`` are given.
        tiles: number of participants (4-25 is typical); the grid is then the one the app
            picks (:func:`gallery_shape`) and ``rows``/``cols`` are ignored.
        decorate: print what people type around their names (IDs, ``(Host)``, pronouns);
            default: yes for the app skins, no for ``classic``.
        crf: H.264 quality of the final encode (default 20 for ``classic``, else the
            skin's 28-35: a cloud recording's low bitrate).

    Returns:
        The truth dict (also written to ``<stem>.truth.json``): ``grid`` (the full
        gallery), ``skin`` (its parameters; ``name`` is the resolved skin), ``layout``,
        ``seed``, ``people`` (``person_id``, canonical ``name``, typed ``label``, ``script``,
        ``culture``, ``muted``, ...), ``events`` (the schedule; ``speaker`` events for the
        app skins), ``non_names`` (every text on screen that is not a participant's
        label: UI chrome, slides) and ``segments`` split at every event, each with
        ``start``, ``end``, ``layout`` (``"gallery"`` with its ``grid``, ``"speaker"``, or
        ``"screen_share"`` with ``screen_rect``), ``absent`` (person ids), ``speaker``
        (the active speaker's id or None), ``chrome`` (``{"text", "rect"}`` UI texts) and
        ``tiles`` (``tile``, ``rect``, ``video_rect`` or None when the camera is off,
        ``person``, ``name`` (canonical), ``camera`` ``"on"``/``"off"``, ``label`` (the exact
        printed text, after truncation), and for the app skins ``label_rect`` (frame
        coordinates), ``label_px``, ``label_pos`` (``"bottom-left"``/``"centre"``),
        ``mic`` (``"muted"``/``"on"``), ``speaking`` and ``avatar`` (initials printed on a
        camera-off tile, if any)).

    Raises:
        ValueError: too few or repeated names, an unknown scenario, skin, layout or
            script, an event naming a person out of range or with an empty interval, or
            everyone absent at once.
    """
    import imageio_ffmpeg
    from tqdm import tqdm

    from lecturelens.dev import skins as sk

    out = Path(out)
    rng = random.Random(seed)
    skin_name = resolve_skin(skin, seed)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    classic = skin_name == "classic"
    if not classic and (width % 2 or height % 2 or min(width, height) < 64):
        # H.264 (yuv420p) needs even sizes: an odd one would be rescaled and every
        # rectangle of the truth would be off.
        raise ValueError(f"frame size {width}x{height}: app skins need even sizes of at "
                         "least 64 px")
    theme = None if classic else sk.make_skin(skin_name, seed, width, height)
    n_people = int(tiles) if tiles is not None else rows * cols
    if n_people < 1:
        raise ValueError("a gallery needs at least one tile")

    # --- who: canonical names, what they typed, scripts ---------------------------------
    if names is not None or (classic and scripts is None):
        names = list(names or DEFAULT_NAMES)
        if len(names) < n_people:
            raise ValueError(f"need {n_people} names, got {len(names)}")
        canon = [displayable(n) if classic else n for n in names[:n_people]]
        if len(set(canon)) < n_people:
            raise ValueError("names must all differ (as drawn): who is who depends on them")
        infos = [sk._guess_info(n) for n in canon]
    else:
        infos = sk.random_names(n_people, random.Random(f"names-{seed}"), scripts)
        canon = [i.name for i in infos]
    decorate = (not classic) if decorate is None else decorate
    lrng = random.Random(f"labels-{seed}")
    typed, host = [], False
    for info in infos:
        lab = sk.decorate_label(info, lrng, allow_host=not host) if decorate else info.name
        if sk.text_font(lab, info.script, 12) is None:  # no font draws the decoration
            lab = info.name
        host = host or lab.endswith("(Host)")
        typed.append(lab)
    muted = [theme is not None and lrng.random() < theme.muted_share for _ in infos]

    reshuffle = [float(t) for t in reshuffle]
    camera_off, absent, screen_share = list(camera_off), list(absent), list(screen_share)
    if scenario is not None:
        if scenario != "hard":
            raise ValueError(f"unknown scenario {scenario!r} (known: 'hard')")
        hard = hard_case_schedule(n_people, duration, seed)
        reshuffle += hard["reshuffle"]
        camera_off += hard["camera_off"]
        absent += hard["absent"]
        screen_share += hard["screen_share"]
    reshuffle = sorted({t for t in reshuffle if 0 < t < duration})
    camera_off = _interval_list(camera_off, n_people, duration, "camera_off")
    absent = _interval_list(absent, n_people, duration, "absent")
    screen_share = _interval_list(screen_share, None, duration, "screen_share")
    if layout == "screen_share":
        screen_share = [(0.0, float(duration))]
    marks = _speaker_marks(theme, duration, seed) if theme is not None else []

    videos = face_videos(data_root)
    people: list[Person] = []
    sources = []
    for i in range(n_people):
        mirrored = False
        if videos:
            path = videos[i % len(videos)]
            mirrored = i >= len(videos)  # reuse a face video mirrored when tiles outnumber them
            pid = path.stem + ("-mirror" * (i // len(videos)))
            sources.append(_VideoSource(path, mirror=mirrored, offset=1.7 * (i // len(videos))))
            src = str(path.name)
        else:
            pid = f"astronaut-{i + 1}"
            sources.append(_StillSource(_astronaut(), phase=0.9 * i, mirror=bool(i % 2)))
            src = "skimage.data.astronaut"
        people.append(Person(pid, canon[i], src, mirrored, label=typed[i],
                             script=infos[i].script, culture=infos[i].culture,
                             given=infos[i].given, family=infos[i].family,
                             muted=muted[i]))

    try:
        src_hw = [s.frame(0.0).shape[:2] for s in sources]
        segments = _plan_segments(n_people, duration, reshuffle, camera_off, absent,
                                  screen_share, rng, shuffle_start=shuffle_start, marks=marks)
        # --- UI chrome, one per view (the meeting's clock etc. fixed by the seed) --------
        chromes: dict[str, "sk.Chrome"] = {}
        n_shown_max = n_people
        participants = n_people + random.Random(f"count-{seed}").choice(
            [0, 0, 0, 1, 2, 5, 17, 40, 77])

        def chrome_for(view: str, share_by: str | None = None):
            key = f"{view}:{share_by}"
            if key not in chromes:
                if theme is None:
                    img = np.empty((height, width, 3), np.uint8)
                    img[:] = BACKGROUND
                    chromes[key] = sk.Chrome(img, (0, 0, width, height), [])
                else:
                    chromes[key] = sk.render_chrome(theme, width, height, view, participants,
                                                    random.Random(f"chrome-{seed}"),
                                                    share_by=share_by)
            return chromes[key]

        gap = 6 if theme is None else theme.gap
        slide_of = {}
        speaker = None
        for seg in segments:
            order = seg["order"]
            # The active speaker: changes at the marks, or when they stop being visible.
            if theme is not None:
                can = [p for p in order if p not in seg["off"]]
                if speaker not in can or seg["start"] in marks or seg["start"] == 0.0:
                    others = [p for p in can if p != speaker] or can
                    speaker = rng.choice(others) if others else None
                seg["speaker"] = speaker
            else:
                seg["speaker"] = None
            if seg["share"] is None and layout != "speaker":
                ch = chrome_for("gallery")
                cx, cy, cw, chh = ch.content
                if len(order) == n_people and tiles is None:
                    shape = (rows, cols)
                else:
                    shape = gallery_shape(len(order), cw, chh, gap)
                rects = _offset_rects(gallery_rects(len(order), *shape, cw, chh, gap), cx, cy)
                seg["grid"] = list(shape)
                shown_people, small = order, False
                n_shown_max = max(n_shown_max, len(order))
            elif seg["share"] is None:  # speaker view: the speaker large, a filmstrip above
                seg["layout"] = "speaker"
                ch = chrome_for("speaker")
                cx, cy, cw, chh = ch.content
                big_p = seg["speaker"] if seg["speaker"] is not None else order[0]
                rest = [p for p in order if p != big_p]
                strip, big = screen_share_layout(min(max(strip_tiles, 0), len(rest)), cw, chh)
                strip = strip if rest else []
                rects = _offset_rects([big] + strip, cx, cy)
                shown_people, small = [big_p] + rest[:len(strip)], True
            else:
                k = seg["share"]
                slide_of[k] = SLIDES[(seed + k) % len(SLIDES)]
                lecturer = slide_of[k][2].split("·")[0].strip()
                ch = chrome_for("screen_share", lecturer if theme is not None else None)
                cx, cy, cw, chh = ch.content
                n_strip = min(max(strip_tiles, 0), len(order))
                rects, screen = screen_share_layout(n_strip, cw, chh)
                rects = _offset_rects(rects, cx, cy)
                screen = (screen[0] + cx, screen[1] + cy, screen[2], screen[3])
                offset = (k * len(rects)) % len(order)  # rotate who is seen from share to share
                shown_people, small = (order[offset:] + order[:offset])[:len(rects)], True
                seg["screen_rect"] = list(screen)
                seg["screen_text"] = [displayable(slide_of[k][0])] + \
                    [displayable(x) for x in slide_of[k][1]] + [displayable(slide_of[k][2])]
            seg["_chrome"] = ch
            tiles_out = []
            for ti, (pi, rect) in enumerate(zip(shown_people, rects)):
                x, y, w, h = rect
                on = pi not in seg["off"]
                if theme is not None and theme.fit == "cover":
                    video_rect = [x, y, w, h]
                else:
                    ox, oy, nw, nh = _fit(src_hw[pi], w, h)
                    video_rect = [x + ox, y + oy, nw, nh]
                tile = {"tile": ti, "rect": list(rect),
                        "video_rect": video_rect if on else None,
                        "person": people[pi].person_id, "name": people[pi].name,
                        "camera": "on" if on else "off", "label": typed[pi],
                        "_index": pi, "_font": _label_px(h, small), "_ov": []}
                if theme is not None:
                    _skin_tile(tile, theme, infos[pi], typed[pi], muted[pi],
                               speaking=pi == seg["speaker"])
                else:
                    tile["label"] = _classic_visible(typed[pi], w, tile["_font"])
                tiles_out.append(tile)
            seg["tiles"] = tiles_out

        events = [{"type": "reshuffle", "t": t} for t in reshuffle]
        for kind, items in (("camera_off", camera_off), ("absent", absent)):
            events += [{"type": kind, "person": people[p].person_id, "person_index": p,
                        "name": people[p].name, "start": s, "end": e} for p, s, e in items]
        events += [{"type": "screen_share", "start": s, "end": e} for s, e in screen_share]
        if theme is not None:
            prev = object()
            for seg in segments:
                if seg["speaker"] != prev:
                    events.append({"type": "speaker", "t": seg["start"],
                                   "person": (people[seg["speaker"]].person_id
                                              if seg["speaker"] is not None else None)})
                    prev = seg["speaker"]
        events.sort(key=lambda ev: (ev.get("t", ev.get("start")), ev["type"]))

        non_names = set()
        for seg in segments:
            non_names |= {it["text"] for it in seg["_chrome"].items}
            non_names |= set(seg.get("screen_text", []))
        public = {"avatar", "label_rect", "label_px", "label_pos", "mic", "speaking"}
        truth = {
            "video": out.name, "width": width, "height": height, "fps": fps,
            "duration": duration, "grid": [rows, cols] if tiles is None else
            list(gallery_shape(n_people, *chrome_for("gallery").content[2:], gap)),
            "source": "videos" if videos else "astronaut",
            "skin": theme.describe() if theme is not None else {"name": "classic"},
            "layout": layout, "seed": seed,
            "crf": int(crf if crf is not None else (20 if theme is None else theme.crf)),
            "people": [vars(p) for p in people],
            "events": events,
            "non_names": sorted(non_names),
            "segments": [
                {"start": s["start"], "end": s["end"], "layout": s["layout"],
                 **({"grid": s["grid"]} if "grid" in s else {}),
                 **({"screen_rect": s["screen_rect"], "screen_text": s["screen_text"]}
                    if "screen_rect" in s else {}),
                 "absent": [people[p].person_id for p in s["absent"]],
                 "speaker": (people[s["speaker"]].person_id
                             if s["speaker"] is not None else None),
                 "chrome": s["_chrome"].items,
                 "tiles": [{k: v for k, v in t.items()
                            if not k.startswith("_") and (k in public or k in (
                                "tile", "rect", "video_rect", "person", "name", "camera",
                                "label"))}
                           for t in s["tiles"]]}
                for s in segments],
        }

        n_frames = int(round(duration * fps))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
        writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), fps=fps,
                                             codec="libx264", quality=None, bitrate=None,
                                             macro_block_size=2,
                                             output_params=["-preset", "veryfast", "-crf",
                                                            str(truth["crf"])])
        writer.send(None)
        seg_i = 0
        off_tiles: dict[tuple, np.ndarray] = {}
        slides: dict[int, np.ndarray] = {}
        try:
            for fi in tqdm(range(n_frames), disable=not progress, unit="frame", desc=out.name):
                t = fi / fps
                while seg_i + 1 < len(segments) and t >= segments[seg_i + 1]["start"]:
                    seg_i += 1
                seg = segments[seg_i]
                frame = seg["_chrome"].image.copy()
                if seg["share"] is not None:
                    x, y, w, h = seg["screen_rect"]
                    if seg["share"] not in slides:
                        slides[seg["share"]] = _render_slide(w, h, slide_of[seg["share"]])
                    frame[y:y + h, x:x + w] = slides[seg["share"]]
                for tile in seg["tiles"]:
                    x, y, w, h = tile["rect"]
                    if theme is not None:
                        if tile["camera"] == "on":
                            img = np.empty((h, w, 3), np.uint8)
                            img[:] = theme.tile_bg
                            src = sources[tile["_index"]].frame(t)
                            if theme.fit == "cover":
                                img[:] = _cover_crop(src, w, h)
                            else:
                                _paste_fit(img, src)
                        else:
                            img = tile["_off"]
                        frame[y:y + h, x:x + w] = img
                        for ov in tile["_ov"]:
                            sk.apply_overlay(frame, ov)
                        continue
                    text = typed[tile["_index"]]
                    if tile["camera"] == "on":
                        img, _ = _render_tile(sources[tile["_index"]].frame(t), tile["rect"],
                                              text, tile["_font"])
                    else:
                        key = (text, w, h, tile["_font"])
                        if key not in off_tiles:
                            off_tiles[key] = _render_camera_off(w, h, text, tile["_font"])
                        img = off_tiles[key]
                    frame[y:y + h, x:x + w] = img
                writer.send(np.ascontiguousarray(frame))
            writer.close()
            os.replace(tmp, out)
        except BaseException:
            writer.close()
            tmp.unlink(missing_ok=True)
            raise
    finally:
        for s in sources:
            s.close()
    write_json(truth_path(out), truth)
    return truth


def _classic_visible(text: str, tile_w: int, font_px: int) -> str:
    """The part of a classic label that shows: the classic look does not cut long names
    with ``...``, the tile edge clips them."""
    font = _classic_font(text, font_px)
    room = tile_w - 2 * max(3, font_px // 4)
    if font.getlength(text) <= room:
        return text
    k = len(text)
    while k > 0 and font.getlength(text[:k]) > room:
        k -= 1
    return text[:k].rstrip()


def _paste_fit(img: np.ndarray, src: np.ndarray) -> None:
    """``src`` scaled to fit inside ``img``, centred (letter- or pillar-boxed)."""
    import cv2

    h, w = img.shape[:2]
    ox, oy, nw, nh = _fit(src.shape[:2], w, h)
    img[oy:oy + nh, ox:ox + nw] = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)


def _skin_tile(tile: dict, theme, info, typed: str, muted: bool, speaking: bool) -> None:
    """Render what an app skin draws on one tile; fill its truth keys and overlays.

    The overlays (label box, icons, rounded corners, speaker border) are drawn once per
    segment and blended over the live video each frame.
    """
    from lecturelens.dev import skins as sk

    x, y, w, h = tile["rect"]
    ovs = []
    if tile["camera"] == "on":
        lab = sk.render_label(theme, typed, info.script, w, h, muted)
        ovs.append(lab.overlay.moved(x, y))
        printed, (lx, ly, lw, lh), px, pos = lab.printed, lab.rect, lab.text_px, "bottom-left"
        badge = sk.mute_badge(theme, w) if muted else None
        if badge is not None:
            ovs.append(badge.moved(x, y))
        avatar = None
    else:
        off = sk.render_camera_off(theme, info, typed, w, h, muted,
                                   color_seed=_stable_hash(info.name))
        tile["_off"] = off.image
        printed, (lx, ly, lw, lh), px, pos = off.printed, off.rect, off.text_px, off.pos
        avatar = off.avatar_text
    for ov in sk.corner_overlays(theme, w, h):
        ovs.append(ov.moved(x, y))
    if speaking:
        for ov in sk.border_overlays(theme, w, h):
            ovs.append(ov.moved(x, y))
    tile["_ov"] = ovs
    tile.update({"label": printed, "label_rect": [x + lx, y + ly, lw, lh], "label_px": px,
                 "label_pos": pos, "mic": "muted" if muted else "on", "speaking": speaking})
    if avatar is not None:
        tile["avatar"] = avatar


def _stable_hash(text: str) -> int:
    """A stable small hash of ``text`` (Python's ``hash`` changes from run to run)."""
    import zlib

    return zlib.crc32(text.encode("utf-8"))


def truth_path(video: str | Path) -> Path:
    """Where :func:`compose_gallery` writes the truth of ``video``."""
    video = Path(video)
    return video.with_name(video.stem + ".truth.json")


def load_truth(video_or_truth: str | Path) -> dict:
    """Read a truth file (given the video or the truth file itself).

    Raises:
        ValueError: the file is not JSON, or not a truth written by :func:`compose_gallery`.
    """
    p = Path(video_or_truth)
    if p.suffix != ".json":
        p = truth_path(p)
    truth = json.loads(p.read_text(encoding="utf-8"))
    if not (isinstance(truth, dict) and isinstance(truth.get("people"), list)
            and isinstance(truth.get("segments"), list)):
        raise ValueError("no 'people' and 'segments'; expected the <video>.truth.json "
                         "written by compose_gallery")
    return truth


def segment_at(truth: dict, t: float) -> dict | None:
    """The truth segment shown at time ``t`` (the last one for ``t`` at the very end)."""
    for seg in truth["segments"]:
        if seg["start"] <= t < seg["end"] or (t >= seg["end"] == truth["duration"]):
            return seg
    return None


def tile_at(truth: dict, t: float) -> Iterator[dict]:
    """The tiles (with person and rectangles) shown at time ``t``."""
    seg = segment_at(truth, t)
    if seg is not None:
        yield from seg["tiles"]
