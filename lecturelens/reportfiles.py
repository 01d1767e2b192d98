"""The report folder's format: every file's name and columns, their readers and writers, and
the removal of students' rows. No other module spells a file name of the folder.

One folder per recording (``OUTDIR/<video>/``). ``analyze`` writes the analysis:

* ``observations.csv``: one row per face per sampled frame (:data:`OBSERVATION_COLUMNS`,
  then the emotion label and probabilities); ``emotion_features.npy``: row i holds the
  emotion model's features of observation row i;
* ``tracks.csv``: one row per face track; ``students.csv``: one row per student, and
  ``student_embeddings.npy``: row i is student i's identity embedding;
* ``roster.csv`` (with a roster) and ``run.json`` (inputs, settings, models, timings,
  status).

The report stage (``lecturelens report`` rebuilds it) derives the rest from them:
:data:`DERIVED_FILES` (``report.html`` first: see :mod:`lecturelens.reportdir` for why) and
:data:`DERIVED_DIRS`. How the folder stays consistent when several processes or a
``kill -9`` meet there is :mod:`lecturelens.reportdir`'s business; this module only knows
what the files hold.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lecturelens.atomic import atomic_csv, atomic_open, write_json
from lecturelens.errors import InputError

# --- names --------------------------------------------------------------------------------

OBSERVATIONS = "observations.csv"
EMOTION_FEATURES = "emotion_features.npy"
TRACKS = "tracks.csv"
STUDENTS = "students.csv"
STUDENT_EMBEDDINGS = "student_embeddings.npy"
ROSTER = "roster.csv"
RUN = "run.json"
WINDOWS = "windows.csv"
GROUP = "group.csv"
GIF_TABLE = "gifs.csv"
WINDOW_FEATURES = "window_features.npy"
GROUP_FEATURES = "group_features.npy"
TIMELINE = "timeline.png"
REPORT_HTML = "report.html"
#: Folders of the report stage: the GIF clips (one folder per student) and the per-student
#: charts (``students/<id>.png``).
GIF_DIR = "gifs"
PLOT_DIR = "students"
#: Held by the folder's one writer (:class:`lecturelens.reportdir.FolderLock`).
LOCK_FILE = ".lecturelens.lock"

#: Outputs of the report stage, rebuilt from the analysis' files by ``lecturelens report``.
#: ``report.html`` comes first: it is removed before anything else changes.
DERIVED_FILES = (REPORT_HTML, GIF_TABLE, WINDOWS, GROUP, TIMELINE, WINDOW_FEATURES,
                 GROUP_FEATURES)
DERIVED_DIRS = (GIF_DIR, PLOT_DIR)


def student_plot(dest: str | Path, student_id: str) -> Path:
    """Where a student's chart goes (``students/<id>.png``)."""
    return Path(dest) / PLOT_DIR / f"{student_id}.png"


# --- columns ------------------------------------------------------------------------------

#: The face detector's five landmarks (:class:`lecturelens.detect.Face`), in its order.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
OBSERVATION_COLUMNS = (
    ["t", "frame", "track_id", "student_id", "x1", "y1", "x2", "y2"]
    + [f"{n}_{c}" for n in LANDMARK_NAMES for c in ("x", "y")]
    + ["det_prob", "quality", "yaw", "pitch", "ear", "ear_next"]
)


def observation_columns(emotion_classes=()) -> list[str]:
    """Columns of observations.csv; with an emotion model, its label and probabilities."""
    cols = list(OBSERVATION_COLUMNS)
    if emotion_classes:
        cols += ["emotion"] + [f"p_{c}" for c in emotion_classes]
    return cols


TRACK_COLUMNS = ["track_id", "student_id", "name", "first_seen", "last_seen", "seconds_visible",
                 "frames", "mean_x1", "mean_y1", "mean_x2", "mean_y2", "mean_det_prob",
                 "small_frames", "hidden_intervals"]
STUDENT_COLUMNS = ["student_id", "name", "name_confidence", "ocr_name", "on_roster",
                   "seconds_visible", "seconds_camera_off", "first_seen", "last_seen",
                   "tracks_merged", "tracks", "camera_off_intervals"]
#: Columns the report stage adds to students.csv.
STUDENT_REPORT_COLUMNS = ["dominant_emotion", "mean_engagement", "engagement_level",
                          "share_level_0", "share_level_1", "share_level_2", "share_level_3",
                          "camera_off_share", "windows_ok", "windows_insufficient",
                          "windows_camera_off", "windows_absent", "windows_looked_away",
                          "engagement_vs_class"]
ROSTER_COLUMNS = ["name", "student_id", "status"]
#: Per-window signals written to windows.csv (shares of the judged time, and seconds).
WINDOW_SIGNALS = ("face_visible", "attending", "eyes_closed", "head_down", "looked_away",
                  "longest_closure", "expressivity", "steadiness")


def window_columns(classes: Sequence[str]) -> list[str]:
    """Columns of windows.csv."""
    return (["student_id", "name", "start", "end", "state", "faces", "usable_faces",
             "expected_faces", "camera_off_seconds", "emotion", "strength", "valence"]
            + [f"p_{c}" for c in classes]
            + ["engagement", "level", "level_name"] + list(WINDOW_SIGNALS)
            + ["yaw", "pitch", "ear", "motion"])


GROUP_COLUMNS = ["start", "end", "group_affect", "score_positive", "score_neutral",
                 "score_negative", "mean_valence", "valence_spread", "students_visible",
                 "students_camera_off", "students_absent", "students_insufficient",
                 "mean_engagement", "students_looked_away"]
GIF_COLUMNS = ["student_id", "name", "emotion", "strength", "t", "start", "end", "path",
               "crop"]


# --- readers ------------------------------------------------------------------------------

def run_info(dest: str | Path) -> dict:
    """The ``run.json`` of a report."""
    path = Path(dest) / RUN
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not found; run `lecturelens analyze` first") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); re-run `lecturelens analyze`") from None


def write_run(dest: str | Path, record: dict) -> None:
    """Write the ``run.json`` of a report (atomically)."""
    write_json(Path(dest) / RUN, record)


def read_table(path: str | Path) -> tuple[list[str], list[dict]]:
    """The columns and rows (dicts) of one of the folder's CSV files."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a CSV file as dicts; none when the file is missing."""
    return read_table(path)[1] if Path(path).is_file() else []


@dataclass
class Observations:
    """Columns of ``observations.csv`` (one entry per face per sampled frame)."""

    t: np.ndarray
    frame: np.ndarray
    track_id: np.ndarray
    student_id: np.ndarray  # str
    box: np.ndarray  # N x 4
    usable: np.ndarray  # bool: quality ok
    yaw: np.ndarray
    pitch: np.ndarray
    ear: np.ndarray
    probs: np.ndarray  # N x C (empty without an emotion model)
    classes: tuple[str, ...]
    features: "np.ndarray | FeatureRows | None"  # N x D, row-aligned
    #: EAR about half a second later, where the eyes looked closed (NaN elsewhere; None in
    #: reports made before it was recorded).
    ear_next: np.ndarray | None = None


@dataclass
class StudentInfo:
    """What the windows need to know of a student (a row of ``students.csv``)."""

    student_id: str
    name: str
    first_seen: float | None
    last_seen: float | None
    camera_off: list[tuple[float, float]] = field(default_factory=list)
    #: Samples (``(first, last)`` runs) at which the face was hidden inside its still-live
    #: tile (``tracks.csv``'s ``hidden_intervals``): looked away.
    hidden: list[tuple[float, float]] = field(default_factory=list)


class FeatureRows:
    """Rows of a 2-D ``.npy`` file, read from disk when asked for (no memory map).

    The windows take a few rows of ``emotion_features.npy`` at a time, a student's rows
    scattered over the whole file. A memory map would keep every page it touched resident:
    the whole file (276 MB for a 3-hour lecture of 25 students) by the end of the first
    student, so the report stage's memory would grow with the lecture's length.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(fh)
            self._offset = fh.tell()
        if len(shape) != 2 or fortran or dtype.hasobject:
            raise ValueError(f"{self.path}: not a C-ordered 2-D array")
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self._row_bytes = dtype.itemsize * self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        """Rows by an integer index array (or a slice), as a new in-memory array."""
        idx = np.arange(self.shape[0])[index] if isinstance(index, slice) else np.asarray(index)
        idx = idx.astype(np.int64).reshape(-1)
        out = np.empty((len(idx), self.shape[1]), self.dtype)
        if not len(idx):
            return out
        if idx.min() < 0 or idx.max() >= self.shape[0]:
            raise IndexError(f"{self.path}: row index out of range")
        # One read per run of consecutive rows.
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        with open(self.path, "rb", buffering=0) as fh:
            for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(idx)]):
                n = (b - a) * self._row_bytes
                buf = os.pread(fh.fileno(), n, self._offset + int(idx[a]) * self._row_bytes)
                if len(buf) != n:
                    raise InputError(f"{self.path}: shorter than its header says; re-run "
                                     "`lecturelens analyze`")
                out[a:b] = np.frombuffer(buf, self.dtype).reshape(b - a, self.shape[1])
        return out


def _missing(path: Path) -> InputError:
    return InputError(f"{path}: not found; run `lecturelens analyze` on the video first")


def read_observations(dest: str | Path) -> Observations:
    """Load ``observations.csv`` (and ``emotion_features.npy`` when present) of a report."""
    dest = Path(dest)
    path = dest / OBSERVATIONS
    if not path.is_file():
        raise _missing(path)
    # Streamed into typed columns: a 3-hour lecture has ~270,000 rows, and a dict per row
    # would hold over a gigabyte at once.
    from array import array

    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        classes = tuple(c[2:] for c in header if c.startswith("p_"))
        col = {c: i for i, c in enumerate(header)}
        num_cols = ["t", "x1", "y1", "x2", "y2", "yaw", "pitch", "ear", "ear_next"]
        nums = {c: array("d") for c in num_cols}
        ints = {c: array("q") for c in ("frame", "track_id")}
        probs = array("f")
        students: list[str] = []
        usable = bytearray()
        n = 0
        try:
            idx = {c: col.get(c) for c in num_cols}
            q = col.get("quality")
            for r in reader:
                for c, i in idx.items():
                    v = r[i] if i is not None else ""
                    nums[c].append(float(v) if v != "" else np.nan)
                ints["frame"].append(int(r[col["frame"]]))
                ints["track_id"].append(int(r[col["track_id"]]))
                students.append(r[col["student_id"]])
                usable.append(1 if q is None or r[q] == "ok" else 0)
                for c in classes:
                    probs.append(float(r[col[f"p_{c}"]]))
                n += 1
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            # A truncated or hand-edited file: say which, not a traceback.
            raise InputError(f"{path}: unreadable row or column ({type(exc).__name__}: "
                             f"{exc}); re-run `lecturelens analyze` on the video") from None
    f64 = {c: np.frombuffer(v, dtype=np.float64) for c, v in nums.items()}
    obs = Observations(
        t=f64["t"], frame=np.frombuffer(ints["frame"], np.int64),
        track_id=np.frombuffer(ints["track_id"], np.int64),
        student_id=np.array(students, dtype=object),
        box=np.stack([f64[k] for k in ("x1", "y1", "x2", "y2")], 1),
        usable=np.frombuffer(usable, np.uint8).astype(bool),
        yaw=f64["yaw"], pitch=f64["pitch"], ear=f64["ear"],
        probs=np.frombuffer(probs, np.float32).reshape(n, len(classes)),
        classes=classes, features=None,
        ear_next=f64["ear_next"] if "ear_next" in col else None)
    feats = None
    fpath = dest / EMOTION_FEATURES
    if classes and fpath.is_file():
        try:
            feats = FeatureRows(fpath)
        except ValueError as exc:
            raise InputError(f"{fpath}: not a feature matrix ({exc}); re-run "
                             "`lecturelens analyze`") from None
        if len(feats) != n:
            raise InputError(f"{fpath}: {len(feats)} rows but {OBSERVATIONS} has {n};"
                             " re-run `lecturelens analyze`")
    obs.features = feats
    return obs


def parse_intervals(text: str) -> list[tuple[float, float]]:
    """``"12.0-30.0;45.5-60.0"`` -> ``[(12.0, 30.0), (45.5, 60.0)]``."""
    out = []
    for part in filter(None, (text or "").split(";")):
        a, _, b = part.partition("-")
        out.append((float(a), float(b)))
    return out


def format_intervals(intervals: Sequence[tuple[float, float]]) -> str:
    """Inverse of :func:`parse_intervals`."""
    return ";".join(f"{a:.1f}-{b:.1f}" for a, b in intervals)


def read_students(dest: str | Path) -> list[StudentInfo]:
    """Students of a report (``students.csv``)."""
    path = Path(dest) / STUDENTS
    if not path.is_file():
        raise _missing(path)
    rows = read_table(path)[1]
    hidden: dict[str, list[tuple[float, float]]] = {}
    for r in read_rows(Path(dest) / TRACKS):
        if r.get("hidden_intervals"):
            hidden.setdefault(r["student_id"], []).extend(parse_intervals(r["hidden_intervals"]))
    return [StudentInfo(r["student_id"], r["name"],
                        float(r["first_seen"]) if r.get("first_seen") else None,
                        float(r["last_seen"]) if r.get("last_seen") else None,
                        parse_intervals(r.get("camera_off_intervals", "")),
                        sorted(hidden.get(r["student_id"], [])))
            for r in rows]


def read_embeddings(dest: str | Path, students: int) -> np.ndarray:
    """``student_embeddings.npy`` (row i = student i); without the file, ``students`` rows of
    width 0."""
    path = Path(dest) / STUDENT_EMBEDDINGS
    return np.load(path) if path.is_file() else np.full((students, 0), np.nan, np.float32)


# --- writers ------------------------------------------------------------------------------

def write_students(dest: Path, students, dim: int) -> None:
    """``students.csv`` and the matching ``student_embeddings.npy`` (row i = student i).

    Students never seen with the camera on have a row of NaN embeddings.
    """
    with atomic_csv(dest / STUDENTS, STUDENT_COLUMNS) as w:
        for s in students:
            w.writerow([s.student_id, s.name, f"{s.name_confidence:.3f}", s.ocr_name,
                        s.on_roster, f"{s.seconds_visible:.1f}", f"{s.seconds_camera_off:.1f}",
                        "" if s.first_seen is None else f"{s.first_seen:.3f}",
                        "" if s.last_seen is None else f"{s.last_seen:.3f}",
                        len(s.tracks), " ".join(map(str, s.tracks)),
                        format_intervals(s.camera_off)])
    emb = np.full((len(students), dim), np.nan, np.float32)
    for i, s in enumerate(students):
        if s.embedding is not None and dim:
            emb[i] = s.embedding
    with atomic_open(dest / STUDENT_EMBEDDINGS, "wb") as fh:
        np.save(fh, emb)


class FeatureWriter:
    """Streams float16 feature rows to disk; :meth:`commit` turns them into
    ``emotion_features.npy``.

    Row ``i`` of the ``.npy`` belongs to data row ``i`` of observations.csv. Memory stays
    flat: rows go to a temporary file (its name unique to this run) and are copied behind an
    ``.npy`` header at the end.
    """

    def __init__(self, dest: Path):
        self.path = Path(dest) / EMOTION_FEATURES
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".rows.tmp",
                                   dir=self.path.parent)
        self.tmp = Path(tmp)
        self._fh = open(fd, "wb")
        self.rows = 0
        self.dim = None

    def write(self, feats: np.ndarray) -> None:
        if len(feats):
            self.dim = feats.shape[1]
            self._fh.write(np.ascontiguousarray(feats, dtype=np.float16).tobytes())
            self.rows += len(feats)

    def commit(self, dim: int, keep: bytes | None = None) -> None:
        """Write the ``.npy``; with ``keep`` (one 0/1 byte per row), only the rows kept."""
        self._fh.close()
        dim = self.dim or dim
        n = self.rows if keep is None else sum(keep)
        with atomic_open(self.path, "wb") as out, open(self.tmp, "rb") as rows:
            np.lib.format.write_array_header_1_0(
                out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                      "fortran_order": False, "shape": (n, dim)})
            if keep is None:
                shutil.copyfileobj(rows, out, 1 << 20)
            else:
                # Opted-out students' rows are left out (in chunks: memory stays flat).
                for a in range(0, self.rows, 16384):
                    chunk = np.frombuffer(rows.read(16384 * dim * 2), np.float16)
                    chunk = chunk.reshape(-1, dim)
                    mask = np.frombuffer(keep[a:a + len(chunk)], np.uint8).astype(bool)
                    out.write(chunk[mask].tobytes())
        self.tmp.unlink()

    def discard(self) -> None:
        self._fh.close()
        self.tmp.unlink(missing_ok=True)


# --- removing students' rows --------------------------------------------------------------

def remove_student_rows(dest: str | Path, ids: set[str], tracks: set[str],
                        students_before: int, roster_gone: Callable[[str], bool],
                        step: Callable[[str], None] | None = None) -> None:
    """Drop students from the analysis' files, one atomic change after another.

    Every change can be repeated after a kill without dropping a row twice: the embeddings
    go first, and only while ``students.csv`` still has all ``students_before`` students
    (row i of one is row i of the other); the features go before the observations, and only
    while they still have a row per observation.

    Args:
        dest: the report folder.
        ids: student ids to remove.
        tracks: their track ids (as in tracks.csv).
        students_before: how many students the report had before the removal began.
        roster_gone: whether a roster name goes too.
        step: called after each change with what changed (``embeddings``,
            ``students.csv``, ``tracks.csv``, ``features``, ``observations``,
            ``roster.csv``).
    """
    dest = Path(dest)
    mark = step or (lambda _what: None)
    students = dest / STUDENTS
    cols, rows = read_table(students) if students.is_file() else ([], [])
    emb_path = dest / STUDENT_EMBEDDINGS
    if emb_path.is_file() and len(rows) == students_before:
        emb = np.load(emb_path)
        if len(emb) == len(rows):
            keep = [i for i, r in enumerate(rows) if r["student_id"] not in ids]
            with atomic_open(emb_path, "wb") as fh:
                np.save(fh, emb[keep])
    mark("embeddings")
    if any(r["student_id"] in ids for r in rows):
        with atomic_csv(students, cols) as w:
            for r in rows:
                if r["student_id"] not in ids:
                    w.writerow([r.get(c, "") for c in cols])
    mark("students.csv")
    _filter_csv(dest / TRACKS,
                lambda r: r.get("student_id") not in ids and r.get("track_id") not in tracks)
    mark("tracks.csv")
    _filter_observations(dest, ids, tracks, mark)
    mark("observations")
    _filter_csv(dest / ROSTER,
                lambda r: r.get("student_id") not in ids and not roster_gone(r.get("name", "")))
    mark("roster.csv")


def _filter_csv(path: Path, keep) -> None:
    """Rewrite a (small) CSV keeping the rows for which ``keep(row)``; untouched if all stay."""
    if not path.is_file():
        return
    cols, rows = read_table(path)
    kept = [r for r in rows if keep(r)]
    if len(kept) == len(rows):
        return
    with atomic_csv(path, cols) as w:
        for r in kept:
            w.writerow([r.get(c, "") for c in cols])


def _filter_observations(dest: Path, ids: set[str], tracks: set[str], mark) -> None:
    """Drop the students' rows of observations.csv and of emotion_features.npy (row i of
    one is row i of the other). Both are streamed: a 3-hour lecture has ~270,000 rows."""
    obs = dest / OBSERVATIONS
    if not obs.is_file():
        return
    keep = bytearray()
    with open(obs, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        col = {c: i for i, c in enumerate(header)}
        si, ti = col.get("student_id"), col.get("track_id")
        for r in reader:
            gone = (si is not None and si < len(r) and r[si] in ids) or \
                   (ti is not None and ti < len(r) and r[ti] in tracks)
            keep.append(0 if gone else 1)
    if all(keep):
        return
    mask = np.frombuffer(bytes(keep), np.uint8).astype(bool)
    feat = dest / EMOTION_FEATURES
    if feat.is_file():
        x = np.load(feat, mmap_mode="r")
        # Only while it still has a row per observation: features first, observations after.
        if len(x) == len(mask):
            with atomic_open(feat, "wb") as fh:
                np.lib.format.write_array_header_1_0(
                    fh, {"descr": np.lib.format.dtype_to_descr(x.dtype),
                         "fortran_order": False, "shape": (int(mask.sum()),) + x.shape[1:]})
                for a in range(0, len(x), 16384):
                    fh.write(np.ascontiguousarray(x[a:a + 16384][mask[a:a + 16384]]).tobytes())
        del x
    mark("features")
    with open(obs, newline="", encoding="utf-8") as fh, atomic_csv(obs, header) as w:
        reader = csv.reader(fh)
        next(reader, None)
        for k, r in zip(keep, reader):
            if k:
                w.writerow(r)
