"""The engagement rubric: per-frame classes, shares of time, levels, looked away vs gone,
and (with the dev data) the levels of labelled webcam frames tiled into a gallery."""

from __future__ import annotations

import random

import numpy as np
import pytest

from lecturelens import rubric
from lecturelens.dev.compose import data_dir
from lecturelens.windows import (LEVEL_NAMES, LEVELS, Observations, StudentInfo,
                                 compute_windows, engagement_level)


def _obs(faces: list[dict]) -> Observations:
    """Observations from dicts with t, sid and optional yaw, pitch, ear, x (tile offset)."""
    n = len(faces)
    box = np.array([[f.get("x", 0) + 30, 30, f.get("x", 0) + 90, 100] for f in faces], float)
    return Observations(
        t=np.array([f["t"] for f in faces], float), frame=np.arange(n),
        track_id=np.ones(n, int), student_id=np.array([f["sid"] for f in faces], object),
        box=box, usable=np.ones(n, bool),
        yaw=np.array([f.get("yaw", 0.0) for f in faces], float),
        pitch=np.array([f.get("pitch", 5.0) for f in faces], float),
        ear=np.array([f.get("ear", 0.3) for f in faces], float),
        probs=np.zeros((n, 0), np.float32), classes=(), features=None)


def _levels(faces, duration, students=None, fps=1.0):
    students = students or [StudentInfo("S01", "Ana", 0, duration - 1)]
    res = compute_windows(_obs(faces), students, duration, fps)
    return res, [r.get("level") for r in res.rows if r["student_id"] == "S01"]


def test_levels_follow_the_share_of_time_attending():
    # 8-s windows at 1 fps: 8, 6, 3 and 1 of 8 frames facing the screen, the rest turned 50
    # degrees aside (looking away).
    faces = []
    for w, on in enumerate((8, 6, 3, 1)):
        faces += [{"t": 8.0 * w + k, "sid": "S01", "yaw": 0.0 if k < on else 50.0}
                  for k in range(8)]
    res, levels = _levels(faces, 32)
    assert levels == [3, 2, 1, 0]
    for r, on in zip(res.rows, (8, 6, 3, 1)):
        sig = r["signals"]
        assert sig["attending"] == pytest.approx(on / 8)
        assert sig["looked_away"] == pytest.approx(1 - on / 8)
        assert sig["eyes_closed"] == 0 and sig["head_down"] == 0
        assert sig["face_visible"] == 1.0
        # the number and the level agree: its nearest paper level is the rubric's level
        assert engagement_level(r["engagement"]) == r["level"]
    e = [r["engagement"] for r in res.rows]
    assert e == sorted(e, reverse=True)
    assert LEVEL_NAMES == ("very low", "low", "high", "very high")


def test_head_down_and_up_leave_the_screen():
    faces = [{"t": float(k), "sid": "S01", "pitch": 40.0} for k in range(8)]  # desk, phone
    faces += [{"t": 8.0 + k, "sid": "S01", "pitch": -35.0} for k in range(8)]  # leaning back
    res, levels = _levels(faces, 16)
    assert levels == [0, 0]
    assert res.rows[0]["signals"]["head_down"] == 1.0
    assert res.rows[1]["signals"]["looked_away"] == 1.0


def test_a_blink_is_not_a_closure_and_a_long_closure_is_very_low():
    def window(w, closed):
        return [{"t": 8.0 * w + k, "sid": "S01", "ear": 0.1 if k in closed else 0.3}
                for k in range(8)]

    faces = (window(0, {3}) + window(1, {3, 4}) + window(2, {2, 3, 4}) + window(3, set())
             + window(4, {2, 3, 4, 5}))
    res, levels = _levels(faces, 40)
    sig = [r["signals"] for r in res.rows]
    assert sig[0]["eyes_closed"] == 0 and levels[0] == 3  # one closed frame: a blink
    assert sig[1]["eyes_closed"] == pytest.approx(0.25) and levels[1] == 2
    assert sig[2]["longest_closure"] == 2.0 and levels[2] == 2  # closed 2-4 s
    assert levels[3] == 3
    assert sig[4]["longest_closure"] == 3.0 and levels[4] == 0  # 3 s at least: microsleep


def test_sustained_needs_consecutive_samples():
    t = np.array([0, 1, 2, 4, 5, 10], float)
    closed = np.array([1, 1, 0, 1, 0, 1], bool)
    keep, secs = rubric.sustained(t, closed, fps=1.0)
    assert keep.tolist() == [True, True, False, False, False, False]
    assert secs.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # A single closed frame still closed at the second look, half a second later: a closure.
    keep, secs = rubric.sustained(t, closed, 1.0, closed_next=np.array([0, 0, 0, 1, 0, 0], bool))
    assert keep.tolist() == [True, True, False, True, False, False]
    assert secs[3] == rubric.FOLLOW_UP_SECONDS
    # Sampled 4 times a second, two closed frames 0.25 s apart can still be a blink.
    keep, _ = rubric.sustained(np.array([0, 0.25, 0.5, 0.75]), np.array([1, 1, 0, 0], bool), 4)
    assert not keep.any()


def test_eyes_are_judged_against_the_students_own_open_eyes():
    # Narrow eyes (EAR 0.18 open) over four minutes: their own baseline, not "closed".
    narrow = rubric.student_baseline(np.zeros(240), np.zeros(240), np.full(240, 0.18))
    assert narrow.closed_ear < 0.15
    cls, _ = rubric.classify(np.zeros(3), np.zeros(3), np.array([0.18, 0.17, 0.1]), narrow)
    assert cls.tolist() == [rubric.ATTENDING, rubric.ATTENDING, rubric.CLOSED]
    # Eight frames of nearly closed eyes say little: the typical face decides.
    few = rubric.student_baseline(np.zeros(8), np.zeros(8), np.full(8, 0.16))
    cls, _ = rubric.classify(np.zeros(1), np.zeros(1), np.array([0.16]), few)
    assert cls[0] == rubric.CLOSED
    assert rubric.student_baseline([], [], []).closed_ear == pytest.approx(0.2)


def test_usual_head_direction_is_bounded_and_needs_time():
    # A webcam beside the screen: the student always faces 35 degrees away from it.
    side = rubric.student_baseline(np.full(1800, 35.0), np.zeros(1800), np.full(1800, 0.3))
    assert side.yaw == pytest.approx(rubric.MAX_HEAD_OFFSET, abs=1.0)
    cls, _ = rubric.classify(np.array([35.0]), np.zeros(1), np.full(1, 0.3), side)
    assert cls[0] == rubric.ATTENDING
    # A still of someone looking 35 degrees away is looking away.
    still = rubric.student_baseline(np.full(8, 35.0), np.zeros(8), np.full(8, 0.3))
    assert abs(still.yaw) < 1
    cls, _ = rubric.classify(np.array([35.0]), np.zeros(1), np.full(1, 0.3), still)
    assert cls[0] == rubric.AWAY


def test_face_hidden_inside_its_tile_is_looked_away_not_absent():
    def seen(sid, times, x=0):
        return [{"t": float(t), "sid": sid, "x": x} for t in times]

    # Everyone is seen in 0-7 and 16-23; in 8-15 only S04 is.
    faces = (seen("S01", [*range(8), *range(16, 24)]) + seen("S02", range(8), x=200)
             + seen("S04", range(24), x=800) + seen("S05", range(8), x=1200)
             + seen("S06", range(8), x=1600))
    faces.sort(key=lambda f: f["t"])
    students = [StudentInfo("S01", "Ana", 0, 23, hidden=[(8.0, 15.0)]),  # turned away
                StudentInfo("S02", "Ben", 0, 7),  # left: no tile was watched
                StudentInfo("S04", "Dan", 0, 23),
                StudentInfo("S05", "Eva", 0, 7, camera_off=[(8.0, 24.0)],
                            hidden=[(8.0, 9.0)]),  # camera off wins over a short watch
                StudentInfo("S06", "Fay", 0, 7, hidden=[(8.0, 11.0)])]  # 4 of 8: too few
    res = compute_windows(_obs(faces), students, 24, 1.0)
    state = {r["student_id"]: r["state"] for r in res.rows if r["start"] == 8.0}
    assert state == {"S01": "looked_away", "S02": "absent", "S04": "ok",
                     "S05": "camera_off", "S06": "looked_away"}
    row = next(r for r in res.rows if r["student_id"] == "S01" and r["start"] == 8.0)
    assert row["level"] == 0 and row["engagement"] == row["engagement"]
    assert row["signals"]["looked_away"] == 1.0 and row["signals"]["face_visible"] == 0.0
    for r in res.rows:
        if r["state"] in ("absent", "camera_off", "insufficient"):
            assert "level" not in r and r["engagement"] != r["engagement"]
    g = next(g for g in res.group_rows if g["start"] == 8.0)
    assert g["students_looked_away"] == 2 and g["students_absent"] == 1


def test_hidden_samples_exclude_sightings_and_camera_off():
    seen = np.array([0.0, 1.0, 5.0])
    assert rubric.vanished_times(seen, [(2.0, 4.0)], 1.0).tolist() == [2.0, 3.0, 4.0]
    # two tracks' watches overlapping, and one sample when another track saw the face
    assert rubric.vanished_times(seen, [(2.0, 3.0), (3.0, 5.0)], 1.0).tolist() == [2, 3, 4]
    assert rubric.vanished_times(seen, [(2.0, 4.0)], 1.0, camera_off=[(2.5, 3.5)]).tolist() \
        == [2.0, 4.0]
    assert len(rubric.vanished_times(seen, [], 1.0)) == 0


def test_hidden_watch_follows_a_tile_until_its_picture_changes():
    from lecturelens.detect import Face
    from lecturelens.track import HiddenWatch, Tracker, appearance_signature

    rng = np.random.default_rng(0)
    scene = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)  # a person's tile: colourful
    box = np.array([60.0, 30, 110, 90])

    def face():
        f = Face(box=box.copy(), landmarks=np.zeros((5, 2)), prob=1.0)
        f.signature = appearance_signature(scene, f.box)
        return f

    turned = scene.copy()
    turned[40:80, 70:100] = turned[40:80, 70:100][:, ::-1]  # the head turned: same colours
    dark = np.full_like(scene, 35)  # camera off
    tracker, watch = Tracker(), HiddenWatch()
    for t, rgb, faces in [(0.0, scene, [face()]), (1.0, turned, []), (2.0, turned, []),
                          (3.0, scene, [face()]), (4.0, turned, []), (5.0, dark, []),
                          (6.0, turned, [])]:
        ids = tracker.update(t, faces)
        watch.update(t, rgb, tracker, faces, ids)
    assert watch.intervals(1, fps=1.0) == [(1.0, 2.0), (4.0, 4.0)]
    # a face at the watched place ends the watch (someone else's tile now), as does time
    watch2 = HiddenWatch(max_gap=1.5)
    tracker2 = Tracker()
    for t in (0.0, 1.0, 2.0, 3.0):
        faces = [face()] if t == 0 else []
        watch2.update(t, turned if t else scene, tracker2, faces, tracker2.update(t, faces))
    assert watch2.intervals(1, fps=1.0) == [(1.0, 1.0)]


def test_score_bands_keep_level_and_rank_within_it():
    for level in range(4):
        scores = [rubric.rubric_score(level, q) for q in (0.0, 0.3, 1.0, float("nan"))]
        assert all(engagement_level(s) == level for s in scores)
        assert scores[0] < scores[1] < scores[2]
    assert rubric.rubric_score(0, 1.0) < rubric.rubric_score(1, 0.0)


def test_relative_view_flags_only_outliers_far_below_the_class():
    flat = {f"S{i}": 0.9 + 0.01 * i for i in range(6)}
    assert not any(v["far_below"] for v in rubric.relative_to_class(flat).values())
    rel = rubric.relative_to_class({**flat, "S9": 0.2, "S8": float("nan")})
    assert rel["S9"]["far_below"] and "S8" not in rel
    assert rel["S9"]["vs_class"] == pytest.approx(0.2 - np.median([*flat.values(), 0.2]))
    assert rubric.relative_to_class({"a": 0.1, "b": 0.9}) == {}


def test_rubric_text_names_every_level():
    lines = rubric.describe()
    assert [ln.split(":")[0] for ln in lines] == list(reversed(LEVEL_NAMES))
    assert len(LEVELS) == len(rubric.RUBRIC) == 4


# --- real faces: labelled webcam frames tiled 2x2 ------------------------------------------

ENGAGEMENT_DATA = data_dir() / "engagement"


def _bench():
    import sys
    from pathlib import Path

    bench = str(Path(__file__).resolve().parents[1] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import engagement_eval

    return engagement_eval


@pytest.fixture(scope="module")
def dev_tiles():
    """Six engaged and six looking-away dev frames in three 2x2 galleries, through the
    detector, head pose and eye model (no emotion model: the rubric does not need it)."""
    if not (ENGAGEMENT_DATA / "engaged").is_dir():
        pytest.skip(f"needs the labelled frames in {ENGAGEMENT_DATA} (set LECTURELENS_DATA)")
    rng = random.Random(1)
    frames = []
    for label in ("engaged", "looking_away"):
        # Frames as recorded, not the upstream augmentations (flips, noise, black boxes).
        paths = sorted(p for p in (ENGAGEMENT_DATA / label).glob("*.jpg")
                       if "_aug" not in p.name)
        frames += [(label, p) for p in rng.sample(paths, 6)]
    return _bench().evaluate_frames(frames, emotion_model="none")


def test_dev_frames_engaged_high_and_looking_away_low(dev_tiles):
    summary = _bench().summarise(dev_tiles)
    eng = summary["labels"]["engaged"]
    away = summary["labels"]["looking_away"]
    assert eng["faces"] == 6 and away["faces"] >= 5
    assert eng["mean_level"] >= 0.66, summary
    assert away["mean_level"] <= 0.40, summary
    assert summary["auc"] >= 0.9, summary


def test_frames_bring_a_second_look_half_a_second_later(testsrc_video):
    from lecturelens.ingest import iter_frames, probe

    info = probe(testsrc_video)  # 5 s at 10 fps
    plain = [(f.t, f.index) for f in iter_frames(info, fps=1.0)]
    frames = list(iter_frames(info, fps=1.0, follow=rubric.FOLLOW_UP_SECONDS))
    assert [(f.t, f.index) for f in frames] == plain  # the same samples
    assert all(f.follow is not None and f.follow.shape == f.rgb.shape for f in frames[:-1])
    assert not np.array_equal(frames[0].follow, frames[0].rgb)  # a later picture
    # Samples as close as the second look: nothing in between to look at.
    assert all(f.follow is None for f in iter_frames(info, fps=2.0, follow=0.5))
