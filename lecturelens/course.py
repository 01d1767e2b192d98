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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lecturelens import reportfiles
from lecturelens.atomic import atomic_csv, atomic_open, write_json
from lecturelens.errors import InputError
from lecturelens.optout import pending
from lecturelens.people import DIFFERENT_NAME, SAME_NAME, NameVotes, name_similarity
from lecturelens.report import CAUTION, HTML_STYLE, _plt, _save_fig
from lecturelens.reportfiles import read_rows


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
    csv_path, emb_path = d / reportfiles.STUDENTS, d / reportfiles.STUDENT_EMBEDDINGS
    if not d.is_dir():
        raise InputError(f"{d}: not a report folder; give OUTDIR/<video>/ folders written "
                         "by `lecturelens analyze`")
    if not csv_path.is_file():
        raise InputError(f"{d}: no students.csv; run `lecturelens analyze` on the recording "
                         "first (or it failed: see its run.json)")
    if pending(d):
        # Its files may still hold a student who opted out: finish the opt-out first.
        raise InputError(f"{d}: an opt-out was interrupted here; run `lecturelens report {d}` "
                         "to finish it first")
    rows = reportfiles.read_table(csv_path)[1]
    emb = np.load(emb_path) if emb_path.is_file() else np.full((len(rows), 0), np.nan)
    if len(emb) != len(rows):
        raise InputError(f"{emb_path}: {len(emb)} rows for {len(rows)} students; the report is "
                         "inconsistent: analyse the recording again")
    model = ""
    if (d / reportfiles.RUN).is_file():
        for m in reportfiles.run_info(d).get("models", []):
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


def shown_names(course: Sequence[CourseStudent]) -> list[str]:
    """Each course student's name as shown; the nameless ones numbered ``Unknown 1``, ..."""
    out, unknown = [], 0
    for c in course:
        name = c.name
        if not name:
            unknown += 1
            name = f"Unknown {unknown}"
        out.append(name)
    return out


def write_course_roster(out_dir: str | Path, lectures: Sequence[Lecture],
                        course: Sequence[CourseStudent]) -> Path:
    """``course_roster.csv`` (one row per course student, one column per lecture) and
    ``course_roster.json``; returns the CSV path."""
    out_dir = Path(out_dir)
    names = [lec.name for lec in lectures]
    rows = []
    for c, name in zip(course, shown_names(course)):
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


# --- course view: per-student trends over the term ----------------------------------------

TREND_COLUMNS = ["course_id", "name", "lecture_index", "lecture", "student_id", "attended",
                 "seconds_visible", "camera_off_share", "windows_ok", "mean_engagement",
                 "engagement_level", "dominant_emotion", "mean_valence"]


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def course_trends(lectures: Sequence[Lecture], course: Sequence[CourseStudent]) -> list[dict]:
    """One row per course student per lecture (``attended`` no where the student was not
    seen), from each lecture's students.csv and windows.csv."""
    per_lecture = []
    for lec in lectures:
        students = {r["student_id"]: r for r in read_rows(lec.path / reportfiles.STUDENTS)}
        valence: dict[str, list[float]] = {}
        for w in read_rows(lec.path / reportfiles.WINDOWS):
            if w.get("state") == "ok":
                valence.setdefault(w["student_id"], []).append(_num(w.get("valence")))
        per_lecture.append((students, valence))
    rows = []
    for c, name in zip(course, shown_names(course)):
        for i, (lec, (students, valence)) in enumerate(zip(lectures, per_lecture), 1):
            sid = c.ids.get(lec.name, "")
            s = students.get(sid, {})
            v = [x for x in valence.get(sid, []) if x == x]
            rows.append({
                "course_id": c.course_id, "name": name, "lecture_index": i,
                "lecture": lec.name, "student_id": sid, "attended": "yes" if s else "no",
                "seconds_visible": s.get("seconds_visible", ""),
                "camera_off_share": s.get("camera_off_share", ""),
                "windows_ok": s.get("windows_ok", ""),
                "mean_engagement": s.get("mean_engagement", ""),
                "engagement_level": s.get("engagement_level", ""),
                "dominant_emotion": s.get("dominant_emotion", ""),
                "mean_valence": f"{sum(v) / len(v):.3f}" if v else "",
            })
    return rows


def _plot_series(ax, n: int, rows: list[dict]) -> None:
    x = list(range(1, n + 1))
    eng = [_num(r["mean_engagement"]) for r in rows]
    val = [_num(r["mean_valence"]) for r in rows]
    ax.plot(x, eng, "o-", color="#2b6cb0", label="mean engagement (0-1)")
    ax.plot(x, val, "s--", color="#c05621", label="mean valence (-1..1)")
    ax.axhline(0, color="#bbb", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xticks(x)
    ax.set_xlabel("lecture")


def plot_course_student(rows: list[dict], path: Path, title: str) -> None:
    """One student's engagement, valence and minutes on camera per lecture."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    n = len(rows)
    minutes = [_num(r["seconds_visible"]) / 60 if r["attended"] == "yes" else 0 for r in rows]
    ax2 = ax.twinx()
    ax2.bar(range(1, n + 1), minutes, color="#dddddd", width=0.6, label="minutes on camera")
    ax2.set_ylabel("minutes on camera", color="#888")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    _plot_series(ax, n, rows)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    fig.tight_layout()
    _save_fig(fig, path)


def plot_course(rows: list[dict], n_lectures: int, path: Path) -> None:
    """The class per lecture: students present, mean engagement and mean valence."""
    per: list[list[dict]] = [[] for _ in range(n_lectures)]
    for r in rows:
        if r["attended"] == "yes":
            per[r["lecture_index"] - 1].append(r)

    def mean(vals):
        vals = [v for v in vals if v == v]
        return sum(vals) / len(vals) if vals else float("nan")

    summary = [{"mean_engagement": mean([_num(r["mean_engagement"]) for r in p]),
                "mean_valence": mean([_num(r["mean_valence"]) for r in p])} for p in per]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax2 = ax.twinx()
    ax2.bar(range(1, n_lectures + 1), [len(p) for p in per], color="#dddddd", width=0.6)
    ax2.set_ylabel("students seen", color="#888")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    _plot_series(ax, n_lectures, summary)
    ax.set_title("The class over the term (means over the students seen)", fontsize=10)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    fig.tight_layout()
    _save_fig(fig, path)


def write_course_view(out_dir: str | Path, lectures: Sequence[Lecture],
                      course: Sequence[CourseStudent], failed: Sequence[tuple[str, str]] = (),
                      lecture_info: dict[str, dict] | None = None) -> dict:
    """Write the course view into ``out_dir``: ``course_roster.csv/.json``, ``trends.csv``,
    ``trends.png``, ``students/<course id>.png`` and ``index.html`` (links to every
    lecture's report.html).

    Args:
        out_dir: the course folder.
        lectures: in course order.
        course: from :func:`match_lectures`.
        failed: (recording, reason) of recordings that have no report, listed in the index.
        lecture_info: per lecture name, extra facts for the index (e.g. ``video_seconds``).

    Returns:
        Counts of what was written.
    """
    import html
    import os

    out_dir = Path(out_dir)
    write_course_roster(out_dir, lectures, course)
    rows = course_trends(lectures, course)
    with atomic_csv(out_dir / "trends.csv", TREND_COLUMNS) as w:
        w.writerows([r[c] for c in TREND_COLUMNS] for r in rows)
    n = len(lectures)
    if n:
        plot_course(rows, n, out_dir / "trends.png")
    by_student: dict[str, list[dict]] = {}
    for r in rows:
        by_student.setdefault(r["course_id"], []).append(r)
    for cid, rs in by_student.items():
        plot_course_student(rs, out_dir / "students" / f"{cid}.png", f"{rs[0]['name']} ({cid})")
    e = html.escape
    info = lecture_info or {}
    parts = [f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>LectureLens: course</title>{HTML_STYLE}</head><body>
<h1>Course overview</h1>
<p>{n} lectures, {len(course)} students. Students are linked across lectures by name label
and face; lectures are in file-name order.</p>
<p class="caution"><b>Please read:</b> {e(CAUTION)}</p>"""]
    if n:
        parts.append('<img alt="class over the term" style="max-width:100%" src="trends.png">')
    parts.append("<h2>Lectures</h2><table><tr><th>#</th><th>lecture</th><th>video</th>"
                 "<th>students</th><th>report</th></tr>")
    for i, lec in enumerate(lectures, 1):
        href = os.path.relpath(lec.path / reportfiles.REPORT_HTML, out_dir)
        secs = info.get(lec.name, {}).get("video_seconds")
        dur = f"{float(secs) / 60:.1f} min" if secs else ""
        parts.append(f"<tr><td>{i}</td><td>{e(lec.name)}</td><td>{dur}</td>"
                     f"<td>{len(lec.students)}</td><td><a href=\"{e(href)}\">report</a></td>"
                     "</tr>")
    parts.append("</table>")
    if failed:
        parts.append("<h2>Recordings without a report</h2><ul>")
        parts += [f"<li>{e(k)}: {e(reason)}</li>" for k, reason in failed]
        parts.append("</ul>")
    parts.append("<h2>Students</h2><table><tr><th>id</th><th>name</th><th>lectures seen</th>"
                 "<th>mean engagement</th><th>mean valence</th><th>trend</th></tr>")
    for cid, rs in by_student.items():
        seen = [r for r in rs if r["attended"] == "yes"]
        eng = [x for x in (_num(r["mean_engagement"]) for r in seen) if x == x]
        val = [x for x in (_num(r["mean_valence"]) for r in seen) if x == x]
        eng_txt = f"{sum(eng) / len(eng):.2f}" if eng else ""
        val_txt = f"{sum(val) / len(val):+.2f}" if val else ""
        parts.append(f"<tr><td>{e(cid)}</td><td>{e(rs[0]['name'])}</td><td>{len(seen)}/{n}</td>"
                     f"<td>{eng_txt}</td><td>{val_txt}</td>"
                     f'<td><a href="students/{e(cid)}.png">chart</a></td></tr>')
    parts.append("</table><p class=\"muted\">trends.csv has every figure per student and "
                 "lecture; course_roster.csv the student ids per lecture.</p></body></html>")
    with atomic_open(out_dir / "index.html") as fh:
        fh.write("\n".join(parts))
    return {"lectures": n, "students": len(course), "path": str(out_dir / "index.html")}
