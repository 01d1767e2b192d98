"""Stage 7, windows: per-student and group summaries over 5-10 s windows.

For every student and window this computes the seed papers' STAT descriptor (mean, std,
min, max of the per-frame emotion features), the mean emotion probabilities, the dominant
emotion, its strength, the valence, the engagement signals (shares of the window's time,
:mod:`lecturelens.rubric`) and the engagement level the rubric gives them. For every window
the group's affect comes from the visible students' valence. A student whose face vanished
inside its tile for most of the window (turned away beyond what the detector finds) is
``looked_away`` and gets its level from the rubric too; windows where a student's face was
usable in too few sampled frames are ``insufficient``; camera-off and absent (not there, or
gone from the meeting) are their own states, never "disengaged".

Everything is computed from the files ``analyze`` writes (``observations.csv``,
``emotion_features.npy``, ``students.csv``, ``run.json``, read by
:mod:`lecturelens.reportfiles`), so reports can be rebuilt without touching the video again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lecturelens import rubric
# The files the windows are computed from, as read from the report folder.
from lecturelens.reportfiles import Observations, StudentInfo

#: Valence of each emotion class (-1 unpleasant .. +1 pleasant), after Russell's circumplex
#: and the AffectNet valence means. Surprise is ambiguous, so it sits just above neutral.
VALENCE = {"happy": 1.0, "happiness": 1.0, "surprise": 0.2, "neutral": 0.0,
           "sad": -0.8, "sadness": -0.8, "angry": -0.8, "anger": -0.8, "fear": -0.7,
           "disgust": -0.8, "contempt": -0.6}
#: The seed paper's four engagement levels, named as DAiSEE names them; what each means is
#: :data:`lecturelens.rubric.RUBRIC`.
LEVELS = (0.0, 0.33, 0.66, 1.0)
LEVEL_NAMES = ("very low", "low", "high", "very high")
#: Group affect: mean valence beyond +-GROUP_MARGIN tips the group to positive/negative.
GROUP_MARGIN, GROUP_SOFTNESS = 0.15, 0.05

#: Window states; ``ok`` and ``looked_away`` have a level, the others none.
STATES = ("ok", "looked_away", "insufficient", "camera_off", "absent")


@dataclass
class WindowSettings:
    """How windows are cut and judged."""

    window: float = 8.0  # seconds
    overlap: float = 0.0  # share of a window shared with the next one
    min_share: float = 0.3  # usable faces needed, as a share of the window's sampled frames


def window_bounds(duration: float, window: float, overlap: float = 0.0
                  ) -> list[tuple[float, float]]:
    """Start and end of every window covering ``[0, duration)``; the last may be shorter."""
    step = window * (1.0 - overlap)
    if duration <= 0 or step <= 0:
        return []
    out, start = [], 0.0
    while start < duration - 1e-9:
        out.append((round(start, 3), round(min(start + window, duration), 3)))
        if start + window >= duration:
            break
        start += step
    return out


def valence_of(probs: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Valence of each probability row (``sum p_c * valence_c``)."""
    v = np.array([VALENCE.get(c, 0.0) for c in classes], np.float64)
    return np.asarray(probs, np.float64) @ v


def engagement_level(score: float) -> int:
    """Index (0-3) of the nearest of the paper's four levels."""
    return int(np.argmin([abs(score - lv) for lv in LEVELS]))


def _overlap(a: float, b: float, intervals) -> float:
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in intervals)


def _motion(t: np.ndarray, box: np.ndarray) -> float:
    """Mean face-centre speed in face widths per second (NaN with fewer than two faces)."""
    if len(t) < 2:
        return float("nan")
    order = np.argsort(t)
    t, box = t[order], box[order]
    centre = (box[:, :2] + box[:, 2:]) / 2
    width = np.maximum(box[:, 2] - box[:, 0], 1.0)
    dt = np.diff(t)
    ok = dt > 0
    if not ok.any():
        return float("nan")
    step = np.linalg.norm(np.diff(centre, axis=0), axis=1) / width[1:]
    return float(np.mean(step[ok] / dt[ok]))


def group_scores(mean_valence: float) -> dict[str, float]:
    """Soft positive/neutral/negative scores (sum 1) from the group's mean valence."""
    logits = np.array([(mean_valence - GROUP_MARGIN) / GROUP_SOFTNESS, 0.0,
                       (-mean_valence - GROUP_MARGIN) / GROUP_SOFTNESS])
    e = np.exp(logits - logits.max())
    e /= e.sum()
    return {"positive": float(e[0]), "neutral": float(e[1]), "negative": float(e[2])}


@dataclass
class WindowResult:
    """Per student-window rows (+ STAT descriptors) and per-window group rows."""

    rows: list[dict]
    descriptors: np.ndarray  # len(rows) x 4D float16 (NaN for windows that are not ok)
    group_rows: list[dict]
    group_descriptors: np.ndarray  # len(group_rows) x 2D
    classes: tuple[str, ...]


def compute_windows(obs: Observations, students: Sequence[StudentInfo], duration: float,
                    fps: float, settings: WindowSettings | None = None,
                    engagement_model=None, group_model=None) -> WindowResult:
    """Cut the lecture into windows and summarise every student and the group in each.

    Engagement follows the rubric of :mod:`lecturelens.rubric`: every usable face is
    classed (attending, eyes closed, head down, looked away) against the student's own
    baselines, sample times where the face vanished inside its tile count as looked away,
    and the window's shares of time give its level. With ``engagement_model`` the level is
    the model's instead (on ``ok`` windows, which have a descriptor).

    Args:
        obs: the observations of the lecture.
        students: the students (camera-off intervals included).
        duration: lecture length in seconds.
        fps: frames sampled per second (how many faces a window can have).
        settings: window length, overlap and the usable-share threshold.
        engagement_model: a fitted :class:`~lecturelens.engagement.EngagementModel` used
            instead of the rubric on ``ok`` windows.
        group_model: a fitted :class:`~lecturelens.engagement.GroupAffectModel` used instead
            of the default valence rule.

    Returns:
        The rows of ``windows.csv`` and ``group.csv`` and their descriptors.
    """
    settings = settings or WindowSettings()
    bounds = window_bounds(duration, settings.window, settings.overlap)
    classes = obs.classes
    c = len(classes)
    dim = obs.features.shape[1] if obs.features is not None else 0
    neutral = classes.index("neutral") if "neutral" in classes else None
    by_student = {s.student_id: np.flatnonzero(obs.student_id == s.student_id)
                  for s in students}
    rows = []
    # Filled in place, in the float16 that window_features.npy is written in: a list of
    # float32 rows stacked at the end held 4 bytes x 2 copies x 4 x 512 per student-window
    # (550 MB for a 3-hour lecture of 25 students).
    descriptors = np.full((len(students) * len(bounds), 4 * dim), np.nan, np.float16)
    for s in students:
        idx_s = by_student[s.student_id]
        idx_s = idx_s[np.argsort(obs.t[idx_s], kind="stable")]
        t_s = obs.t[idx_s]
        use_s = idx_s[obs.usable[idx_s]]
        t_use = obs.t[use_s]
        base = rubric.student_baseline(obs.yaw[use_s], obs.pitch[use_s], obs.ear[use_s])
        cls_s, q_s = rubric.classify(obs.yaw[use_s], obs.pitch[use_s], obs.ear[use_s], base)
        closed_next = None
        if obs.ear_next is not None:
            closed_next = obs.ear_next[use_s] < base.closed_ear  # NaN: not looked again
        closure_s, secs_s = rubric.sustained(t_use, cls_s == rubric.CLOSED, fps, closed_next)
        eyes_known = bool(np.isfinite(obs.ear[use_s]).any())
        vanished = rubric.vanished_times(t_s, s.hidden, fps, s.camera_off)
        for w0, w1 in bounds:
            a, b = np.searchsorted(t_s, [w0, w1])
            idx = idx_s[a:b]
            ua, ub = np.searchsorted(t_use, [w0, w1])
            use = use_s[ua:ub]
            va, vb = np.searchsorted(vanished, [w0, w1])
            n_van = int(vb - va)
            expected = max(1, int(round((w1 - w0) * fps)))
            need = max(1, math.ceil(settings.min_share * expected))
            off = _overlap(w0, w1, s.camera_off)
            row = {"student_id": s.student_id, "name": s.name, "start": w0, "end": w1,
                   "faces": len(idx), "usable_faces": len(use), "expected_faces": expected,
                   "camera_off_seconds": round(off, 1)}
            if len(use) >= need and len(use) >= n_van:
                row["state"] = "ok"
            elif off >= 0.5 * (w1 - w0):
                row["state"] = "camera_off"
            elif len(use) + n_van >= need and n_van > len(use):
                # Still in their tile, face turned beyond what the detector finds.
                row["state"] = "looked_away"
            elif len(idx) == 0:
                row["state"] = "absent"
            else:
                row["state"] = "insufficient"
            sig = rubric.window_signals(cls_s[ua:ub], q_s[ua:ub], closure_s[ua:ub],
                                        secs_s[ua:ub], len(idx), n_van, eyes_known)
            row["_quality"] = sig.pop("quality", float("nan"))
            if row["state"] == "ok":
                yaw, pitch, ear = obs.yaw[use], obs.pitch[use], obs.ear[use]
                if np.isfinite(yaw).any():
                    row["yaw"] = float(np.nanmedian(yaw))
                    row["pitch"] = float(np.nanmedian(pitch))
                if np.isfinite(ear).any():
                    row["ear"] = float(np.nanmedian(ear))
                motion = _motion(obs.t[use], obs.box[use])
                row["motion"] = motion
                if motion == motion:
                    # Still or gently moving heads are steady; leaving the tile is not.
                    sig["steadiness"] = float(np.clip(1 - (motion - 0.15) / 0.5, 0, 1))
                if c:
                    p = obs.probs[use].astype(np.float64)
                    mp = p.mean(0)
                    row["probs"] = mp
                    dom = int(np.argmax(mp))
                    row["emotion"] = classes[dom]
                    row["p_dominant"] = float(mp[dom])
                    row["valence"] = float(valence_of(mp, classes))
                    row["peak_t"] = float(obs.t[use][int(np.argmax(p[:, dom]))])
                if dim:
                    f = np.asarray(obs.features[use], np.float32)
                    desc = np.concatenate([f.mean(0), f.std(0), f.min(0), f.max(0)])
                    row["_expr"] = float(f.std(0).mean())
                    descriptors[len(rows)] = desc
                    if engagement_model is not None:
                        # From the float32 descriptor, as before it was stored.
                        row["_model_engagement"] = float(engagement_model.predict(desc[None])[0])
            row["signals"] = sig
            rows.append(row)
    # Expressivity is relative to the lecture: the median student-window is 1.0.
    expr = [r["_expr"] for r in rows if "_expr" in r]
    typical = float(np.median(expr)) if expr else float("nan")
    _strength(rows, classes, neutral)
    for row in rows:
        sig = row["signals"]
        if "_expr" in row and typical > 0:
            row["expressivity"] = row.pop("_expr") / typical
            sig["expressivity"] = float(np.clip(row["expressivity"] / 2, 0, 1))
        row.pop("_expr", None)
        model_engagement = row.pop("_model_engagement", None)
        quality = row.pop("_quality")
        if row["state"] not in ("ok", "looked_away"):
            row["engagement"] = float("nan")
            continue
        if model_engagement is not None:
            row["engagement"] = model_engagement
            row["level"] = engagement_level(model_engagement)
        else:
            row["level"] = rubric.rubric_level(sig)
            row["engagement"] = rubric.rubric_score(row["level"], quality)
    group_rows, group_descs = _group(rows, bounds, obs, students, group_model, dim)
    return WindowResult(rows, descriptors, group_rows, group_descs, classes)


def _strength(rows: list[dict], classes: Sequence[str], neutral: int | None) -> None:
    """How far the dominant emotion stands above neutral and above the student's own usual
    level of it (a student who always looks a little sad is not "strongly sad")."""
    usual: dict[tuple[str, int], float] = {}
    per: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if "probs" in r:
            for k, p in enumerate(r["probs"]):
                per.setdefault((r["student_id"], k), []).append(float(p))
    for key, vals in per.items():
        usual[key] = float(np.median(vals))
    for r in rows:
        if "probs" not in r:
            continue
        dom = classes.index(r["emotion"])
        if dom == neutral:
            r["strength"] = 0.0
            continue
        ref = usual[(r["student_id"], dom)]
        if neutral is not None:
            ref = max(ref, float(r["probs"][neutral]))
        r["strength"] = max(0.0, float(r["probs"][dom]) - ref)


def _group(rows, bounds, obs, students, group_model, dim):
    group_rows, descs = [], []
    ok_by_window: dict[float, list[dict]] = {}
    states: dict[float, dict[str, int]] = {}
    rows_by_window: dict[float, list[dict]] = {}
    for r in rows:
        states.setdefault(r["start"], {s: 0 for s in STATES})[r["state"]] += 1
        rows_by_window.setdefault(r["start"], []).append(r)
        if r["state"] == "ok":
            ok_by_window.setdefault(r["start"], []).append(r)
    # Faces of the lecture's students (not of tracks left without one), found once.
    known = np.isin(obs.student_id, [s.student_id for s in students]) & obs.usable
    for w0, w1 in bounds:
        ok = ok_by_window.get(w0, [])
        st = states.get(w0, {s: 0 for s in STATES})
        g = {"start": w0, "end": w1, "students_visible": len(ok),
             "students_camera_off": st["camera_off"], "students_absent": st["absent"],
             "students_insufficient": st["insufficient"],
             "students_looked_away": st["looked_away"]}
        desc = np.full(2 * dim, np.nan, np.float32)
        val = [r["valence"] for r in ok if "valence" in r]
        if dim:
            sel = np.flatnonzero((obs.t >= w0) & (obs.t < w1) & known)
            if len(sel):
                f = np.asarray(obs.features[sel], np.float32)
                desc = np.concatenate([f.mean(0), f.std(0)])
        if val:
            g["mean_valence"] = float(np.mean(val))
            g["valence_spread"] = float(np.std(val))
            if group_model is not None and np.isfinite(desc).all():
                g["scores"] = group_model.scores(desc[None])[0]
            else:
                g["scores"] = group_scores(g["mean_valence"])
            g["group_affect"] = max(g["scores"], key=g["scores"].get)
        else:
            g["group_affect"] = "insufficient"
        # Looked-away windows count: a student turned away is part of how the class was.
        eng = [r["engagement"] for r in rows_by_window.get(w0, [])
               if r.get("engagement") == r.get("engagement")]
        g["mean_engagement"] = float(np.mean(eng)) if eng else float("nan")
        group_rows.append(g)
        descs.append(desc)
    return group_rows, (np.stack(descs) if descs else np.zeros((0, 2 * dim), np.float32))
