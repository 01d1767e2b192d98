import csv
import json

import numpy as np
import pytest

from lecturelens.dev.compose import compose_gallery, load_truth
from lecturelens.config import AnalyzeConfig
from lecturelens.errors import InputError
from lecturelens.dev.evaluate import evaluate_detection, evaluate_people
from lecturelens.people import name_similarity
from lecturelens.pipeline import analyze
from lecturelens.reportfiles import (OBSERVATION_COLUMNS, STUDENT_COLUMNS,
                                     STUDENT_EMBEDDINGS as STUDENT_EMBEDDINGS_FILE,
                                     STUDENT_REPORT_COLUMNS, TRACK_COLUMNS)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_astronaut_gallery_end_to_end(tmp_path, astronaut_gallery):
    record = analyze(astronaut_gallery, tmp_path, AnalyzeConfig(fps=2.0), progress=False)
    dest = tmp_path / "astro_2x2"
    assert record["status"] == "ok" and record["frames_sampled"] == 8
    run = json.loads((dest / "run.json").read_text())
    assert run == json.loads(json.dumps(record, default=str))
    assert run["models"][0]["name"] == "mtcnn" and len(run["models"][0]["files"]) == 3
    models = {m["task"]: m for m in run["models"]}
    assert list(models) == ["face-detection", "face-identity", "name-ocr", "face-landmarks",
                            "emotion"]
    assert models["face-identity"]["name"] == "dlib-resnet"
    assert models["face-identity"]["embedding_dim"] == 128
    assert {"probe", "load_models", "decode", "detect", "track", "write"} <= set(run["timings"])
    assert run["input"]["width"] == 640 and run["versions"]["torch"]

    obs = _rows(dest / "observations.csv")
    classes = models["emotion"]["classes"]
    assert list(obs[0]) == OBSERVATION_COLUMNS + ["emotion"] + [f"p_{c}" for c in classes]
    assert len(obs) == 8 * 4
    for r in obs:
        probs = [float(r[f"p_{c}"]) for c in classes]
        assert abs(sum(probs) - 1) < 0.01 and r["emotion"] == classes[probs.index(max(probs))]
    # the smiling astronaut reads as happy in most frames
    assert sum(r["emotion"] == "happy" for r in obs) > len(obs) / 2
    feats = np.load(dest / "emotion_features.npy")
    assert feats.shape == (len(obs), models["emotion"]["feature_dim"])
    assert feats.dtype == np.float16 and np.isfinite(feats).all()
    tracks = _rows(dest / "tracks.csv")
    assert list(tracks[0]) == TRACK_COLUMNS
    assert len(tracks) == 4 and all(t["frames"] == "8" for t in tracks)
    assert all(float(t["seconds_visible"]) == 4.0 for t in tracks)

    # who is who: four people (one face, mirrored or not, but four names side by side)
    students = _rows(dest / "students.csv")
    assert list(students[0]) == STUDENT_COLUMNS + STUDENT_REPORT_COLUMNS
    assert [s["student_id"] for s in students] == ["S01", "S02", "S03", "S04"]
    assert record["students"] == record["students_named"] == 4
    truth = load_truth(astronaut_gallery)
    read = sorted(s["name"] for s in students)
    assert all(name_similarity(a, b) >= 85
               for a, b in zip(read, sorted(p["name"] for p in truth["people"]))), read
    assert {r["student_id"] for r in obs} == {s["student_id"] for s in students}
    assert {t["student_id"] for t in tracks} == {s["student_id"] for s in students}
    emb = np.load(dest / STUDENT_EMBEDDINGS_FILE)
    assert emb.shape == (4, 128) and np.isfinite(emb).all()
    assert run["outputs"][:6] == ["observations.csv", "emotion_features.npy", "tracks.csv",
                                  "students.csv", STUDENT_EMBEDDINGS_FILE, "run.json"]
    assert {"windows.csv", "group.csv", "timeline.png", "report.html"} <= set(run["outputs"])
    # head pose and eyes of every face
    assert all(abs(float(r["yaw"])) < 30 and float(r["ear"]) > 0.15 for r in obs)

    ev = evaluate_detection(dest, load_truth(astronaut_gallery))
    assert ev["recall"] == 1.0 and ev["false_positives"] == 0
    assert set(ev["tracks_per_tile_segment"].values()) == {1}


def test_video_without_faces(tmp_path, testsrc_video):
    record = analyze(testsrc_video, tmp_path, progress=False)
    assert record["faces_detected"] == 0 and record["tracks"] == 0
    assert _rows(tmp_path / "testsrc" / "observations.csv") == []
    assert np.load(tmp_path / "testsrc" / "emotion_features.npy").shape[0] == 0


def test_emotion_can_be_switched_off(tmp_path, astronaut_gallery):
    record = analyze(astronaut_gallery, tmp_path, AnalyzeConfig(emotion_model="none"),
                     progress=False)
    dest = tmp_path / "astro_2x2"
    assert list(_rows(dest / "observations.csv")[0]) == OBSERVATION_COLUMNS
    assert not (dest / "emotion_features.npy").exists()
    assert [m["task"] for m in record["models"]] == ["face-detection", "face-identity",
                                                      "name-ocr", "face-landmarks"]
    # engagement still comes from the face signals; no emotion, no GIFs
    windows = _rows(dest / "windows.csv")
    assert windows and all(w["emotion"] == "" and w["engagement"] for w in windows)
    assert record["reports"]["gifs"] == 0


def test_truncated_while_decoding_marks_run_failed_and_leaves_no_csv(tmp_path, ffmpeg):
    full = tmp_path / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=20", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(full))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    with pytest.raises(InputError, match="truncated"):
        analyze(cut, tmp_path / "r", progress=False)
    dest = tmp_path / "r" / "cut"
    run = json.loads((dest / "run.json").read_text())
    assert run["status"] == "failed" and "truncated" in run["error"]
    assert sorted(p.name for p in dest.iterdir()) == ["run.json"]


def test_failed_rerun_keeps_previous_complete_reports(tmp_path, astronaut_gallery, monkeypatch):
    analyze(astronaut_gallery, tmp_path, progress=False)
    dest = tmp_path / "astro_2x2"
    before = (dest / "observations.csv").read_text()

    import lecturelens.pipeline as pl

    def boom(*a, **k):
        raise RuntimeError("detector crashed")

    monkeypatch.setattr(pl.FaceDetector, "detect", boom)
    with pytest.raises(RuntimeError):
        analyze(astronaut_gallery, tmp_path, progress=False)
    assert (dest / "observations.csv").read_text() == before
    assert json.loads((dest / "run.json").read_text())["status"] == "failed"
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def test_memory_of_frame_stream_does_not_grow_with_length(tmp_path, ffmpeg):
    import tracemalloc

    from lecturelens.ingest import iter_frames, probe

    peaks = []
    for seconds in (5, 40):
        p = tmp_path / f"v{seconds}.mp4"
        ffmpeg("-f", "lavfi", "-i", f"testsrc=size=640x360:rate=25:duration={seconds}",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(p))
        tracemalloc.start()
        n = sum(1 for _ in iter_frames(probe(p), fps=2.0))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert n == 2 * seconds
    assert peaks[1] < 1.5 * peaks[0] + 1_000_000


@pytest.mark.slow
def test_real_faces_3x4_gallery_every_face_every_frame_one_track_per_tile(tmp_path,
                                                                          shared_videos,
                                                                          check_gifs):
    video = tmp_path / "class_3x4.mp4"
    compose_gallery(video, rows=3, cols=4, duration=24.0, fps=25, reshuffle=[12.0], seed=1)
    record = analyze(video, tmp_path / "r", AnalyzeConfig(gifs="all"), progress=False)
    assert record["frames_sampled"] == 24
    ev = evaluate_detection(tmp_path / "r" / "class_3x4", load_truth(video))
    assert ev["frames"] == 24
    assert ev["missed"] == [] and ev["recall"] == 1.0
    assert ev["false_positives"] == 0
    assert set(ev["tracks_per_tile_segment"].values()) == {1}
    assert set(ev["tiles_per_track"].values()) == {1}
    assert set(ev["people_per_track"].values()) == {1}
    # The reports a teacher opens: every GIF valid, showing its student's tile only.
    dest = tmp_path / "r" / "class_3x4"
    gifs = check_gifs(dest, load_truth(video))
    assert len(gifs) >= 3 and record["reports"]["gifs"] == len(gifs)
    html = (dest / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/gif;base64,") == len(gifs)
    windows = _rows(dest / "windows.csv")
    assert len(windows) == 12 * 3 and all(w["state"] == "ok" for w in windows)


@pytest.mark.slow
def test_hard_case_gallery_who_is_who(tmp_path, shared_videos):
    """Camera off, leave and rejoin, two reshuffles and a screen share: still 12 students,
    each face given to the right one, under the right name."""
    video = tmp_path / "hard_3x4.mp4"
    truth = compose_gallery(video, rows=3, cols=4, duration=30.0, fps=10, width=1280,
                            height=720, scenario="hard", seed=0)
    assert {e["type"] for e in truth["events"]} == {"reshuffle", "camera_off", "absent",
                                                   "screen_share"}
    # emotion is switched off: it has no say in who is who, and it halves the run time
    record = analyze(video, tmp_path / "r", AnalyzeConfig(fps=1.0, emotion_model="none",
                                                          window=5.0), progress=False)
    dest = tmp_path / "r" / "hard_3x4"
    ev = evaluate_people(dest, truth)
    detail = {k: v for k, v in ev.items() if k != "people"}
    detail["wrong"] = {p: v for p, v in ev["people"].items() if not v["exact"]}
    assert ev["ari"] >= 0.95, detail
    assert ev["students_found"] == ev["students_true"] == 12, detail
    assert ev["exact_names"] >= 0.95, detail

    students = _rows(dest / "students.csv")
    assert list(students[0]) == STUDENT_COLUMNS + STUDENT_REPORT_COLUMNS
    assert [s["student_id"] for s in students] == [f"S{i:02d}" for i in range(1, 13)]
    assert record["students"] == 12
    obs = _rows(dest / "observations.csv")
    assert obs and all(r["student_id"] for r in obs)
    assert {r["student_id"] for r in obs} <= {s["student_id"] for s in students}
    assert all(t["student_id"] for t in _rows(dest / "tracks.csv"))
    # the person whose camera is off from the start was still counted as off
    assert sum(float(s["seconds_camera_off"]) > 0 for s in students) >= 2
    assert np.load(dest / STUDENT_EMBEDDINGS_FILE).shape == (12, 128)
    # Camera-off and absent windows are their own states, never "disengaged": the student
    # whose camera is off from the start, and the one who leaves for about 8 s.
    windows = _rows(dest / "windows.csv")
    events = {e["type"]: e for e in truth["events"]
              if e.get("start") == 0.0 or e["type"] == "absent"}
    off = [w for w in windows if w["state"] == "camera_off"]
    assert any(w["name"] == events["camera_off"]["name"] and w["start"] == "0.0" for w in off)
    gone = [w for w in windows if w["state"] == "absent"]
    assert any(w["name"] == events["absent"]["name"] for w in gone), gone
    assert all(w["engagement"] == "" and w["level"] == "" for w in off + gone)
    assert {w["state"] for w in windows} <= {"ok", "looked_away", "insufficient",
                                             "camera_off", "absent"}
