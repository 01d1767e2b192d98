"""Compose a video-conference gallery recording with known truth, for tests and benchmarks.

Tiles in a grid on a Zoom-like dark background, each showing one real face video (scaled to
the tile's height, centred, with dark side bars as meeting apps show square/portrait
cameras) and a white name label at the tile's bottom-left. At the given reshuffle times
the people move to other tiles, as meeting apps do when someone joins or speaks.

The face videos come from ``${LECTURELENS_DATA:-../shared/data}/videos``; with no data folder
the composer falls back to scikit-image's ``astronaut`` photo (a real face shipped in a pip
package), animated with a slow zoom and drift. The output video is H.264 written through the
ffmpeg binary shipped by imageio-ffmpeg; the truth file says which tile shows whom, when.
Nothing composed here is meant to be committed.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from lecturelens.atomic import atomic_open, write_json

BACKGROUND = (26, 26, 26)
TILE_BG = (35, 35, 38)
DEFAULT_NAMES = [
    "Ana Garcia", "Ben Okafor", "Chloe Martin", "Dmitri Ivanov", "Emma Schmidt",
    "Farid Haddad", "Giulia Rossi", "Hiro Tanaka", "Ingrid Nilsson", "Jose Munoz",
    "Kwame Mensah", "Lea Dubois", "Maya Cohen", "Nikhil Rao", "Olga Petrova",
    "Pablo Reyes", "Qing Li", "Rosa Silva", "Sam Taylor", "Tomas Novak",
    "Uma Patel", "Victor Hugo", "Wen Zhao", "Yara Nasser", "Zoe Adams",
]


def data_dir() -> Path:
    """The development data folder: ``$LECTURELENS_DATA`` or ``../shared/data``."""
    env = os.environ.get("LECTURELENS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def face_videos(root: Path | None = None) -> list[Path]:
    """The real face videos available for composing, sorted by name (may be empty)."""
    folder = (root or data_dir()) / "videos"
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


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


def _draw_label(tile: np.ndarray, name: str, font_px: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_px)
    pad = max(3, font_px // 4)
    x0, y0, x1, y1 = font.getbbox(name)
    w, h = x1 - x0 + 2 * pad, font_px + 2 * pad
    y = tile.shape[0] - h - pad
    region = tile[y:y + h, pad:pad + w]
    if region.shape[0] <= 0 or region.shape[1] <= 0:
        return
    img = Image.fromarray((region * 0.35).astype(np.uint8))  # translucent dark box
    ImageDraw.Draw(img).text((pad, pad - y0 + (font_px - (y1 - y0)) // 2), name,
                             font=font, fill=(255, 255, 255))
    tile[y:y + h, pad:pad + w] = np.asarray(img)[: region.shape[0], : region.shape[1]]


def _render_tile(src_frame: np.ndarray, rect: tuple[int, int, int, int], name: str
                 ) -> tuple[np.ndarray, list[int]]:
    """The tile image and the face-video area inside it (frame coordinates)."""
    import cv2

    x, y, w, h = rect
    tile = np.empty((h, w, 3), np.uint8)
    tile[:] = TILE_BG
    sh, sw = src_frame.shape[:2]
    scale = min(h / sh, w / sw)
    nh, nw = int(round(sh * scale)), int(round(sw * scale))
    resized = cv2.resize(src_frame, (nw, nh), interpolation=cv2.INTER_AREA)
    ox, oy = (w - nw) // 2, (h - nh) // 2
    tile[oy:oy + nh, ox:ox + nw] = resized
    _draw_label(tile, name, font_px=max(10, h // 12))
    return tile, [x + ox, y + oy, nw, nh]


def compose_gallery(out: str | Path, rows: int = 3, cols: int = 4, duration: float = 60.0,
                    fps: float = 25.0, width: int = 1280, height: int = 720,
                    reshuffle: Sequence[float] = (), seed: int = 0,
                    names: Sequence[str] | None = None, data_root: Path | None = None,
                    progress: bool = False) -> dict:
    """Write a gallery-view recording and its truth file.

    Args:
        out: output ``.mp4``; the truth is written beside it as ``<stem>.truth.json``.
        rows, cols: grid size.
        duration: seconds of video.
        fps: frame rate of the output.
        width, height: frame size.
        reshuffle: times (s) at which people move to other tiles.
        seed: makes names, tile order and reshuffles reproducible.
        names: display names (default: a built-in list); one per tile.
        data_root: data folder holding ``videos/``; default :func:`data_dir`.
        progress: show a progress bar.

    Returns:
        The truth dict (also written to ``<stem>.truth.json``).
    """
    import imageio_ffmpeg
    from tqdm import tqdm

    out = Path(out)
    rng = random.Random(seed)
    n_tiles = rows * cols
    names = list(names or DEFAULT_NAMES)
    if len(names) < n_tiles:
        raise ValueError(f"need {n_tiles} names, got {len(names)}")
    videos = face_videos(data_root)
    people: list[Person] = []
    sources = []
    for i in range(n_tiles):
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
        people.append(Person(pid, names[i], src, mirrored))

    rects = grid_rects(rows, cols, width, height)
    cuts = sorted(t for t in reshuffle if 0 < t < duration)
    bounds = [0.0] + cuts + [duration]
    order = list(range(n_tiles))
    segments = []
    for k in range(len(bounds) - 1):
        if k > 0:
            prev = order[:]
            while order == prev and n_tiles > 1:
                rng.shuffle(order)
        segments.append({"start": bounds[k], "end": bounds[k + 1], "order": order[:]})

    truth = {
        "video": out.name, "width": width, "height": height, "fps": fps,
        "duration": duration, "grid": [rows, cols], "source": "videos" if videos else "astronaut",
        "people": [vars(p) for p in people],
        "segments": [],
    }
    n_frames = int(round(duration * fps))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), fps=fps, codec="libx264",
                                         quality=None, bitrate=None, macro_block_size=8,
                                         output_params=["-preset", "veryfast", "-crf", "20"])
    writer.send(None)
    seg_i = 0
    face_rects: dict[int, list[int]] = {}
    try:
        for fi in tqdm(range(n_frames), disable=not progress, unit="frame", desc=out.name):
            t = fi / fps
            while seg_i + 1 < len(segments) and t >= segments[seg_i + 1]["start"]:
                seg_i += 1
            frame = np.empty((height, width, 3), np.uint8)
            frame[:] = BACKGROUND
            for tile_i, person_i in enumerate(segments[seg_i]["order"]):
                x, y, w, h = rects[tile_i]
                tile, face_rect = _render_tile(sources[person_i].frame(t), rects[tile_i],
                                               people[person_i].name)
                frame[y:y + h, x:x + w] = tile
                face_rects[tile_i] = face_rect
            writer.send(np.ascontiguousarray(frame))
            if "tiles" not in segments[seg_i]:
                segments[seg_i]["tiles"] = [
                    {"tile": ti, "rect": list(rects[ti]), "video_rect": face_rects[ti],
                     "person": people[pi].person_id, "name": people[pi].name}
                    for ti, pi in enumerate(segments[seg_i]["order"])]
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for s in sources:
            s.close()
    truth["segments"] = [{k: v for k, v in s.items() if k != "order"} for s in segments]
    write_json(truth_path(out), truth)
    return truth


def truth_path(video: str | Path) -> Path:
    """Where :func:`compose_gallery` writes the truth of ``video``."""
    video = Path(video)
    return video.with_name(video.stem + ".truth.json")


def load_truth(video_or_truth: str | Path) -> dict:
    """Read a truth file (given the video or the truth file itself)."""
    p = Path(video_or_truth)
    if p.suffix != ".json":
        p = truth_path(p)
    return json.loads(p.read_text(encoding="utf-8"))


def tile_at(truth: dict, t: float) -> Iterator[dict]:
    """The tiles (with person and rectangles) shown at time ``t``."""
    for seg in truth["segments"]:
        if seg["start"] <= t < seg["end"] or (t >= seg["end"] == truth["duration"]):
            yield from seg["tiles"]
            return
