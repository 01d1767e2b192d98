"""Opt-out: which students a list of names, ids or photos means, and their removal from a
report folder in an order that a ``kill -9`` cannot turn into a leak.

Who is meant:

* a student id (``S04``) means that student: the only way to name one whose label was never
  read (``Unknown 2``);
* a name means the students (and roster entries) with that name, accents and case aside, in
  either order (``Okafor, Ben`` is ``Ben Okafor``); failing that, the one name within
  :data:`~lecturelens.people.SAME_NAME` similarity (two such names: an error asking for the
  id). Names are never split at commas;
* a photo (``--exclude-face``) means every student whose identity embedding, made with the
  run's identity model, lies within that model's same-person distance of the photo's face.

An exclusion that means nobody is an error that names it and suggests the closest name
(:class:`ExclusionError`), except in a batch, where a student may simply be absent from one
lecture.

Removal from a finished report (:func:`remove_students`), one atomic change after another,
each of which can be repeated (so the next command finishes an interrupted opt-out,
:func:`recover`):

1. ``run.json`` is rewritten with every string naming the students scrubbed and an
   ``optout_pending`` record: the student and track ids and salted hashes of the names
   (the record names nobody, but says what to remove);
2. the report stage's outputs go, ``report.html`` first, then ``gifs.csv``, ``windows.csv``,
   the GIFs and per-student pictures (:func:`~lecturelens.reportdir.clear_derived`); from
   here on the folder does not look complete and shows no picture of anyone;
3. their rows of ``student_embeddings.npy`` then ``students.csv``, ``tracks.csv``,
   ``emotion_features.npy`` then ``observations.csv`` and ``roster.csv``;
4. ``run.json`` gains the count ``excluded_students`` and the pending record is marked done.

Only then does ``lecturelens report`` rebuild the outputs; it drops the record once
``report.html`` is written (until then, running the same command again after a kill must not
fail on a name that is already gone). A kill before step 1 leaves the report as it was (the
opt-out had not begun); a kill after it leaves a folder without ``report.html`` (except for
the instant between steps 1 and 2, when the old page is still the old complete report) whose
remaining traces of the student the next command removes first.
``analyze`` never writes an excluded student at all: it drops them in memory, before its
first output file (:func:`select`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lecturelens import reportfiles
from lecturelens.detect import create_face_detector
from lecturelens.errors import ConfigError, InputError
from lecturelens.identity import create_identity_model
from lecturelens.people import SAME_NAME, _clean_roster_name, fold, read_name_file
from lecturelens.reportdir import clear_derived, step
from lecturelens.reportfiles import read_table, run_info, write_run

PENDING_KEY = "optout_pending"
#: Similarity (0-100) above which an unmatched name is offered as "did you mean".
SUGGEST = 60.0
#: A reference photo is scaled to this longest side before face detection (phone photos are
#: 12 MP; MTCNN's pyramid over them takes seconds and finds the same face).
PHOTO_SIDE = 1280
REDACTED = "(redacted: names an opted-out student)"
_EXCLUDE_FLAGS = ("--exclude", "--exclude-face", "--exclude-file")


class ExclusionError(ConfigError):
    """An exclusion that means nobody, or more than one person.

    ``str(err)`` names it for the terminal; :attr:`redacted` says the same without any
    name, for run.json.
    """

    def __init__(self, message: str, redacted: str):
        super().__init__(message)
        self.redacted = redacted


@dataclass(frozen=True)
class Exclusions:
    """What a user asked to remove: names or student ids, and reference photos."""

    names: tuple[str, ...] = ()
    faces: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config) -> "Exclusions":
        return cls(tuple(config.exclude), tuple(config.exclude_faces))

    def __bool__(self) -> bool:
        return bool(self.names or self.faces)

    def check_photos(self) -> None:
        """Fail early (before any analysis) on a photo that is not there.

        Raises:
            InputError: a missing photo.
        """
        for p in self.faces:
            if not Path(p).is_file():
                raise InputError(f"{p}: photo not found; give the path of a photo of the "
                                 "student's face (--exclude-face)")


def read_exclude_file(path: str | Path) -> list[str]:
    """Names or student ids from a text file, one per line.

    Blank lines and lines starting with ``#`` are skipped; commas are part of a name. The
    encoding is detected as for rosters (UTF-8/16 with or without BOM, Windows-1252), and
    names are cleaned the same way (NFC, no control characters, single spaces).

    Raises:
        InputError: missing, unreadable or empty file.
    """
    # The roster reader's decoding and cleaning: an opt-out list comes from the same
    # spreadsheets and editors as a roster.
    path = Path(path)
    text = read_name_file(path, "opt-out file",
                          "save it as UTF-8 text, one name per line")
    names = []
    for line in text.splitlines():
        name = _clean_roster_name(line)
        if name and not name.startswith("#"):
            names.append(name)
    if not names:
        raise InputError(f"{path}: no names in the opt-out file; expected one name or "
                         "student id per line")
    return names


# --- who is meant -------------------------------------------------------------------------

@dataclass
class Person:
    """What matching needs of one student."""

    student_id: str
    name: str
    ocr_name: str = ""
    tracks: tuple[str, ...] = ()


@dataclass
class Selection:
    """The students and roster entries an opt-out removes.

    Attributes:
        ids: student ids.
        roster: roster names (as listed) of people removed, seen or absent.
        names: every spelling that must not survive anywhere (for scrubbing text).
        matched: the exclusions (names, photo paths) that meant somebody.
        unmatched: ``(exclusion, phrase)`` for each exclusion that meant nobody, the phrase
            saying why, with a suggestion.
        notes: names taken to mean another spelling (shown on the terminal, never kept).
        people: how many people go (students, plus roster entries no student had).
    """

    ids: set[str] = field(default_factory=set)
    roster: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    matched: list[str] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    people: int = 0


def _fold(name: str) -> str:
    return fold(name)


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(sorted(re.findall(r"\w+", _fold(name))))


def _similarity(a: str, b: str) -> float:
    """0-100: the better of the plain and the word-order-free ratio of the folded names."""
    from rapidfuzz import fuzz

    fa, fb = _fold(a), _fold(b)
    return max(float(fuzz.ratio(fa, fb)), float(fuzz.token_sort_ratio(fa, fb)))


def _unknown(name: str) -> bool:
    # "Unknown 2" and "Unknown 3" are 90 % alike; only an exact match may mean one of them.
    return not name or name.startswith("Unknown ")


def select(exclusions: Exclusions, people: Sequence[Person], roster: Sequence[str] = (),
           embeddings: np.ndarray | None = None, photos: np.ndarray | None = None,
           same_person_distance: float = 0.6) -> Selection:
    """The students (and roster entries) that ``exclusions`` mean.

    Args:
        exclusions: names/ids and photos.
        people: the report's students.
        roster: roster names, present and absent.
        embeddings: identity embedding per student (row i = ``people[i]``; NaN: none).
        photos: one embedding per photo of ``exclusions.faces`` (same model).
        same_person_distance: the identity model's threshold.

    Returns:
        The selection; exclusions that mean nobody are in ``unmatched`` (not raised).
    """
    sel = Selection()
    by_id = {p.student_id.upper(): p for p in people}
    for raw in exclusions.names:
        n = " ".join(raw.split())
        if not n:
            continue
        if n.upper() in by_id:
            sel.ids.add(by_id[n.upper()].student_id)
            sel.matched.append(n)
            continue
        folded, toks = _fold(n), _tokens(n)

        def same(x: str) -> bool:
            return bool(x) and (_fold(x) == folded or (len(toks) > 1 and _tokens(x) == toks))

        hits = [p for p in people if same(p.name) or same(p.ocr_name)]
        rhits = [r for r in roster if same(r)]
        if not hits and not rhits:
            # No exact spelling: one person's name close enough (an OCR slip, a missing
            # accent). Two people close to it: neither is guessed.
            def close(x: str) -> bool:
                return bool(x) and not _unknown(x) and _similarity(n, x) >= SAME_NAME

            hits = [p for p in people if close(p.name) or close(p.ocr_name)]
            rhits = [r for r in roster if close(r)]
            linked = {_fold(x) for p in hits for x in (p.name, p.ocr_name) if x}
            alone = sorted({_fold(r) for r in rhits} - linked)  # roster names of no student
            if len(hits) + len(alone) > 1:
                cands = [f"{p.student_id} {p.name}" for p in hits] + \
                    [f"{r} (on the roster)" for r in rhits if _fold(r) in alone]
                sel.unmatched.append((n, f"{n!r} is close to several students "
                                         f"({', '.join(cands)}); give the student id "
                                         "instead"))
                continue
            if hits or rhits:
                shown = hits[0].name if hits else rhits[0]
                sel.notes.append(f"--exclude {n!r} taken as {shown!r}"
                                 + (f" ({hits[0].student_id})" if hits else " (on the roster)"))
        if not hits and not rhits:
            sel.unmatched.append((n, _no_match(n, people, roster)))
            continue
        sel.matched.append(n)
        sel.ids.update(p.student_id for p in hits)
        sel.roster.update(rhits)
        if not _unknown(n) and n.upper() not in by_id:
            sel.names.add(n)
    if exclusions.faces:
        if photos is None or embeddings is None:
            raise ExclusionError("--exclude-face needs the students' identity embeddings",
                                 "--exclude-face needs identity embeddings")
        ok = np.isfinite(embeddings).all(axis=1) if len(embeddings) else np.zeros(0, bool)
        for path, emb in zip(exclusions.faces, photos):
            d = np.full(len(people), np.inf)
            if ok.any():
                d[ok] = np.linalg.norm(embeddings[ok] - emb[None, :], axis=1)
            near = [people[i].student_id for i in np.flatnonzero(d < same_person_distance)]
            if near:
                sel.ids.update(near)
                sel.matched.append(path)
            elif np.isfinite(d).any():
                k = int(np.argmin(d))
                sel.unmatched.append((path, (
                    f"{path}: no student's face is within {same_person_distance:g} of the "
                    f"photo's (closest: {people[k].student_id} at {d[k]:.2f}); give a clearer "
                    "photo, or the student id")))
            else:
                sel.unmatched.append((path, f"{path}: no student of this recording has an "
                                            "identity embedding; give the student id"))
    chosen = [p for p in people if p.student_id in sel.ids]
    for p in chosen:
        sel.names.update(x for x in (p.name, p.ocr_name) if x and not _unknown(x))
    # A roster entry goes with its student (snapped names are the roster's spelling).
    taken = {_fold(x) for x in sel.names}
    sel.roster.update(r for r in roster if _fold(r) in taken)
    sel.names.update(sel.roster)
    linked = {_fold(x) for p in chosen for x in (p.name, p.ocr_name) if x}
    sel.people = len(sel.ids) + len({_fold(r) for r in sel.roster} - linked)
    return sel


def _no_match(n: str, people: Sequence[Person], roster: Sequence[str]) -> str:
    cands = [(p.name, p.student_id) for p in people if not _unknown(p.name)]
    cands += [(p.ocr_name, p.student_id) for p in people if p.ocr_name and not _unknown(p.ocr_name)]
    cands += [(r, "on the roster") for r in roster]
    best = max(cands, key=lambda c: _similarity(n, c[0]), default=None)
    if best is not None and _similarity(n, best[0]) >= SUGGEST:
        return f"{n!r} matches no student (did you mean {best[0]!r}, {best[1]}?)"
    return (f"{n!r} matches no student (a student whose name was not read is opted out by "
            "id, e.g. S04, or with --exclude-face PHOTO)")


def _tell(sel: Selection) -> None:
    """Show on the terminal how inexact names were read (never in a file: they name people)."""
    import sys

    for note in sel.notes:
        print(f"lecturelens: note: {note}", file=sys.stderr)
    for _, why in sel.unmatched:
        print(f"lecturelens: warning: {why}", file=sys.stderr)


def raise_unmatched(sel: Selection, where: str, already: int = 0) -> None:
    """Raise :class:`ExclusionError` when some exclusion meant nobody.

    Args:
        sel: the selection.
        where: the report folder or recording, for the message.
        already: students opted out of this report before (they can no longer be matched).
    """
    if not sel.unmatched:
        return
    hint = (f"; {already} student(s) were already opted out of this report: if they were "
            "meant, there is nothing left to do" if already else "")
    raise ExclusionError(f"{where}: " + "; ".join(m for _, m in sel.unmatched) + hint
                         + ". Nothing was removed.",
                         f"{len(sel.unmatched)} exclusion(s) matched no student")


@dataclass
class Dropped:
    """What :func:`drop_students` left of an analysis, and what it took out."""

    students: list
    roster: list[str] | None
    absent: list[str]
    tracks: set[int]
    people: int
    unmatched: int
    names: set[str] = field(default_factory=set)


def drop_students(exclusions: Exclusions, students: Sequence, roster: Sequence[str] | None,
                  absent: Sequence[str], photos: np.ndarray | None = None,
                  same_person_distance: float = 0.6, strict: bool = True,
                  where: str = "") -> Dropped:
    """``analyze``'s opt-out: the excluded students taken out of its results in memory,
    before its first output file is written, so that no file ever shows them.

    Args:
        exclusions: names/ids and photos.
        students: :class:`~lecturelens.people.Student` objects.
        roster: roster names (``None`` without a roster).
        absent: roster names nobody matched.
        photos: embeddings of ``exclusions.faces`` (the run's identity model).
        same_person_distance: that model's threshold.
        strict: an exclusion that means nobody is an error (a single recording); a batch
            passes ``False``, since a student may be absent from one lecture.
        where: the recording, for the error message.

    Raises:
        ExclusionError: (strict) an exclusion means nobody.
    """
    people = [Person(s.student_id, s.name, s.ocr_name) for s in students]
    emb = None
    if exclusions.faces:
        dims = {len(s.embedding) for s in students if s.embedding is not None}
        dim = dims.pop() if dims else (photos.shape[1] if photos is not None else 0)
        emb = np.full((len(students), dim), np.nan, np.float32)
        for i, s in enumerate(students):
            if s.embedding is not None:
                emb[i] = s.embedding
    sel = select(exclusions, people, list(roster or []), emb, photos, same_person_distance)
    if strict:
        raise_unmatched(sel, where)
    _tell(sel)
    gone_roster = {_fold(r) for r in sel.roster}
    return Dropped(
        students=[s for s in students if s.student_id not in sel.ids],
        roster=None if roster is None else [r for r in roster if _fold(r) not in gone_roster],
        absent=[r for r in absent if _fold(r) not in gone_roster],
        tracks={t for s in students if s.student_id in sel.ids for t in s.tracks},
        people=sel.people, unmatched=len(sel.unmatched), names=set(sel.names))


# --- reference photos ---------------------------------------------------------------------

def embed_photos(paths: Sequence[str], identity, detector) -> np.ndarray:
    """Identity embedding of the largest face in each photo.

    Args:
        paths: image files.
        identity: the :class:`~lecturelens.identity.IdentityModel` the report used.
        detector: a :class:`~lecturelens.detect.FaceDetector`.

    Raises:
        InputError: a photo that is missing, unreadable or shows no face.
    """
    import cv2

    out = []
    for p in paths:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR) if Path(p).is_file() else None
        if bgr is None:
            raise InputError(f"{p}: not a photo OpenCV can read (or missing); give a JPEG or "
                             "PNG of the student's face")
        scale = PHOTO_SIDE / max(bgr.shape[:2])
        if scale < 1:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        faces = detector.detect([rgb])[0]
        if not faces:
            raise InputError(f"{p}: no face found in the photo; give one where the student's "
                             "face is clearly visible")
        face = max(faces, key=lambda f: f.width)
        out.append(identity.embed(rgb, [face])[0])
    return np.asarray(out, np.float32).reshape(len(out), -1)


def _run_identity(run: dict):
    """The identity model and face detector a report was made with."""
    name = next((m.get("name") for m in run.get("models", [])
                 if m.get("task") == "face-identity"), None)
    if not name:
        raise ExclusionError("--exclude-face: this report has no identity embeddings (it was "
                             "analysed with --identity-model none); opt out by name or id",
                             "--exclude-face: no identity embeddings")
    cfg = run.get("config", {})
    identity = create_identity_model(name, weights=cfg.get("identity_weights") or None)
    detector = create_face_detector(cfg, threads=0)
    return identity, detector


# --- redaction ----------------------------------------------------------------------------

def _name_pattern(names: Iterable[str]) -> re.Pattern | None:
    folded = sorted({_fold(n) for n in names if n and _fold(n)}, key=len, reverse=True)
    if not folded:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, folded)) + r")(?!\w)")


def scrub(obj, names: Iterable[str], keep: Sequence[str] = ("input", "models")):
    """``obj`` (run.json's content) with every string that names one of ``names`` replaced
    and every list item that is one of them dropped (e.g. ``roster_absent``).

    Args:
        obj: JSON-like data.
        names: the spellings to remove (compared folded, as whole words).
        keep: top-level keys left alone (paths of the video and the models).
    """
    pat = _name_pattern(names)
    if pat is None:
        return obj
    exact = {_fold(n) for n in names}

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x if not (isinstance(v, str) and _fold(v) in exact)]
        if isinstance(x, str) and pat.search(_fold(x)):
            return REDACTED
        return x

    return {k: (v if k in keep else walk(v)) for k, v in obj.items()}


def redact_argv(argv: Sequence[str], names: Iterable[str] = ()) -> list[str]:
    """A command line without the opt-out: the values of ``--exclude*`` options (names, the
    file of names, photos whose file names may be names) and any argument naming ``names``."""
    pat = _name_pattern(names)
    out, hide = [], False
    for a in argv:
        if hide:
            out.append("(excluded)")
            hide = False
        elif a in _EXCLUDE_FLAGS:
            out.append(a)
            hide = True
        elif a.startswith(tuple(f + "=" for f in _EXCLUDE_FLAGS)):
            out.append(a.split("=", 1)[0] + "=(excluded)")
        elif pat is not None and pat.search(_fold(a)):
            out.append("(excluded)")
        else:
            out.append(a)
    return out


# --- removal from a finished report -------------------------------------------------------

def _h(salt: str, text: str) -> str:
    return hashlib.sha256((salt + "\0" + text).encode()).hexdigest()[:24]


def _photo_key(path: str) -> str:
    try:
        return "photo:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "photo:" + str(path)


def _input_key(item: str, faces: Sequence[str]) -> str:
    return _photo_key(item) if item in faces else "name:" + _fold(item)


@dataclass
class Pending:
    """The ``optout_pending`` record: what an opt-out removes, naming nobody.

    Names are kept as salted hashes only: enough to drop an absent student's roster entry
    and to recognise, when the command is run again after a kill, an exclusion that the
    interrupted run had already carried out.
    """

    ids: list[str]
    tracks: list[str]
    students_before: int
    people: int
    salt: str
    roster: list[str]
    inputs: list[str]
    done: bool = False

    @classmethod
    def create(cls, sel: Selection, people: Sequence[Person], exclusions: Exclusions
               ) -> "Pending":
        salt = secrets.token_hex(8)
        return cls(ids=sorted(sel.ids),
                   tracks=sorted({t for p in people if p.student_id in sel.ids
                                  for t in p.tracks}),
                   students_before=len(people), people=sel.people, salt=salt,
                   roster=sorted({_h(salt, _fold(r)) for r in sel.roster}),
                   inputs=sorted({_h(salt, _input_key(m, exclusions.faces))
                                  for m in sel.matched}))

    def covers(self, item: str, faces: Sequence[str] = ()) -> bool:
        """Whether the exclusion ``item`` was carried out by this (interrupted) opt-out."""
        return _h(self.salt, _input_key(item, faces)) in self.inputs

    def roster_gone(self, name: str) -> bool:
        return _h(self.salt, _fold(name)) in self.roster


def _people_of(dest: Path) -> list[Person]:
    _, rows = read_table(dest / reportfiles.STUDENTS)
    return [Person(r["student_id"], r.get("name", ""), r.get("ocr_name", "") or "",
                   tuple((r.get("tracks") or "").split())) for r in rows]


def _roster_of(dest: Path, run: dict) -> list[str]:
    names = [r.get("name", "") for r in reportfiles.read_rows(dest / reportfiles.ROSTER)]
    names += [n for n in run.get("roster_absent", []) if isinstance(n, str)]
    return list(dict.fromkeys(n for n in names if n))


def recover(dest: str | Path) -> Pending | None:
    """Finish an opt-out that a kill interrupted (run.json holds its pending record).

    Every writer calls this first, holding the folder's lock.

    Returns:
        The finished record (so that repeating the same exclusion is not an error), or
        ``None`` when nothing was pending.
    """
    dest = Path(dest)
    try:
        run = run_info(dest)
    except InputError:
        return None
    raw = run.get(PENDING_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        pending = Pending(**raw)
    except TypeError:
        raise InputError(f"{dest / reportfiles.RUN}: its {PENDING_KEY} record is damaged; analyse "
                         "the recording again") from None
    if not pending.done:
        _finish(dest, pending)
    return pending


def forget(dest: str | Path) -> None:
    """Drop a finished opt-out's record (once the rebuilt ``report.html`` is written)."""
    run = run_info(dest)
    if PENDING_KEY in run:
        run.pop(PENDING_KEY)
        write_run(dest, run)


def remove_students(dest: str | Path, exclusions: Exclusions, strict: bool = True,
                    finished: Pending | None = None) -> Selection:
    """Remove the students ``exclusions`` mean from every file of a report (module docs).

    The derived outputs (HTML, GIFs, plots, windows) are removed, not rebuilt: rebuild them
    with :func:`lecturelens.report.build_reports`. Call it holding the folder's lock, after
    :func:`recover`.

    Args:
        dest: the report folder.
        exclusions: names/ids and photos.
        strict: an exclusion that means nobody is an error (nothing is removed then);
            otherwise it is left out.
        finished: the record :func:`recover` just finished: exclusions it carried out are
            not errors.

    Returns:
        What was removed.

    Raises:
        ExclusionError: (strict) an exclusion means nobody or is ambiguous.
        InputError: a photo without a face.
    """
    dest = Path(dest)
    run = run_info(dest)
    people = _people_of(dest)
    roster = _roster_of(dest, run)
    embeddings = photos = None
    distance = 0.6
    if exclusions.faces:
        exclusions.check_photos()
        identity, detector = _run_identity(run)
        photos = embed_photos(exclusions.faces, identity, detector)
        distance = identity.same_person_distance
        embeddings = reportfiles.read_embeddings(dest, len(people))
        if len(embeddings) != len(people):
            raise InputError(f"{dest / reportfiles.STUDENT_EMBEDDINGS}: {len(embeddings)} rows "
                             f"for {len(people)} students; analyse the recording again")
    sel = select(exclusions, people, roster, embeddings, photos, distance)
    if finished is not None:
        # Carried out by the opt-out that was interrupted and has just been finished.
        sel.unmatched = [u for u in sel.unmatched
                         if not finished.covers(u[0], exclusions.faces)]
    if strict:
        raise_unmatched(sel, str(dest), int(run.get("excluded_students", 0) or 0))
        _tell(sel)
    if not sel.ids and not sel.roster:
        return sel
    pending = Pending.create(sel, people, exclusions)
    run = scrub(run, sel.names)
    run["command"] = redact_argv(run.get("command", []), sel.names)
    run[PENDING_KEY] = pending.__dict__
    write_run(dest, run)
    _finish(dest, pending)
    return sel


def _finish(dest: Path, p: Pending) -> None:
    """Steps 2-4 of the module docs; each can run again after a kill."""
    step("optout pending")
    clear_derived(dest)
    step("optout derived cleared")
    reportfiles.remove_student_rows(dest, set(p.ids), set(p.tracks), p.students_before,
                                    p.roster_gone, step=lambda what: step(f"optout {what}"))
    run = run_info(dest)
    for key in ("roster_absent", "not_on_roster"):
        if isinstance(run.get(key), list):
            run[key] = [n for n in run[key] if not (isinstance(n, str) and p.roster_gone(n))]
    students = dest / reportfiles.STUDENTS
    if students.is_file():
        left = read_table(students)[1]
        run["students"] = len(left)
        run["students_named"] = sum(1 for r in left if not _unknown(r.get("name", "")))
    # The opt-out list itself names people: run.json keeps only how many.
    run["excluded_students"] = int(run.get("excluded_students", 0) or 0) + p.people
    run[PENDING_KEY] = {**p.__dict__, "done": True}
    write_run(dest, run)
    step("optout done")


def pending(dest: str | Path) -> bool:
    """Whether an interrupted opt-out waits in ``dest`` (its next writer finishes it)."""
    try:
        record = run_info(dest).get(PENDING_KEY)
    except InputError:
        return False
    return isinstance(record, dict) and not record.get("done")


__all__ = ["Exclusions", "ExclusionError", "Person", "Selection", "select", "raise_unmatched",
           "read_exclude_file", "embed_photos", "drop_students", "remove_students", "recover",
           "pending", "forget", "scrub", "redact_argv", "PENDING_KEY"]
