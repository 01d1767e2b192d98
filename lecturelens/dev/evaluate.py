"""Evaluate a report against the truth of a composed gallery (see
:mod:`lecturelens.dev.compose`).

Detection recall: for every sampled frame and every tile showing a camera, is there a
detected face whose centre lies in that tile's video area? (A camera-off tile shows only a
name, so there is no face to find there.) Track purity: within each stretch of time where a
tile shows one person, do all of that tile's faces belong to exactly one track, and does no
track span two tiles or two people?
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from pathlib import Path

from lecturelens import reportfiles
from lecturelens.dev.compose import segment_at, tile_at
from lecturelens.dev.skins import close_key
from lecturelens.errors import InputError


def faces_of(report_dir: str | Path) -> list[dict]:
    """The report's faces (its observations), each with ``t``, ``track_id``, ``student_id``
    and the centre of its box, ``cx`` and ``cy``."""
    obs = reportfiles.read_observations(report_dir)
    cx = (obs.box[:, 0] + obs.box[:, 2]) / 2
    cy = (obs.box[:, 1] + obs.box[:, 3]) / 2
    return [{"t": float(t), "track_id": int(tid), "student_id": sid, "cx": float(x),
             "cy": float(y)}
            for t, tid, sid, x, y in zip(obs.t, obs.track_id, obs.student_id, cx, cy)]


def _need_report(report_dir: Path) -> None:
    """Raise :class:`InputError` unless ``report_dir`` has students and observations."""
    for name in (reportfiles.STUDENTS, reportfiles.OBSERVATIONS):
        if not (report_dir / name).is_file():
            raise InputError(f"{report_dir}: no {name}; expected a report folder written by "
                             "`lecturelens analyze` (OUTDIR/<video name>/)")


def _read_students(report_dir: Path) -> dict[str, dict]:
    rows = reportfiles.read_table(report_dir / reportfiles.STUDENTS)[1]
    return {r["student_id"]: r for r in rows}


def _tile_of(truth_t_tiles: list[dict], cx: float, cy: float) -> dict | None:
    for tile in truth_t_tiles:
        if tile.get("video_rect") is None:  # camera off: no video area to land in
            continue
        x, y, w, h = tile["video_rect"]
        if x <= cx < x + w and y <= cy < y + h:
            return tile
    return None


def _near(sorted_times: list[float], t: float, tol: float) -> bool:
    i = bisect.bisect_left(sorted_times, t - tol)
    return i < len(sorted_times) and sorted_times[i] <= t + tol


def evaluate_detection(report_dir: str | Path, truth: dict) -> dict:
    """Detection recall, false positives and track/tile consistency of one report.

    Args:
        report_dir: ``OUTDIR/<video>/`` holding ``observations.csv``.
        truth: the composed gallery's truth dict.

    Returns:
        ``recall`` (found tile-frames / all tile-frames), ``frames``, ``missed`` (list of
        ``(t, tile)``), ``false_positives`` (faces outside every tile), and
        ``tracks_per_tile_segment``, ``tiles_per_track``, ``people_per_track`` (ideally all 1;
        a person who stays in the same tile across a reshuffle may keep one track).
    """
    by_t: dict[float, list[dict]] = defaultdict(list)
    for r in faces_of(report_dir):
        by_t[r["t"]].append(r)
    times = sorted(by_t)
    # A sampled frame with no face at all leaves no row; run.json knows how many were sampled.
    has_run = (Path(report_dir) / reportfiles.RUN).exists()
    run = reportfiles.run_info(report_dir) if has_run else {}
    sampled = run.get("frames_sampled", 0)
    empty_frames = max(0, sampled - len(times))
    sample_fps = (run.get("config") or {}).get("fps")
    found = total = false_pos = 0
    missed = []
    tracks_of: dict[tuple, set] = defaultdict(set)
    tiles_of: dict[int, set] = defaultdict(set)
    people_of: dict[int, set] = defaultdict(set)
    for t in times:
        tiles = [tile for tile in tile_at(truth, t) if tile.get("video_rect") is not None]
        hit = set()
        for r in by_t[t]:
            tile = _tile_of(tiles, r["cx"], r["cy"])
            if tile is None:
                false_pos += 1
                continue
            hit.add(tile["tile"])
            seg = next(i for i, s in enumerate(truth["segments"]) if s["start"] <= t < s["end"]
                       or i == len(truth["segments"]) - 1)
            tracks_of[(seg, tile["tile"])].add(r["track_id"])
            tiles_of[r["track_id"]].add(tile["tile"])
            people_of[r["track_id"]].add(tile["person"])
        total += len(tiles)
        found += len(hit)
        missed += [(t, tile["tile"]) for tile in tiles if tile["tile"] not in hit]
    if empty_frames:
        # Frames are sampled at 0, 1/fps, 2/fps, ...: the ones missing from the observations
        # are the empty ones, and each misses the camera-on tiles of its own segment.
        empty_times = []
        if sample_fps:
            step = 1.0 / float(sample_fps)
            empty_times = [k * step for k in range(sampled)
                           if not _near(times, k * step, step / 2)][:empty_frames]
        for t in empty_times:
            tiles = [tile for tile in tile_at(truth, t) if tile.get("video_rect") is not None]
            total += len(tiles)
            missed += [(t, tile["tile"]) for tile in tiles]
        rest = empty_frames - len(empty_times)
        if rest:  # times unknown: count them with the opening segment's tiles
            first = segment_at(truth, 0.0) or {"tiles": []}
            total += rest * sum(tile.get("video_rect") is not None for tile in first["tiles"])
    return {
        "frames": len(times) + empty_frames,
        "recall": found / total if total else 0.0,
        "missed": missed,
        "false_positives": false_pos,
        "tracks_per_tile_segment": {f"{k[0]}:{k[1]}": len(v) for k, v in sorted(tracks_of.items())},
        "tiles_per_track": {k: len(v) for k, v in sorted(tiles_of.items())},
        "people_per_track": {k: len(v) for k, v in sorted(people_of.items())},
    }


def adjusted_rand_index(labels_true: list, labels_pred: list) -> float:
    """Adjusted Rand index of two labelings of the same items (Hubert & Arabie 1985).

    1.0 for identical partitions (up to renaming), about 0 for random ones.
    """
    import numpy as np

    if len(labels_true) != len(labels_pred):
        raise ValueError("labelings differ in length")
    n = len(labels_true)
    if n < 2:
        return 1.0
    _, ti = np.unique(np.asarray(labels_true, dtype=object).astype(str), return_inverse=True)
    _, pi = np.unique(np.asarray(labels_pred, dtype=object).astype(str), return_inverse=True)
    table = np.zeros((ti.max() + 1, pi.max() + 1), np.int64)
    np.add.at(table, (ti, pi), 1)

    def pairs(x):
        return float((x * (x - 1) // 2).sum())

    index = pairs(table)
    a, b = pairs(table.sum(1)), pairs(table.sum(0))
    expected = a * b / (n * (n - 1) / 2)
    maximum = (a + b) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def evaluate_people(report_dir: str | Path, truth: dict) -> dict:
    """How well a report's students match the composed gallery's people.

    Args:
        report_dir: ``OUTDIR/<video>/`` with ``observations.csv`` and ``students.csv``.
        truth: the composed gallery's truth dict.

    Raises:
        InputError: ``report_dir`` lacks ``students.csv`` or ``observations.csv``.

    Returns:
        ``ari`` (adjusted Rand index of face -> student against face -> true person, over
        faces that lie in a camera-on tile), ``faces``, ``students_found`` vs
        ``students_true``, ``exact_names`` (share of true people whose student carries
        exactly their name; a person is represented by the student most of their faces got,
        or, never seen on camera, by a student of their name), and ``people``: per person,
        the student, its name and whether it is exact.
    """
    import unicodedata
    from collections import Counter

    report_dir = Path(report_dir)
    _need_report(report_dir)
    students = _read_students(report_dir)
    y_true, y_pred = [], []
    seen: dict[str, Counter] = defaultdict(Counter)
    for r in faces_of(report_dir):
        tile = _tile_of([t for t in tile_at(truth, r["t"]) if t.get("video_rect")],
                        r["cx"], r["cy"])
        if tile is None:
            continue
        y_true.append(tile["person"])
        y_pred.append(r.get("student_id") or f"track-{r['track_id']}")
        seen[tile["person"]][r.get("student_id", "")] += 1
    names = {p["person_id"]: p["name"] for p in truth["people"]}
    present = {t["person"] for s in truth["segments"] for t in s["tiles"]}

    def nfc(x):
        return unicodedata.normalize("NFC", x or "")

    people = {}
    for pid in sorted(present):
        true_name = nfc(names.get(pid, ""))
        if seen[pid]:
            sid = seen[pid].most_common(1)[0][0]
        else:
            sid = next((k for k, s in students.items() if nfc(s["name"]) == true_name), "")
        got = nfc(students.get(sid, {}).get("name", ""))
        people[pid] = {"name": true_name, "student_id": sid, "student_name": got,
                       "exact": got == true_name}
    exact = sum(p["exact"] for p in people.values())
    return {
        "ari": round(adjusted_rand_index(y_true, y_pred), 4) if y_true else 0.0,
        "faces": len(y_true),
        "students_found": len(students),
        "students_true": len(present),
        "exact_names": round(exact / len(present), 4) if present else 0.0,
        "people": people,
    }


# ---------------------------------------------------------------- names as printed and read

def _clean(text: str) -> str:
    """NFC with runs of white space as one space: what "exactly as printed" compares."""
    import unicodedata

    return " ".join(unicodedata.normalize("NFC", text or "").split())


def printed_labels(truth: dict) -> dict[str, dict[str, float]]:
    """Seconds each exact label text of each person was on screen.

    A person's printed label can differ between tiles (cut with ``...`` in a small strip
    tile, whole in a large one) and between camera on and off (Zoom prints the name large in
    the centre). A truth without ``label`` keys (the classic composer before skins, or a
    hand-made one) prints the ``name``.

    Returns:
        ``{person_id: {label: seconds}}`` for every person shown in any tile.
    """
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for seg in truth["segments"]:
        dt = float(seg["end"]) - float(seg["start"])
        for tile in seg["tiles"]:
            text = tile.get("label", tile.get("name", ""))
            out[tile["person"]][_clean(text)] += dt
    return {pid: dict(v) for pid, v in out.items()}


def students_of_people(report_dir: str | Path, truth: dict) -> dict[str, str]:
    """The student each true person's faces were given, by majority of their observations.

    Only faces inside a camera-on tile's video area count. People never seen on camera are
    left out (see :func:`evaluate_names` for how they are matched).

    Returns:
        ``{person_id: student_id}``; a face with no student id counts as ``""``.
    """
    from collections import Counter

    seen: dict[str, Counter] = defaultdict(Counter)
    for r in faces_of(report_dir):
        tile = _tile_of([t for t in tile_at(truth, r["t"]) if t.get("video_rect")],
                        r["cx"], r["cy"])
        if tile is not None:
            seen[tile["person"]][r.get("student_id") or ""] += 1
    return {pid: c.most_common(1)[0][0] for pid, c in seen.items() if c}


def evaluate_names(report_dir: str | Path, truth: dict) -> dict:
    """How well the name labels were read, per true person and overall.

    Each true person is represented by the student most of their faces were given (by
    observation majority); a person never seen on camera by a student whose read name is
    one of their printed labels (exactly, then loosely) or whose name is theirs. Then:

    * **label exact**: the student's ``ocr_name`` (the name as read, before any roster
      snapping; ``name`` in reports without that column) equals one of the person's printed
      label texts (NFC, white space collapsed), e.g. ``20200759 Lee Min`` read whole;
    * **label close**: equal by :func:`close_key` (case, spaces, accents, ``(...)``,
      digits and ``...`` ignored): ``Lee Min`` or ``lee min (host)`` for the label above;
    * **name exact**: the student's ``name`` is exactly the person's canonical name
      (``truth["people"][i]["name"]``): decorations removed and nothing else changed.

    Args:
        report_dir: ``OUTDIR/<video>/`` with ``observations.csv`` and ``students.csv``.
        truth: the composed gallery's truth dict.

    Raises:
        InputError: ``report_dir`` lacks ``students.csv`` or ``observations.csv``.

    Returns:
        ``label_exact``, ``label_close``, ``names_exact`` (shares of the true people, 0..1),
        ``students_found``, ``students_true``, and ``people``: per person id its ``name``,
        ``labels`` (printed texts, longest shown first), ``student_id``, ``ocr_name``,
        ``student_name``, ``seen`` (on camera) and the three booleans.
    """
    report_dir = Path(report_dir)
    _need_report(report_dir)
    students = _read_students(report_dir)
    seen = students_of_people(report_dir, truth)
    labels = printed_labels(truth)
    canon = {p["person_id"]: _clean(p["name"]) for p in truth["people"]}

    def read(s: dict) -> str:
        return _clean(s["ocr_name"] if "ocr_name" in s else s.get("name", ""))

    people = {}
    for pid in sorted(labels):
        texts = sorted(labels[pid], key=lambda k: -labels[pid][k])
        sid = seen.get(pid)
        if sid is None:  # never on camera: match by what was read
            keys = {close_key(t) for t in texts}
            sid = next((k for k, s in students.items() if read(s) in texts), None) or \
                next((k for k, s in students.items()
                      if _clean(s.get("name", "")) == canon.get(pid)), None) or \
                next((k for k, s in students.items() if close_key(read(s)) in keys), "")
        s = students.get(sid, {})
        got, name = read(s), _clean(s.get("name", ""))
        people[pid] = {
            "name": canon.get(pid, ""), "labels": texts, "student_id": sid,
            "ocr_name": got, "student_name": name, "seen": pid in seen,
            "label_exact": bool(s) and got in texts,
            "label_close": bool(s) and bool(got) and close_key(got) in {close_key(t)
                                                                        for t in texts},
            "name_exact": bool(s) and name == canon.get(pid),
        }
    n = len(people)

    def share(key: str) -> float:
        return round(sum(p[key] for p in people.values()) / n, 4) if n else 0.0

    return {"label_exact": share("label_exact"), "label_close": share("label_close"),
            "names_exact": share("name_exact"), "students_found": len(students),
            "students_true": n, "ui_students": ui_text_students(students.values(), truth),
            "people": people}


def ui_text_students(students, truth: dict, min_ratio: float = 0.75) -> list[str]:
    """Names of students that are really screen text: UI chrome or slide lines.

    A student whose read name is loosely (:func:`close_key`, then a similarity ratio of at
    least ``min_ratio``, for OCR slips such as ``Soeaker Vew``) one of the truth's
    ``non_names`` was made from text that is never a participant's name.
    """
    import difflib

    keys = [close_key(t) for t in truth.get("non_names", [])]
    keys = [k for k in keys if len(k) >= 3]
    out = []
    for s in students:
        got = close_key(s.get("ocr_name") or s.get("name", ""))
        if len(got) >= 3 and any(
                difflib.SequenceMatcher(None, got, k).ratio() >= min_ratio for k in keys):
            out.append(s.get("name", ""))
    return out
