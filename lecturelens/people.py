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
from lecturelens.scripts import name_scripts

#: Two names at least this similar (rapidfuzz ratio, 0-100, accents folded) are one name.
SAME_NAME = 85.0
#: Two confidently read names less similar than this belong to different people.
DIFFERENT_NAME = 60.0


def fold(name: str) -> str:
    """Lower-case, accents removed, single spaces: the form names are compared in."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


#: An accented spelling wins over its plain twin with this share of the twin's backing.
ACCENT_SHARE = 0.3


def accents(text: str) -> int:
    """Letters of ``text`` outside ASCII: how accented a spelling is."""
    return sum(not ch.isascii() for ch in text)


def same_script(a: str, b: str) -> bool:
    """Whether two names share a script. One label read in two scripts (يوسف العلي and
    ``Lawg``; a Korean name as Han) is an OCR disagreement, not two people: such names
    neither join nor keep two groups of tracks apart, and the faces decide. (A track is
    still split where its label turns into another script: a reshuffle can put a Korean
    name where a Chinese one was, and the split halves rejoin if their faces agree.)"""
    sa, sb = name_scripts(a), name_scripts(b)
    return not sa or not sb or bool(sa & sb)


def name_similarity(a: str, b: str) -> float:
    """0-100 similarity of two names (rapidfuzz ratio of the folded forms)."""
    from rapidfuzz import fuzz

    return float(fuzz.ratio(fold(a), fold(b)))


def truncation_of(short: str, full: str) -> bool:
    """Whether ``short`` is ``full`` cut off after its first word (a tile too narrow for the
    whole name): ``Thérèse L`` and ``Thérèse Lema`` of ``Thérèse Lemaître``, not ``Thérèse``
    alone (two students may share a first name)."""
    a, b = fold(short), fold(full)
    return bool(a) and len(a) < len(b) and " " in a and b.startswith(a)


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
        OCR confidence.
        """
        ranked = self.ranked()
        return ranked[0][:2] if ranked else ("", 0.0)

    def ranked(self) -> list[tuple[str, float, float]]:
        """Every reading group as ``(name, confidence, summed confidence)``, best first."""
        if not self.readings:
            return []
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
        out = []
        for g in groups:
            weight = sum(sum(self.readings[t]) for t in g)
            # Spellings that differ only in case are one reading (Tesseract confuses F and
            # f); of those, a capitalised one is the name (names are capitalised on labels).
            by_case: dict[str, float] = {}
            for t in g:
                by_case[t.casefold()] = by_case.get(t.casefold(), 0.0) + sum(self.readings[t])
            key = max(by_case, key=by_case.get)
            # An accented twin with a third of the backing is the name: OCR drops accents
            # on small text far more often than it invents them (Martinez read at three
            # scales and rounds of four, Martínez at one).
            twins = [k for k in by_case if fold(k) == fold(key) and accents(k) > accents(key)
                     and by_case[k] >= ACCENT_SHARE * by_case[key]]
            if twins:
                key = max(twins, key=lambda k: (by_case[k], accents(k)))
            spellings = [t for t in g if t.casefold() == key]
            capitalised = [t for t in spellings if all(w[:1].isupper() for w in t.split())]
            name = (capitalised or spellings)[0]
            confs = [c for t in g for c in self.readings[t]]
            conf = float(weight / total * np.mean(confs)) if total > 0 else 0.0
            out.append((name, conf, float(weight)))
        out.sort(key=lambda r: -r[2])
        return out


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
        if na and nb and same_script(na, nb):
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
                     "emb": np.mean(embs, axis=0).astype(np.float32) if embs else None,
                     "spans": [(tr.first_seen, tr.last_seen) for tr in g]})
    for key, votes in camera_off.votes.items():
        name, _ = votes.best()
        match = None
        for r in rows:
            n, _ = r["votes"].best()
            if n and name_similarity(n, name) >= SAME_NAME:
                match = r
                break
        if match is None:
            # A camera-off tile cuts a long name short (``Thérèse L``, ``Thérèse Lemaî...``):
            # it is the one student whose name it begins.
            heads = [r for r in rows if truncation_of(name, r["votes"].best()[0])]
            if len(heads) == 1:
                votes, match = NameVotes(), heads[0]  # the whole name stays the name
        if match is None:
            match = {"votes": NameVotes(), "tracks": [], "frames": 0, "off": 0.0, "off_iv": [],
                     "first": camera_off.first[key], "last": camera_off.last[key], "emb": None,
                     "spans": []}
            rows.append(match)
        match["votes"].merge(votes)
        match["off"] += camera_off.seconds.get(key, 0.0)
        match["off_iv"] += camera_off.intervals.get(key, [])
        match["first"] = min(match["first"], camera_off.first[key])
        match["last"] = max(match["last"], camera_off.last[key])
    rows.sort(key=lambda r: r["first"])
    names = unique_names([r["votes"] for r in rows], [r["spans"] for r in rows])
    students, unknown = [], 0
    for i, (r, (name, conf)) in enumerate(zip(rows, names), 1):
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


#: Byte signatures of files that are not text, and what to call them in the error.
_ROSTER_NOT_TEXT = ((b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)"),
                    (b"\xd0\xcf\x11\xe0", "an Excel .xls (OLE) document"),
                    (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"),
                    (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"))
#: BOMs in the order to test them (UTF-32 LE starts with UTF-16 LE's BOM).
_ROSTER_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                (b"\xfe\xff", "utf-16"))
#: Invisible characters exports leave in names (bidi marks, zero-width spaces, stray BOMs):
#: they would make the same name compare unequal. ZWJ/ZWNJ stay (Persian, Indic spelling).
_ROSTER_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200e\u200f\u061c\u202a\u202b\u202c"
                                            "\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"))
#: Windows-1252 readings of bytes in East Asian legacy encodings (EUC-KR, GBK, Shift-JIS)
#: are full of these symbols (강미숙 -> °­¹Ì¼÷); names are not.
_ROSTER_MOJIBAKE = set(map(chr, range(0xA1, 0xC0))) - {"\u00aa", "\u00b7", "\u00ba"} | {
    "\u00d7", "\u00f7"}
_ROSTER_FIX = ("expected a CSV (or Excel 'Unicode text') with one name per row in UTF-8, "
               "UTF-16 or Windows-1252; in Excel: Save As > CSV UTF-8")


def _decode_roster(raw: bytes) -> str:
    """The roster's text: UTF-8/16/32 by BOM, UTF-16 without BOM by its NUL pattern, then
    UTF-8, then Windows-1252 (Excel's "CSV" on Western Windows).

    Raises:
        ValueError: not text in those encodings; the message says what it looks like.
    """
    for magic, what in _ROSTER_NOT_TEXT:
        if raw.startswith(magic):
            raise ValueError(f"it is {what}, not text")
    for bom, encoding in _ROSTER_BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                raise ValueError(f"it starts with a {encoding.upper()} byte-order mark but "
                                 f"is not valid {encoding.upper()}") from None
    pairs = len(raw) // 2
    nul_even, nul_odd = raw[0:2 * pairs:2].count(0), raw[1:2 * pairs:2].count(0)
    # UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte.
    for encoding, nuls, other in (("utf-16-le", nul_odd, nul_even),
                                  ("utf-16-be", nul_even, nul_odd)):
        if len(raw) % 2 == 0 and pairs and nuls >= 0.2 * pairs and other <= 0.02 * pairs:
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                break
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise ValueError("it is neither UTF-8, UTF-16 nor Windows-1252 text") from None
        letters = [ch for ch in text if not ch.isspace() and ch not in ",;\t\"'"]
        if sum(ch in _ROSTER_MOJIBAKE for ch in letters) > 0.05 * len(letters):
            raise ValueError("it is not UTF-8 and reads as symbols in Windows-1252: a legacy "
                             "East Asian encoding such as EUC-KR, GBK or Shift-JIS?") from None
    # A stray NUL or two (a truncated export) is cleaned away below; many are binary data.
    controls = sum(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\x0b\x0c"
                   for ch in text)
    if controls > max(4, len(text) // 20):
        raise ValueError("it holds binary data, not text")
    return text


def _clean_roster_name(cell: str) -> str:
    """NFC, no control or invisible characters, single spaces."""
    cell = "".join(" " if ch in "\t\n\r\x0b\x0c" else ch for ch in cell
                   if unicodedata.category(ch) != "Cc" or ch in "\t\n\r\x0b\x0c")
    cell = unicodedata.normalize("NFC", cell.translate(_ROSTER_INVISIBLE))
    return " ".join(cell.split())


def unique_names(votes: Sequence[NameVotes], spans: Sequence[Sequence[tuple[float, float]]]
                 ) -> list[tuple[str, float]]:
    """One name per student, no name given twice to people seen at the same time.

    Two students on screen together are two people, so they cannot both be the one printed
    name: a reading given to the wrong track at a reshuffle is the usual cause. The student
    whose readings back the name more strongly keeps it; the other takes its next reading
    group not taken yet, and keeps the name only when it has no other (two people can share
    a name). Students never seen together were not merged for a reason (their faces
    differ), so they may share a name.

    Returns:
        ``(name, confidence)`` per student, ``("", 0.0)`` when nothing was read.
    """
    ranked = [v.ranked() for v in votes]
    choice = [0] * len(votes)

    def together(i: int, j: int) -> bool:
        return any(a1 < b2 and a2 < b1 for a1, b1 in spans[i] for a2, b2 in spans[j])

    for _ in range(len(votes)):
        changed = False
        for i in range(len(votes)):
            for j in range(i + 1, len(votes)):
                if not (choice[i] < len(ranked[i]) and choice[j] < len(ranked[j])):
                    continue
                ni, _, wi = ranked[i][choice[i]]
                nj, _, wj = ranked[j][choice[j]]
                if name_similarity(ni, nj) < SAME_NAME or not together(i, j):
                    continue
                loser = j if wi >= wj else i
                taken = {ranked[k][choice[k]][0] for k in range(len(votes))
                         if k != loser and choice[k] < len(ranked[k])}
                nxt = next((c for c in range(choice[loser] + 1, len(ranked[loser]))
                            if all(name_similarity(ranked[loser][c][0], t) < SAME_NAME
                                   for t in taken)), None)
                if nxt is not None:
                    choice[loser] = nxt
                    changed = True
        if not changed:
            break
    return [ranked[i][choice[i]][:2] if ranked[i] else ("", 0.0) for i in range(len(votes))]


def read_name_file(path: Path, what: str, fix: str) -> str:
    """The text of a file of names (a roster, an opt-out list), its encoding detected.

    Args:
        path: the file.
        what: what it is, for messages ("roster", "opt-out file").
        fix: what to do when it cannot be decoded.

    Raises:
        InputError: missing, unreadable, or in no encoding a name list comes in.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror}); {fix}") from None
    try:
        return _decode_roster(raw).removeprefix("\ufeff")
    except ValueError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc}); {fix}") from None


def read_roster(path: str | Path) -> list[str]:
    """Expected names from a CSV: a ``name`` column, else the first column (one per row).

    Rosters come out of Excel, LMS exports and text editors, so the file may be UTF-8 (with
    or without BOM), UTF-16 (with BOM, e.g. Excel's "Unicode text", tab-separated) or
    Windows-1252 (Excel's "CSV" on Western Windows); cells may be separated by commas,
    semicolons (Excel in locales with a decimal comma) or tabs: the first non-empty line
    decides. Names are cleaned (NFC, NUL/control/bidi characters removed, single spaces);
    a name that repeats one before it (ignoring case) is dropped, with a warning.

    Raises:
        InputError: missing, unreadable, binary or empty file, or one in another encoding.
    """
    import io
    import warnings

    path = Path(path)
    text = read_name_file(path, "roster file", _ROSTER_FIX).replace("\x00", "")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = "\t" if "\t" in first else ";" if ";" in first and "," not in first else ","
    rows = [[_clean_roster_name(c) for c in r]
            for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    rows = [r for r in rows if any(r)]
    if not rows:
        raise InputError(f"{path}: the roster is empty; expected one name per row")
    header = [c.lower() for c in rows[0]]
    col = header.index("name") if "name" in header else 0
    body = rows[1:] if "name" in header else rows
    names, seen, dropped = [], set(), []
    for r in body:
        if len(r) <= col or not r[col]:
            continue
        key = r[col].casefold()
        if key in seen:
            dropped.append(r[col])
            continue
        seen.add(key)
        names.append(r[col])
    if not names:
        raise InputError(f"{path}: no names in the roster")
    if dropped:
        shown = ", ".join(dropped[:3]) + (", ..." if len(dropped) > 3 else "")
        warnings.warn(f"{path}: {len(dropped)} duplicate name(s) dropped from the roster "
                      f"(first spelling kept): {shown}", stacklevel=2)
    return names


def roster_similarity(read: str, listed: str) -> float:
    """0-100 similarity of a read name to a roster name: the better of the plain ratio and
    the ratio without spaces (PP-OCR drops spaces: ``LeaDubois``)."""
    from rapidfuzz import fuzz

    a, b = fold(read), fold(listed)
    return max(float(fuzz.ratio(a, b)),
               float(fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""))))


def snap_to_roster(students: Sequence[Student], roster: Sequence[str],
                   min_similarity: float = 75.0) -> list[str]:
    """Replace read names by the closest roster name (in place); return absent roster names.

    A student's name snaps when its similarity to a roster name is at least
    ``min_similarity`` (the roster spelling, accents included, wins over OCR). Students whose
    name matches nobody are marked ``on_roster = "no"``.
    """
    named = [s for s in students if s.named]
    for s in students:
        s.on_roster = "no"
    # Closest pairs first, each roster name given once, so that of two look-alike roster
    # names (Léa/Léo Dubois) each goes to the student who reads closest to it.
    pairs = sorted(((roster_similarity(s.name, r), k, r) for k, s in enumerate(named)
                    for r in roster), key=lambda p: (-p[0], p[1]))
    matched: set[str] = set()
    done: set[int] = set()
    for sim, k, r in pairs:
        if sim < min_similarity:
            break
        if k in done or r in matched:
            continue
        named[k].name, named[k].on_roster = r, "yes"
        matched.add(r)
        done.add(k)
    # A student whose every close roster name went to others keeps its best one (two
    # fragments of one person both read the name) rather than an unsnapped spelling.
    for sim, k, r in pairs:
        if sim >= min_similarity and k not in done:
            named[k].name, named[k].on_roster = r, "yes"
            done.add(k)
    return [r for r in roster if r not in matched]
