"""Stage 5, people: group face tracks (and camera-off name sightings) into students.

Seed paper 001 (Table 1) assigns each face to a cluster online: the nearest OCR'd name by
edit distance, else the nearest identity embedding, else a new cluster. The authors found
that "not sufficiently accurate", so LectureLens adds an offline pass that merges fragments
with three kinds of evidence:

* **names** (rapidfuzz similarity of the voted label text): equal names join; confidently
  different names never join, however alike the faces (twins, a mirrored camera);
* **identity** (Euclidean distance of mean track embeddings), used where a name is missing;
* **co-occurrence**: two tracks visible at the same time are two people, never merged.

Students get stable ids (``S01``, ``S02``, ... by first appearance) and their best name;
a student whose label was never read stays ``Unknown N``: names are never invented.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lecturelens.errors import InputError

#: Two names at least this similar (rapidfuzz ratio, 0-100, accents folded) are one name.
SAME_NAME = 85.0
#: Two confidently read names less similar than this belong to different people.
DIFFERENT_NAME = 60.0


def fold(name: str) -> str:
    """Lower-case, accents removed, single spaces: the form names are compared in."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


def name_similarity(a: str, b: str) -> float:
    """0-100 similarity of two names (rapidfuzz ratio of the folded forms)."""
    from rapidfuzz import fuzz

    return float(fuzz.ratio(fold(a), fold(b)))


class NameVotes:
    """OCR readings of one label over time; :meth:`best` is the voted name."""

    def __init__(self):
        self.readings: dict[str, list[float]] = {}

    def add(self, text: str, conf: float) -> None:
        self.readings.setdefault(text, []).append(conf)

    def merge(self, other: "NameVotes") -> None:
        for text, confs in other.readings.items():
            self.readings.setdefault(text, []).extend(confs)

    @property
    def n(self) -> int:
        return sum(len(c) for c in self.readings.values())

    def best(self) -> tuple[str, float]:
        """``(name, confidence 0..1)``; ``("", 0.0)`` when nothing was read.

        Readings are grouped by similarity (OCR slips such as ``Nilson``/``Nilsson`` vote
        together); the group with the most confidence wins, and its most confident exact
        spelling is the name (ignoring case; a capitalised spelling wins over
        ``farid Haddad``). Confidence = the group's share of all confidence x its mean
        Tesseract confidence.
        """
        if not self.readings:
            return "", 0.0
        texts = sorted(self.readings, key=lambda t: -sum(self.readings[t]))
        groups: list[list[str]] = []
        for t in texts:
            for g in groups:
                if name_similarity(t, g[0]) >= SAME_NAME:
                    g.append(t)
                    break
            else:
                groups.append([t])
        total = sum(sum(c) for c in self.readings.values())
        weight = [sum(sum(self.readings[t]) for t in g) for g in groups]
        gi = int(np.argmax(weight))
        # Spellings that differ only in case are one reading (Tesseract confuses F and f);
        # of those, a capitalised one is the name (names are capitalised on labels).
        by_case: dict[str, float] = {}
        for t in groups[gi]:
            by_case[t.casefold()] = by_case.get(t.casefold(), 0.0) + sum(self.readings[t])
        key = max(by_case, key=by_case.get)
        spellings = [t for t in groups[gi] if t.casefold() == key]
        capitalised = [t for t in spellings if all(w[:1].isupper() for w in t.split())]
        name = (capitalised or spellings)[0]
        confs = [c for t in groups[gi] for c in self.readings[t]]
        return name, float(weight[gi] / total * np.mean(confs)) if total > 0 else 0.0


@dataclass
class TrackSummary:
    """What the people stage needs of one face track."""

    track_id: int
    first_seen: float
    last_seen: float
    n_frames: int
    embedding: np.ndarray | None = None
    votes: NameVotes = field(default_factory=NameVotes)


@dataclass
class Student:
    """One student of a recording."""

    student_id: str
    name: str
    name_confidence: float
    tracks: list[int]
    seconds_visible: float
    seconds_camera_off: float
    first_seen: float | None
    last_seen: float | None
    embedding: np.ndarray | None
    on_roster: str = ""  # "yes" / "no" with a roster, "" without
    ocr_name: str = ""  # the name as read, before roster snapping
    camera_off: list[tuple[float, float]] = field(default_factory=list)  # (start, end) s

    @property
    def named(self) -> bool:
        return bool(self.name) and not self.name.startswith("Unknown ")


class _Cluster:
    def __init__(self, track: TrackSummary):
        self.tracks = [track]
        self.votes = NameVotes()
        self.votes.merge(track.votes)
        self._emb = [] if track.embedding is None else [track.embedding]
        self.spans = [(track.first_seen, track.last_seen)]

    @property
    def embedding(self) -> np.ndarray | None:
        return np.mean(self._emb, axis=0) if self._emb else None

    def absorb(self, other: "_Cluster") -> None:
        self.tracks += other.tracks
        self.votes.merge(other.votes)
        self._emb += other._emb
        self.spans += other.spans


class PeopleClusterer:
    """Groups tracks into people: the seed paper's online pass, then an offline merge.

    Args:
        same_person_distance: identity-embedding distance under which two faces without a
            telling name are one person (from the identity model; dlib: 0.6).
        face_margin: the tighter distance used when only faces speak (no name on one side):
            an unnamed fragment joins a cluster only below ``same_person_distance *
            face_margin``.
        overlap_tolerance: seconds two tracks may overlap and still be one person (a track
            that ends on the frame where the next begins).
    """

    def __init__(self, same_person_distance: float = 0.6, face_margin: float = 0.8,
                 overlap_tolerance: float = 0.0):
        self.face_threshold = same_person_distance * face_margin
        self.overlap_tolerance = overlap_tolerance

    def _co_occur(self, a: _Cluster, b: _Cluster) -> bool:
        tol = self.overlap_tolerance
        return any(s1 < e2 - tol and s2 < e1 - tol or s1 == s2
                   for s1, e1 in a.spans for s2, e2 in b.spans)

    def _affinity(self, a: _Cluster, b: _Cluster) -> float | None:
        """How strongly ``a`` and ``b`` are one person (higher first), or ``None``."""
        if self._co_occur(a, b):
            return None
        na, ca = a.votes.best()
        nb, cb = b.votes.best()
        if na and nb:
            sim = name_similarity(na, nb)
            if sim >= SAME_NAME:
                return 2.0 + sim / 100
            if sim < DIFFERENT_NAME:
                return None
        ea, eb = a.embedding, b.embedding
        if ea is None or eb is None:
            return None
        d = float(np.linalg.norm(ea - eb))
        return 1.0 - d if d < self.face_threshold else None

    def cluster(self, tracks: Sequence[TrackSummary]) -> list[list[TrackSummary]]:
        """Groups of tracks, one per person, in order of first appearance."""
        clusters: list[_Cluster] = []
        # Online pass (the seed algorithm): each track joins its best cluster or opens one.
        for tr in sorted(tracks, key=lambda t: (t.first_seen, t.track_id)):
            c = _Cluster(tr)
            scored = [(s, i) for i, k in enumerate(clusters)
                      if (s := self._affinity(k, c)) is not None]
            if scored:
                clusters[max(scored)[1]].absorb(c)
            else:
                clusters.append(c)
        # Offline pass: merge the most certain pair until no pair qualifies.
        while True:
            best = None
            for i in range(len(clusters)):
                for j in range(i + 1, len(clusters)):
                    s = self._affinity(clusters[i], clusters[j])
                    if s is not None and (best is None or s > best[0]):
                        best = (s, i, j)
            if best is None:
                break
            _, i, j = best
            clusters[i].absorb(clusters.pop(j))
        groups = [sorted(c.tracks, key=lambda t: t.first_seen) for c in clusters]
        return sorted(groups, key=lambda g: (g[0].first_seen, g[0].track_id))


class CameraOffLog:
    """Names seen on tiles without a face, and for how long.

    Call :meth:`seen` at every OCR round with the names read on face-less tiles (an empty
    list is news too: everyone's camera is on); :meth:`close` at the end of the video.
    """

    def __init__(self):
        self.votes: dict[str, NameVotes] = {}
        self.seconds: dict[str, float] = {}
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.intervals: dict[str, list[tuple[float, float]]] = {}
        self._since: dict[str, float] = {}

    def _key(self, name: str) -> str:
        for k in self.votes:
            if name_similarity(k, name) >= SAME_NAME:
                return k
        self.votes[name] = NameVotes()
        self.seconds[name] = 0.0
        return name

    def seen(self, t: float, names: Iterable[tuple[str, float]]) -> None:
        now = set()
        for name, conf in names:
            k = self._key(name)
            self.votes[k].add(name, conf)
            now.add(k)
            self.first.setdefault(k, t)
            self.last[k] = t
            self._since.setdefault(k, t)
        for k in list(self._since):
            if k not in now:
                since = self._since.pop(k)
                self.seconds[k] += t - since
                self.intervals.setdefault(k, []).append((since, t))

    def close(self, t_end: float) -> None:
        for k, since in self._since.items():
            self.seconds[k] += max(0.0, t_end - since)
            self.intervals.setdefault(k, []).append((since, max(since, t_end)))
            self.last[k] = max(self.last.get(k, t_end), t_end)
        self._since.clear()


def build_students(groups: Sequence[Sequence[TrackSummary]], camera_off: CameraOffLog,
                   fps: float, roster: Sequence[str] | None = None) -> list[Student]:
    """Students from track groups and camera-off sightings, named and numbered.

    A camera-off name joins the student of the same name; otherwise it is a student who was
    present only with the camera off.
    """
    rows = []
    for g in groups:
        votes = NameVotes()
        for tr in g:
            votes.merge(tr.votes)
        embs = [tr.embedding for tr in g if tr.embedding is not None]
        rows.append({"votes": votes, "tracks": [tr.track_id for tr in g],
                     "frames": sum(tr.n_frames for tr in g), "off": 0.0, "off_iv": [],
                     "first": min(tr.first_seen for tr in g),
                     "last": max(tr.last_seen for tr in g),
                     "emb": np.mean(embs, axis=0).astype(np.float32) if embs else None})
    for key, votes in camera_off.votes.items():
        name, _ = votes.best()
        match = None
        for r in rows:
            n, _ = r["votes"].best()
            if n and name_similarity(n, name) >= SAME_NAME:
                match = r
                break
        if match is None:
            match = {"votes": NameVotes(), "tracks": [], "frames": 0, "off": 0.0, "off_iv": [],
                     "first": camera_off.first[key], "last": camera_off.last[key], "emb": None}
            rows.append(match)
        match["votes"].merge(votes)
        match["off"] += camera_off.seconds.get(key, 0.0)
        match["off_iv"] += camera_off.intervals.get(key, [])
        match["first"] = min(match["first"], camera_off.first[key])
        match["last"] = max(match["last"], camera_off.last[key])
    rows.sort(key=lambda r: r["first"])
    students, unknown = [], 0
    for i, r in enumerate(rows, 1):
        name, conf = r["votes"].best()
        ocr_name = name
        if not name:
            unknown += 1
            name = f"Unknown {unknown}"
        students.append(Student(
            student_id=f"S{i:02d}", name=name, name_confidence=round(conf, 3),
            tracks=r["tracks"], seconds_visible=round(r["frames"] / fps, 1),
            seconds_camera_off=round(r["off"], 1), first_seen=r["first"], last_seen=r["last"],
            embedding=r["emb"], ocr_name=ocr_name,
            camera_off=sorted((round(a, 3), round(b, 3)) for a, b in r["off_iv"])))
    if roster is not None:
        snap_to_roster(students, roster)
    return students


def read_roster(path: str | Path) -> list[str]:
    """Expected names from a CSV: a ``name`` column, else the first column (one per row).

    Raises:
        InputError: missing, unreadable or empty file.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except FileNotFoundError:
        raise InputError(f"{path}: roster file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the roster ({exc}); expected a UTF-8 CSV "
                         "with one name per row") from None
    if not rows:
        raise InputError(f"{path}: the roster is empty; expected one name per row")
    header = [c.strip().lower() for c in rows[0]]
    col = header.index("name") if "name" in header else 0
    body = rows[1:] if "name" in header else rows
    names = [unicodedata.normalize("NFC", r[col].strip()) for r in body
             if len(r) > col and r[col].strip()]
    if not names:
        raise InputError(f"{path}: no names in the roster")
    return names


def snap_to_roster(students: Sequence[Student], roster: Sequence[str],
                   min_similarity: float = 75.0) -> list[str]:
    """Replace read names by the closest roster name (in place); return absent roster names.

    A student's name snaps when its similarity to a roster name is at least
    ``min_similarity`` (the roster spelling, accents included, wins over OCR). Students whose
    name matches nobody are marked ``on_roster = "no"``.
    """
    matched = set()
    for s in students:
        if not s.named:
            s.on_roster = "no"
            continue
        scored = sorted(((name_similarity(s.name, r), r) for r in roster), reverse=True)
        if scored and scored[0][0] >= min_similarity:
            s.name = scored[0][1]
            s.on_roster = "yes"
            matched.add(scored[0][1])
        else:
            s.on_roster = "no"
    return [r for r in roster if r not in matched]
