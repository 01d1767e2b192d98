"""Link per-frame face detections into tracks.

Gallery tiles barely move, so overlap (IoU) with a track's last box, or a centre within one
face width of it (people lean and shift in their own tile; neighbouring tiles' faces are
several face widths apart), is enough. When the meeting app reshuffles the gallery a
different person appears where the track's face was; an appearance gate (colour histogram of
the face and its surroundings: hair, clothes, room) then closes the old track instead of
continuing it with someone else. Matching is greedy, best overlap first, and one detection
continues at most one track. A track survives ``max_gap`` seconds without a detection (a
face turned away, a missed detection) before it is closed. Only running sums are kept per
track, so memory does not grow with the video's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lecturelens.detect import Face


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``x1, y1, x2, y2`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def appearance_signature(rgb: np.ndarray, box: np.ndarray, scale: float = 0.8) -> np.ndarray:
    """Normalised 64-bin RGB histogram of the face and its surroundings.

    Args:
        rgb: the frame.
        box: the face's ``x1, y1, x2, y2``.
        scale: half-size of the region, in face sizes, around the face centre.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    H, W = rgb.shape[:2]
    region = rgb[max(0, int(cy - scale * h)):min(H, int(cy + scale * h)),
                 max(0, int(cx - scale * w)):min(W, int(cx + scale * w))]
    q = (region.reshape(-1, 3) >> 6).astype(np.int64)
    hist = np.bincount(q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2], minlength=64).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance of two histograms: 0 identical, 1 disjoint."""
    return float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(a * b))))))


@dataclass
class Track:
    """Summary of one face track."""

    track_id: int
    first_seen: float
    last_seen: float
    last_box: np.ndarray
    n_frames: int = 0
    box_sum: np.ndarray = field(default_factory=lambda: np.zeros(4))
    prob_sum: float = 0.0
    n_small: int = 0
    signature: np.ndarray | None = None

    def add(self, t: float, face: Face) -> None:
        self._undo = (self.last_seen, self.last_box, self.signature)
        if face.signature is not None:
            # A slow running average follows lighting drift but not a change of person.
            self.signature = (face.signature if self.signature is None
                              else 0.8 * self.signature + 0.2 * face.signature)
        self.last_seen = t
        self.last_box = face.box
        self.n_frames += 1
        self.box_sum += face.box
        self.prob_sum += face.prob
        self.n_small += int(face.small)

    def remove_last(self, face: Face) -> None:
        """Take back the last :meth:`add` (the face turned out to be someone else)."""
        self.last_seen, self.last_box, self.signature = self._undo
        self.n_frames -= 1
        self.box_sum -= face.box
        self.prob_sum -= face.prob
        self.n_small -= int(face.small)

    @property
    def mean_box(self) -> np.ndarray:
        return self.box_sum / max(self.n_frames, 1)

    @property
    def mean_prob(self) -> float:
        return self.prob_sum / max(self.n_frames, 1)


class Tracker:
    """Online tracker: call :meth:`update` once per sampled frame, in time order.

    Args:
        iou_threshold: minimum IoU with a track's last box to continue it.
        max_gap: seconds a track may go unmatched before it is closed.
        max_appearance_change: largest :func:`appearance_distance` between a track and a
            face that continues it (used when faces carry a ``signature``).
    """

    def __init__(self, iou_threshold: float = 0.3, max_gap: float = 5.0,
                 max_appearance_change: float = 0.35):
        self.iou_threshold = iou_threshold
        self.max_gap = max_gap
        self.max_appearance_change = max_appearance_change
        self.active: list[Track] = []
        self.closed: list[Track] = []
        self._next_id = 1

    def _affinity(self, track: Track, face: Face) -> float:
        if (track.signature is not None and face.signature is not None
                and appearance_distance(track.signature, face.signature)
                > self.max_appearance_change):
            return 0.0
        o = iou(track.last_box, face.box)
        if o >= self.iou_threshold:
            return 1.0 + o
        tb, fb = track.last_box, face.box
        dc = np.hypot((tb[0] + tb[2] - fb[0] - fb[2]) / 2, (tb[1] + tb[3] - fb[1] - fb[3]) / 2)
        size = max(tb[2] - tb[0], fb[2] - fb[0], 1.0)
        return 1.0 - dc / size if dc < size else 0.0

    def update(self, t: float, faces: list[Face]) -> list[int]:
        """Assign this frame's faces to tracks.

        Args:
            t: frame time in seconds.
            faces: the frame's detections.

        Returns:
            The track id of each face, in the order given.
        """
        still = []
        for tr in self.active:
            (still if t - tr.last_seen <= self.max_gap else self.closed).append(tr)
        self.active = still

        pairs = [(self._affinity(tr, f), ti, fi)
                 for ti, tr in enumerate(self.active) for fi, f in enumerate(faces)]
        pairs = sorted((p for p in pairs if p[0] > 0), reverse=True)
        ids: list[int | None] = [None] * len(faces)
        used_tracks: set[int] = set()
        for _, ti, fi in pairs:
            if ti in used_tracks or ids[fi] is not None:
                continue
            used_tracks.add(ti)
            tr = self.active[ti]
            tr.add(t, faces[fi])
            ids[fi] = tr.track_id
        for fi, face in enumerate(faces):
            if ids[fi] is None:
                tr = Track(self._next_id, t, t, face.box)
                self._next_id += 1
                tr.add(t, face)
                self.active.append(tr)
                ids[fi] = tr.track_id
        return ids  # type: ignore[return-value]

    def split(self, track_id: int, t: float, face: Face) -> int:
        """End track ``track_id`` before this frame and start a new track with ``face``.

        Used when the face's name label contradicts the track's name: a gallery reshuffle
        that put a look-alike (or the same camera, mirrored) where the track's face was.

        Returns:
            The new track's id.
        """
        old = next(tr for tr in self.active if tr.track_id == track_id)
        old.remove_last(face)
        self.active.remove(old)
        self.closed.append(old)
        tr = Track(self._next_id, t, t, face.box)
        self._next_id += 1
        tr.add(t, face)
        self.active.append(tr)
        return tr.track_id

    @property
    def next_id(self) -> int:
        """The id the next new track will get (a change means a track started)."""
        return self._next_id

    def tracks(self) -> list[Track]:
        """All tracks, closed and active, by id."""
        return sorted(self.closed + self.active, key=lambda tr: tr.track_id)


class HiddenWatch:
    """Watches the place of each face that vanished: does its tile still show its video?

    A face turned beyond what the detector finds (profile, looking behind, leaning out of
    the frame) leaves its tile showing the same person's hair, clothes and room; a camera
    turned off, a screen share or a gallery laid out again replace that picture with a flat
    tile, a slide or someone else. On every sampled frame each vanished face's last box is
    compared (:func:`appearance_signature`, the tracker's appearance) with how it looked:
    while the picture stays alike, the sample is recorded as *hidden* (looked away, in
    :mod:`lecturelens.rubric`'s terms); the watch ends at the first unlike picture, when any
    face shows up at that place again, or after ``max_gap`` seconds.

    Measured on the dev webcam frames (one person, 1920x1080 scaled to 480 px high): the
    same scene with the head turned away is 0.13-0.29 from the frontal face's appearance,
    a flat camera-off tile 0.79-0.97 and a white slide 0.80-0.95; hence ``max_change`` 0.5.

    Args:
        max_gap: seconds after the last sighting that a face is watched.
        max_change: largest :func:`appearance_distance` of a picture still showing the face's
            tile.
    """

    def __init__(self, max_gap: float = 30.0, max_change: float = 0.5):
        self.max_gap = max_gap
        self.max_change = max_change
        self._watch: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        self.hidden: dict[int, list[float]] = {}

    def update(self, t: float, rgb: np.ndarray, tracker: Tracker, faces: list[Face],
               ids: list[int]) -> None:
        """Record this frame: call after :meth:`Tracker.update` with its faces and ids."""
        seen = set(ids)
        for tr in tracker.active:
            if tr.track_id in seen and tr.signature is not None:
                self._watch[tr.track_id] = (tr.last_box.copy(), tr.signature, t)
        for tid in list(self._watch):
            if tid in seen:
                continue
            box, sig, last = self._watch[tid]
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            taken = any(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]
                        for f in faces)
            if (taken or t - last > self.max_gap
                    or appearance_distance(sig, appearance_signature(rgb, box))
                    > self.max_change):
                del self._watch[tid]
                continue
            self.hidden.setdefault(tid, []).append(t)

    def intervals(self, track_id: int, fps: float) -> list[tuple[float, float]]:
        """The track's hidden samples as ``(first, last)`` runs of consecutive samples."""
        out: list[tuple[float, float]] = []
        for t in self.hidden.get(track_id, []):
            if out and t - out[-1][1] <= 1.5 / fps:
                out[-1] = (out[-1][0], t)
            else:
                out.append((t, t))
        return out
