"""Stage 1, ingest: validate a recording, read its metadata, stream sampled frames.

Frames are decoded sequentially (``grab()`` every frame, ``retrieve()`` only the sampled
ones): on H.264 that is 5-10x faster than seeking. Sample times come from the decoder's
presentation timestamps, not ``index / fps``, so variable-frame-rate recordings (as Zoom
writes them) are sampled correctly. Memory does not grow with the video's length.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from lecturelens.errors import InputError

#: Codecs that ffmpeg reports as a "Video" stream but that hold still images.
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "tiff", "webp", "gif", "jpeg2000", "ppm", "pgm", "pam"}


@dataclass
class VideoInfo:
    """What the container says about a recording (plus its size on disk)."""

    path: str
    size_bytes: int
    duration: float
    fps: float
    width: int
    height: int
    codec: str
    frame_count: int

    def to_dict(self) -> dict:
        return asdict(self)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _ffmpeg_header(path: Path) -> str:
    """ffmpeg's description of the container and its streams (stderr of ``ffmpeg -i``)."""
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                              capture_output=True, text=True, errors="replace", timeout=60)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path}: ffmpeg could not read the file's header within 60 s; "
                         "is it on a stalled network drive?") from None
    return proc.stderr


def _parse_duration(header: str) -> float | None:
    m = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", header)
    if not m:
        return None
    h, mnt, s = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(s)


def _looks_like_mp4(path: Path) -> bool:
    """True when the file starts with an ISO-BMFF box, i.e. it was meant to be an MP4/MOV."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"wide", b"skip")


def probe(path: str | os.PathLike) -> VideoInfo:
    """Validate ``path`` as a decodable video and return its metadata.

    Args:
        path: the recording.

    Returns:
        The recording's :class:`VideoInfo`.

    Raises:
        InputError: with a one-line message naming the file and the fix, for a missing path,
            a directory, an empty file, a truncated or corrupt container, a file with no video
            stream (audio only, text, ...), a still image, or a codec that cannot be decoded.
    """
    import cv2

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path (and quote names with spaces)")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give one video file "
                         "(use `lecturelens batch` for a folder of recordings)")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty (0 bytes); the recording was not saved or "
                         "the copy failed; copy it again from the meeting app's recordings")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; make the file readable (chmod +r)")

    header = _ffmpeg_header(path)
    if "moov atom not found" in header and _looks_like_mp4(path):
        raise InputError(f"{path}: truncated or incomplete MP4 (no index 'moov' atom); the "
                         "recording was interrupted or the download/copy is incomplete; "
                         "copy it again, or repair it with a tool such as untrunc")
    if "Input #0" not in header:
        last = [ln.strip() for ln in header.strip().splitlines() if ln.strip()]
        reason = last[-1] if last else "unknown format"
        raise InputError(f"{path}: not a video file ffmpeg can read ({reason}); "
                         "give an .mp4/.mkv/.webm/.mov recording")
    streams = re.findall(r"Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data): ([\w-]+)", header)
    video_codecs = [codec for kind, codec in streams if kind == "Video"]
    if not video_codecs:
        kinds = sorted({kind.lower() for kind, _ in streams}) or ["no"]
        raise InputError(f"{path}: has no video stream ({'/'.join(kinds)} streams only); "
                         "export the recording with video (e.g. Zoom's 'gallery view' MP4, "
                         "not the audio-only M4A)")
    codec = video_codecs[0]
    duration = _parse_duration(header)
    if codec in _IMAGE_CODECS and not duration:
        raise InputError(f"{path}: is a still image ({codec}), not a video recording")

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: OpenCV cannot open the {codec} video stream; "
                             f"re-encode it to H.264, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`")
        ok = cap.grab() and cap.retrieve()[0]
        if not ok:
            raise InputError(f"{path}: the {codec} video stream cannot be decoded (corrupt data "
                             "or unsupported codec); re-encode it to H.264, e.g. "
                             "`ffmpeg -i IN -c:v libx264 OUT.mp4`")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    if not duration:
        duration = frame_count / fps if fps > 0 else 0.0
    if width <= 0 or height <= 0:
        raise InputError(f"{path}: video stream has no frame size; the file is corrupt")
    return VideoInfo(path=str(path), size_bytes=size, duration=float(duration), fps=fps,
                     width=width, height=height, codec=codec, frame_count=frame_count)


@dataclass
class Frame:
    """One sampled frame: decoder timestamp (s), index among decoded frames, RGB pixels,
    and (with ``iter_frames(follow=...)``) the RGB frame that came that long after it."""

    t: float
    index: int
    rgb: np.ndarray
    follow: np.ndarray | None = None


def iter_frames(info: VideoInfo, fps: float = 1.0, truncation_tolerance: float = 2.0,
                follow: float = 0.0) -> Iterator[Frame]:
    """Stream frames sampled at ``fps`` from a probed video.

    A frame is taken when its decoder timestamp reaches the next sample time (0, 1/fps,
    2/fps, ...), so gaps in variable-frame-rate video are not filled with invented frames.

    Args:
        info: result of :func:`probe`.
        fps: samples per second.
        truncation_tolerance: seconds the decoded stream may end before the container's
            stated duration before the file is treated as truncated.
        follow: when > 0, each frame also carries (``Frame.follow``) the first frame decoded
            at least this many seconds after it, if that comes before the next sample: a
            second look, e.g. at eyes that were closed (a blink is over by then).

    Yields:
        :class:`Frame` objects in time order.

    Raises:
        InputError: the stream stops decoding well before its stated duration (truncated
            or corrupt in the middle).
    """
    import cv2

    step = 1.0 / fps
    cap = cv2.VideoCapture(info.path)
    if not cap.isOpened():
        raise InputError(f"{info.path}: cannot be opened any more (was it moved or deleted?)")
    next_t = 0.0
    index = -1
    last_t = 0.0
    # Half a frame of slack so a 30 fps stream sampled at 1 fps picks the frame at 1.000 s
    # rather than the one after it when timestamps carry rounding error.
    slack = 0.5 / info.fps if info.fps > 0 else 0.0
    pending = None  # a sampled frame waiting for its follow-up frame
    try:
        while cap.grab():
            index += 1
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if t <= 0.0 and index > 0 and info.fps > 0:
                t = index / info.fps  # backends that report no timestamps
            last_t = t
            if pending is not None and t + slack >= pending.t + follow:
                if t + slack < next_t:
                    ok, bgr = cap.retrieve()
                    if ok and bgr is not None:
                        pending.follow = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield pending
                pending = None
            if t + slack < next_t:
                continue
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                continue
            frame = Frame(t=t, index=index, rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if follow > 0:
                pending = frame
            else:
                yield frame
            while next_t <= t + slack:
                next_t += step
        if pending is not None:
            yield pending
    finally:
        cap.release()
    frame_dur = 1.0 / info.fps if info.fps > 0 else 0.0
    if index < 0:
        raise InputError(f"{info.path}: no frame could be decoded; the file is corrupt")
    if info.duration - (last_t + frame_dur) > truncation_tolerance:
        raise InputError(f"{info.path}: video data ends at {last_t:.1f} s but the file says it "
                         f"lasts {info.duration:.1f} s; it is truncated or corrupt in the "
                         "middle; copy it again from the source")


def prefetch(items: Iterable, depth: int = 4) -> Iterator:
    """Yield from ``items``, produced by a background thread up to ``depth`` ahead.

    Decoding (OpenCV and ffmpeg release the GIL) then runs on another core while the caller
    runs the models. An exception in the producer is raised in the caller, in order.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((done, exc))

    thread = threading.Thread(target=produce, name="lecturelens-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
