"""Across lectures: link the same student in several recordings into one course roster.

Each report folder holds ``students.csv`` and ``student_embeddings.npy`` (row i = student
i). Lectures are taken in the order given; every student of a lecture is matched to the
course students found so far by the same evidence as within a recording
(:mod:`lecturelens.people`): equal names link, confidently different names never do, and
where a name is missing the identity embeddings decide. One lecture's students are
different people, so each course student takes at most one student per lecture (best
pairs first). The unmatched become new course students.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lecturelens.atomic import atomic_csv, write_json
from lecturelens.errors import InputError
from lecturelens.people import DIFFERENT_NAME, SAME_NAME, NameVotes, name_similarity


@dataclass
class LectureStudent:
    """One student row of one lecture's report."""

    student_id: str
    name: str
    named: bool
    name_confidence: float
    seconds_visible: float
    embedding: np.ndarray | None


@dataclass
class Lecture:
    """The students of one report folder."""

    name: str
    path: Path
    identity_model: str
    students: list[LectureStudent]


def load_lecture(report_dir: str | Path) -> Lecture:
    """Read a report folder written by ``lecturelens analyze``.

    Raises:
        InputError: the folder is not a complete report (with what is missing).
    """
    d = Path(report_dir)
    csv_path, emb_path = d / "students.csv", d / "student_embeddings.npy"
    if not d.is_dir():
        raise InputError(f"{d}: not a report folder; give OUTDIR/<video>/ folders written "
                         "by `lecturelens analyze`")
    if not csv_path.is_file():
        raise InputError(f"{d}: no students.csv; run `lecturelens analyze` on the recording "
                         "first (or it failed: see its run.json)")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    emb = np.load(emb_path) if emb_path.is_file() else np.full((len(rows), 0), np.nan)
    if len(emb) != len(rows):
        raise InputError(f"{emb_path}: {len(emb)} rows for {len(rows)} students; the report is "
                         "inconsistent: analyse the recording again")
    model = ""
    run = d / "run.json"
    if run.is_file():
        for m in json.loads(run.read_text(encoding="utf-8")).get("models", []):
            if m.get("task") == "face-identity":
                model = m.get("name", "")
    students = []
    for r, e in zip(rows, emb):
        ocr = r.get("ocr_name", r["name"])
        students.append(LectureStudent(
            student_id=r["student_id"], name=r["name"],
            named=bool(ocr) or r.get("on_roster") == "yes",
            name_confidence=float(r.get("name_confidence") or 0),
            seconds_visible=float(r.get("seconds_visible") or 0),
            embedding=None if e.size == 0 or not np.isfinite(e).all() else e.astype(np.float32)))
    return Lecture(d.name, d, model, students)


@dataclass
class CourseStudent:
    """One student across the course."""

    course_id: str
    votes: NameVotes = field(default_factory=NameVotes)
    embeddings: list[np.ndarray] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # lecture name -> student id

    @property
    def name(self) -> str:
        return self.votes.best()[0]

    @property
    def embedding(self) -> np.ndarray | None:
        return np.mean(self.embeddings, axis=0) if self.embeddings else None


def _score(s: LectureStudent, c: CourseStudent, face_threshold: float) -> float | None:
    cname = c.name
    if s.named and cname:
        sim = name_similarity(s.name, cname)
        if sim >= SAME_NAME:
            return 2.0 + sim / 100
        if sim < DIFFERENT_NAME:
            return None
    ce = c.embedding
    if s.embedding is None or ce is None:
        return None
    d = float(np.linalg.norm(s.embedding - ce))
    return 1.0 - d if d < face_threshold else None


def match_lectures(lectures: Sequence[Lecture], same_person_distance: float = 0.6
                   ) -> list[CourseStudent]:
    """Course students linking the students of ``lectures``.

    Args:
        lectures: reports in course order.
        same_person_distance: identity-embedding distance under which two unnamed faces are
            one person (dlib: 0.6).

    Raises:
        InputError: the lectures used different identity models (embeddings incomparable).
    """
    models = {lec.identity_model for lec in lectures if lec.identity_model}
    if len(models) > 1:
        raise InputError(f"the reports used different identity models ({', '.join(sorted(models))})"
                         "; analyse them again with one --identity-model")
    course: list[CourseStudent] = []
    for lec in lectures:
        pairs = sorted(((sc, si, ci) for si, s in enumerate(lec.students)
                        for ci, c in enumerate(course)
                        if (sc := _score(s, c, same_person_distance)) is not None),
                       reverse=True)
        taken_s: dict[int, int] = {}
        taken_c: set[int] = set()
        for _, si, ci in pairs:
            if si in taken_s or ci in taken_c:
                continue
            taken_s[si] = ci
            taken_c.add(ci)
        for si, s in enumerate(lec.students):
            if si in taken_s:
                c = course[taken_s[si]]
            else:
                c = CourseStudent(course_id="")
                course.append(c)
            if s.named:
                c.votes.add(s.name, max(s.name_confidence, 0.01))
            if s.embedding is not None:
                c.embeddings.append(s.embedding)
            c.ids[lec.name] = s.student_id
    for i, c in enumerate(course, 1):
        c.course_id = f"C{i:03d}"
    return course


def write_course_roster(out_dir: str | Path, lectures: Sequence[Lecture],
                        course: Sequence[CourseStudent]) -> Path:
    """``course_roster.csv`` (one row per course student, one column per lecture) and
    ``course_roster.json``; returns the CSV path."""
    out_dir = Path(out_dir)
    names = [lec.name for lec in lectures]
    unknown = 0
    rows = []
    for c in course:
        name = c.name
        if not name:
            unknown += 1
            name = f"Unknown {unknown}"
        rows.append([c.course_id, name, len(c.ids)] + [c.ids.get(n, "") for n in names])
    path = out_dir / "course_roster.csv"
    with atomic_csv(path, ["course_id", "name", "lectures"] + names) as w:
        w.writerows(rows)
    write_json(out_dir / "course_roster.json", {
        "lectures": [{"name": lec.name, "path": str(lec.path.resolve())} for lec in lectures],
        "students": [{"course_id": r[0], "name": r[1], "ids": c.ids}
                     for r, c in zip(rows, course)],
    })
    return path
