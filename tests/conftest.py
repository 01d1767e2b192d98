"""Shared fixtures: small real videos made at test time, and the shared data folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from lecturelens.dev.compose import compose_gallery, data_dir, face_videos
from lecturelens.ingest import ffmpeg_exe


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="session")
def ffmpeg():
    """Run the bundled ffmpeg with the given arguments."""
    return _ffmpeg


@pytest.fixture(scope="session")
def testsrc_video(tmp_path_factory) -> Path:
    """A 5 s, 10 fps H.264 test pattern (no faces)."""
    path = tmp_path_factory.mktemp("videos") / "testsrc.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=5", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="session")
def astronaut_gallery(tmp_path_factory) -> Path:
    """A 2x2 gallery of the (animated) astronaut photo: real faces with no data folder."""
    path = tmp_path_factory.mktemp("gallery") / "astro_2x2.mp4"
    compose_gallery(path, rows=2, cols=2, duration=4.0, fps=10, width=640, height=360,
                    data_root=Path("/nonexistent"))
    return path


@pytest.fixture(scope="session")
def shared_videos() -> list[Path]:
    """The real face videos of the shared data folder; skip when absent."""
    videos = face_videos()
    if len(videos) < 12:
        pytest.skip(f"needs the 12 face videos in {data_dir() / 'videos'} "
                    "(set LECTURELENS_DATA to the shared data folder)")
    return videos


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


# A hand-made gallery truth for the people evaluation: Ana and Ben on camera in tiles 0 and
# 1 for 10 s, Léa with her camera off in tile 2 the whole time.
PEOPLE_TRUTH = {
    "duration": 10.0,
    "grid": [1, 3],
    "people": [{"person_id": "ana", "name": "Ana García"},
               {"person_id": "ben", "name": "Ben Okafor"},
               {"person_id": "lea", "name": "Léa Dubois"}],
    "segments": [{"start": 0.0, "end": 10.0, "layout": "gallery", "absent": [], "tiles": [
        {"tile": 0, "rect": [0, 0, 100, 100], "video_rect": [0, 0, 100, 100],
         "person": "ana", "name": "Ana García", "camera": "on"},
        {"tile": 1, "rect": [110, 0, 100, 100], "video_rect": [110, 0, 100, 100],
         "person": "ben", "name": "Ben Okafor", "camera": "on"},
        {"tile": 2, "rect": [220, 0, 100, 100], "video_rect": None,
         "person": "lea", "name": "Léa Dubois", "camera": "off"}]}],
}


def _write_people_report(dest: Path, faces: list[tuple], students: list[tuple]) -> Path:
    """A report folder with ``observations.csv`` (faces: ``(t, track_id, student_id, tile
    x offset)``, a 40 px face in the middle of the tile) and ``students.csv``
    (``(student_id, name)`` or ``(student_id, name, ocr_name)``; without it the name is
    what was read)."""
    import csv

    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "observations.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "frame", "track_id", "student_id", "x1", "y1", "x2", "y2"])
        for t, tid, sid, x in faces:
            w.writerow([f"{t:.3f}", int(t), tid, sid, x + 30, 30, x + 70, 70])
    with open(dest / "students.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "name", "name_confidence", "ocr_name", "on_roster",
                    "seconds_visible", "seconds_camera_off", "first_seen", "last_seen",
                    "tracks_merged", "tracks"])
        for sid, name, *ocr in students:
            w.writerow([sid, name, "0.900", ocr[0] if ocr else name, "", "10.0", "0.0",
                        "0.000", "9.000", 1, ""])
    return dest


@pytest.fixture(scope="session")
def write_people_report():
    """The function that writes a synthetic people report (see its docstring)."""
    return _write_people_report


@pytest.fixture
def people_truth() -> dict:
    import copy

    return copy.deepcopy(PEOPLE_TRUTH)


@pytest.fixture
def people_report(tmp_path) -> Path:
    """A perfect report on :data:`PEOPLE_TRUTH`: Ben's face in two tracks, one student."""
    faces = [(float(t), 1, "S01", 0) for t in range(10)]
    faces += [(float(t), 2 if t < 5 else 3, "S02", 110) for t in range(10)]
    return _write_people_report(tmp_path / "report", faces,
                               [("S01", "Ana García"), ("S02", "Ben Okafor"),
                                ("S03", "Léa Dubois")])


def _inside(inner, outer, tol=0):
    x1, y1, x2, y2 = inner
    ox, oy, ow, oh = outer
    return x1 >= ox - tol and y1 >= oy - tol and x2 <= ox + ow + tol and y2 <= oy + oh + tol


def _overlaps(a, rect):
    x1, y1, x2, y2 = a
    ox, oy, ow, oh = rect
    return x1 < ox + ow and x2 > ox and y1 < oy + oh and y2 > oy


def _check_gifs_against_truth(dest, truth, gap_tolerance=6):
    """Every GIF opens, and its crop lies in its student's tile and in no other tile."""
    import csv

    from PIL import Image

    def rows(path):
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    gifs = rows(dest / "gifs.csv")
    students = {s["student_id"]: s["name"] for s in rows(dest / "students.csv")}
    for g in gifs:
        path = dest / g["path"]
        with Image.open(path) as im:
            assert im.format == "GIF" and im.n_frames >= 3
            for k in range(im.n_frames):
                im.seek(k)
                im.convert("RGB")
        crop = [int(v) for v in g["crop"].split()]
        t = (float(g["start"]) + float(g["end"])) / 2
        seg = next(s for s in truth["segments"] if s["start"] <= t < s["end"])
        name = students[g["student_id"]]
        mine = [tl for tl in seg["tiles"] if tl["name"] == name]
        assert mine, (name, seg["tiles"])
        assert _inside(crop, mine[0]["rect"], tol=gap_tolerance), (crop, mine[0]["rect"])
        for tl in seg["tiles"]:
            if tl is not mine[0]:
                assert not _overlaps(crop, tl["rect"]), (name, crop, tl)
    return gifs


@pytest.fixture(scope="session")
def check_gifs():
    """Check a report's GIFs against the gallery truth (see its docstring)."""
    return _check_gifs_against_truth
