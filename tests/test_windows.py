"""Windows: STAT descriptors, states, strength, engagement and group affect."""

from __future__ import annotations

import numpy as np
import pytest

from lecturelens.reportfiles import format_intervals, parse_intervals
from lecturelens.windows import (LEVELS, Observations, StudentInfo, WindowSettings,
                                 compute_windows, engagement_level, group_scores, valence_of,
                                 window_bounds)

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _probs(dominant: str, p: float = 0.7) -> np.ndarray:
    out = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1))
    out[CLASSES.index(dominant)] = p
    return out


def _obs(faces: list[dict], dim: int = 8, seed: int = 0) -> Observations:
    """Observations from dicts with t, sid, and optional yaw, pitch, ear, emo, x, quality."""
    rng = np.random.default_rng(seed)
    n = len(faces)
    box = np.array([[f.get("x", 0) + 30, 30, f.get("x", 0) + 90, 100] for f in faces], float)
    return Observations(
        t=np.array([f["t"] for f in faces], float), frame=np.arange(n),
        track_id=np.array([f.get("track", hash(f["sid"]) % 100) for f in faces]),
        student_id=np.array([f["sid"] for f in faces], dtype=object), box=box,
        usable=np.array([f.get("quality", "ok") == "ok" for f in faces]),
        yaw=np.array([f.get("yaw", 0.0) for f in faces], float),
        pitch=np.array([f.get("pitch", 5.0) for f in faces], float),
        ear=np.array([f.get("ear", 0.3) for f in faces], float),
        probs=np.stack([_probs(f.get("emo", "neutral")) for f in faces]).astype(np.float32),
        classes=CLASSES,
        features=rng.normal(size=(n, dim)).astype(np.float32) * np.array(
            [f.get("spread", 1.0) for f in faces])[:, None])


def _rows(res, sid):
    return [r for r in res.rows if r["student_id"] == sid]


def test_window_bounds_cover_the_lecture_with_and_without_overlap():
    assert window_bounds(30, 8) == [(0, 8), (8, 16), (16, 24), (24, 30)]
    assert window_bounds(16, 8, overlap=0.5) == [(0, 8), (4, 12), (8, 16)]
    assert window_bounds(0, 8) == []


def test_intervals_round_trip():
    iv = [(12.0, 30.0), (45.5, 60.0)]
    assert parse_intervals(format_intervals(iv)) == iv
    assert parse_intervals("") == []


def test_states_ok_insufficient_camera_off_absent():
    faces = [{"t": float(t), "sid": "S01"} for t in range(16)]
    faces += [{"t": 0.0, "sid": "S02"}]  # one face in 8 sampled frames
    faces += [{"t": float(t), "sid": "S03"} for t in range(8)]  # camera off afterwards
    students = [StudentInfo("S01", "Ana", 0, 15), StudentInfo("S02", "Ben", 0, 0),
                StudentInfo("S03", "Léa", 0, 16, camera_off=[(8.0, 16.0)])]
    res = compute_windows(_obs(faces), students, duration=16, fps=1)
    assert [r["state"] for r in _rows(res, "S01")] == ["ok", "ok"]
    assert [r["state"] for r in _rows(res, "S02")] == ["insufficient", "absent"]
    assert [r["state"] for r in _rows(res, "S03")] == ["ok", "camera_off"]
    for r in res.rows:
        if r["state"] != "ok":
            # never guessed, never "disengaged"
            assert r["engagement"] != r["engagement"] and "level" not in r
            assert "emotion" not in r
    g = res.group_rows[1]
    assert (g["students_visible"], g["students_camera_off"], g["students_absent"]) == (1, 1, 1)


def test_stat_descriptor_is_mean_std_min_max_of_the_window_features():
    faces = [{"t": float(t), "sid": "S01"} for t in range(8)]
    obs = _obs(faces, dim=5)
    res = compute_windows(obs, [StudentInfo("S01", "Ana", 0, 7)], duration=8, fps=1)
    f = np.asarray(obs.features)
    # Held in float16, the precision window_features.npy is written in.
    assert res.descriptors.dtype == np.float16
    np.testing.assert_allclose(res.descriptors[0].astype(np.float64),
                               np.concatenate([f.mean(0), f.std(0), f.min(0), f.max(0)]),
                               rtol=1e-3, atol=1e-4)
    assert res.group_descriptors.shape == (1, 10)


def test_turned_away_and_closed_eyes_lower_engagement():
    faces = []
    for t in range(8):  # window 1: frontal, eyes open
        faces.append({"t": float(t), "sid": "S01"})
    for t in range(8, 16):  # window 2: head turned 50 degrees, eyes closed
        faces.append({"t": float(t), "sid": "S01", "yaw": 50.0, "ear": 0.12})
    for t in range(16, 24):  # window 3: frontal but eyes closed
        faces.append({"t": float(t), "sid": "S01", "ear": 0.1})
    res = compute_windows(_obs(faces), [StudentInfo("S01", "Ana", 0, 23)], 24, 1)
    e = [r["engagement"] for r in res.rows]
    assert e[1] < e[2] < e[0]
    # Turned away: looked away (its eyes are not judged); frontal with closed eyes: closed.
    assert res.rows[1]["signals"]["looked_away"] == 1 and res.rows[1]["signals"]["attending"] == 0
    assert res.rows[2]["signals"]["eyes_closed"] == 1
    assert [r["level"] for r in res.rows] == [3, 0, 0]


def test_faces_hidden_inside_the_tile_count_as_looking_away():
    faces = [{"t": float(t), "sid": "S01"} for t in range(8)]
    faces += [{"t": float(t), "sid": "S01"} for t in range(8, 16, 2)]  # every other frame
    # 9, 11, 13 and 15: the tile still showed the student (analyze's hidden watch)
    hidden = [(9.0, 9.0), (11.0, 11.0), (13.0, 13.0), (15.0, 15.0)]
    res = compute_windows(_obs(faces), [StudentInfo("S01", "Ana", 0, 15, hidden=hidden)],
                          16, 1)
    assert res.rows[0]["signals"]["face_visible"] == 1.0
    sig = res.rows[1]["signals"]
    assert sig["face_visible"] == 0.5 and sig["looked_away"] == 0.5
    assert res.rows[1]["level"] == 1 < res.rows[0]["level"]
    assert res.rows[1]["engagement"] < res.rows[0]["engagement"]
    # Without that evidence, the missing frames are not judged at all.
    res = compute_windows(_obs(faces), [StudentInfo("S01", "Ana", 0, 15)], 16, 1)
    assert res.rows[1]["signals"]["face_visible"] == 1.0 and res.rows[1]["level"] == 3


def test_strength_is_relative_to_neutral_and_the_students_usual_level():
    faces = [{"t": float(t), "sid": "S01", "emo": "sad"} for t in range(16)]
    faces += [{"t": float(t), "sid": "S01", "emo": "happy"} for t in range(16, 24)]
    faces += [{"t": float(t), "sid": "S01"} for t in range(24, 32)]
    res = compute_windows(_obs(faces), [StudentInfo("S01", "Ana", 0, 31)], 32, 1)
    rows = _rows(res, "S01")
    assert [r["emotion"] for r in rows] == ["sad", "sad", "happy", "neutral"]
    # Sad is this student's usual face: not a strong moment; happy stands out.
    assert rows[0]["strength"] < 0.35 < rows[2]["strength"]
    assert rows[3]["strength"] == 0.0


def test_group_affect_follows_valence():
    happy = [{"t": float(t), "sid": s, "emo": "happy"} for t in range(8) for s in ("S01", "S02")]
    sad = [{"t": float(t), "sid": s, "emo": "sad"} for t in range(8, 16) for s in ("S01", "S02")]
    students = [StudentInfo("S01", "Ana", 0, 15), StudentInfo("S02", "Ben", 0, 15)]
    res = compute_windows(_obs(happy + sad), students, 16, 1)
    assert [g["group_affect"] for g in res.group_rows] == ["positive", "negative"]
    for g in res.group_rows:
        assert sum(g["scores"].values()) == pytest.approx(1.0)
        assert g["students_visible"] == 2
    assert group_scores(0.0)["neutral"] > 0.9


def test_helpers():
    assert valence_of(_probs("happy", 1.0)[None], CLASSES)[0] == pytest.approx(1.0)
    assert [engagement_level(x) for x in (0.05, 0.3, 0.7, 0.95)] == [0, 1, 2, 3]
    assert LEVELS == (0.0, 0.33, 0.66, 1.0)


def test_window_settings_min_share():
    faces = [{"t": float(t), "sid": "S01"} for t in range(0, 8, 2)]  # 4 of 8
    st = [StudentInfo("S01", "Ana", 0, 7)]
    assert compute_windows(_obs(faces), st, 8, 1, WindowSettings(min_share=0.3)).rows[0][
        "state"] == "ok"
    assert compute_windows(_obs(faces), st, 8, 1, WindowSettings(min_share=0.6)).rows[0][
        "state"] == "insufficient"
