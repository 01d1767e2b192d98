import json

import cv2
import numpy as np
import pytest

from lecturelens.compose import compose_gallery, grid_rects, load_truth, tile_at, truth_path
from lecturelens.ingest import probe


def test_grid_rects_fit_and_do_not_overlap():
    rects = grid_rects(3, 4, 1280, 720)
    assert len(rects) == 12
    for x, y, w, h in rects:
        assert 0 <= x and x + w <= 1280 and 0 <= y and y + h <= 720
        assert w / h == pytest.approx(16 / 9, rel=0.02)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or \
                a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


def test_astronaut_fallback_video_and_truth(tmp_path):
    out = tmp_path / "g.mp4"
    truth = compose_gallery(out, rows=2, cols=3, duration=3.0, fps=10, width=640, height=360,
                            reshuffle=[1.5], seed=3, data_root=tmp_path / "no-data")
    info = probe(out)
    assert (info.width, info.height, info.codec) == (640, 360, "h264")
    assert info.duration == pytest.approx(3.0, abs=0.15)
    assert json.loads(truth_path(out).read_text()) == load_truth(out) == truth
    assert truth["source"] == "astronaut" and len(truth["people"]) == 6
    s0, s1 = truth["segments"]
    assert (s0["start"], s0["end"], s1["start"], s1["end"]) == (0.0, 1.5, 1.5, 3.0)
    assert [t["person"] for t in s0["tiles"]] != [t["person"] for t in s1["tiles"]]
    assert sorted(t["person"] for t in s0["tiles"]) == sorted(t["person"] for t in s1["tiles"])
    assert [t["tile"] for t in tile_at(truth, 2.0)] == list(range(6))
    assert next(tile_at(truth, 2.0))["person"] == s1["tiles"][0]["person"]
    assert not list(tmp_path.glob(".*partial*"))


def test_name_label_is_white_on_dark_at_bottom_left(tmp_path):
    out = tmp_path / "g.mp4"
    truth = compose_gallery(out, rows=1, cols=2, duration=1.0, fps=5, width=640, height=360,
                            data_root=tmp_path / "no-data")
    ok, bgr = cv2.VideoCapture(str(out)).read()
    assert ok
    x, y, w, h = truth["segments"][0]["tiles"][0]["rect"]
    label = bgr[y + int(h * 0.8):y + h, x:x + w // 2]
    assert (label.min(axis=2) > 200).sum() > 20  # white text pixels
    top_right = bgr[y:y + h // 5, x + w - w // 8:x + w]
    assert top_right.max() < 80  # dark tile background


def test_uses_real_face_videos_when_present(tmp_path, shared_videos):
    out = tmp_path / "real.mp4"
    truth = compose_gallery(out, rows=1, cols=2, duration=1.0, fps=5, width=640, height=360)
    assert truth["source"] == "videos"
    assert [p["source"] for p in truth["people"]] == [v.name for v in shared_videos[:2]]


def test_needs_enough_names(tmp_path):
    with pytest.raises(ValueError, match="names"):
        compose_gallery(tmp_path / "x.mp4", rows=2, cols=2, duration=1, names=["A", "B"])
