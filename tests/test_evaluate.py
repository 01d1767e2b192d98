"""evaluate_detection on truths with camera-off tiles, absences and a screen share."""

import csv
import json
from pathlib import Path

import pytest

from lecturelens.compose import compose_gallery, tile_at
from lecturelens.evaluate import evaluate_detection


@pytest.fixture(scope="module")
def hard_truth(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("eval") / "g.mp4"
    return compose_gallery(out, rows=2, cols=2, duration=6.0, fps=2, width=320, height=180,
                           data_root=Path("/nonexistent"), camera_off=[(0, 0.0, 2.5)],
                           absent=[(1, 1.5, 3.5)], screen_share=[(4.0, 5.0)], strip_tiles=2)


def _report(tmp_path: Path, truth: dict, times: list[float], sampled: int, extra=()) -> Path:
    """A report with one face at the centre of every camera-on tile at each time."""
    rows, ids = [], {}
    for t in times:
        for tile in tile_at(truth, t):
            if tile["video_rect"] is None:
                continue
            x, y, w, h = tile["video_rect"]
            track = ids.setdefault(tile["person"], len(ids))
            rows.append({"t": t, "frame": int(t * 2), "track_id": track,
                         "x1": x + w / 4, "y1": y + h / 4, "x2": x + 3 * w / 4,
                         "y2": y + 3 * h / 4})
    rows += list(extra)
    with open(tmp_path / "observations.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["t", "frame", "track_id", "x1", "y1", "x2", "y2"])
        w.writeheader()
        w.writerows(rows)
    (tmp_path / "run.json").write_text(json.dumps({"frames_sampled": sampled,
                                                   "config": {"fps": 1.0}}))
    return tmp_path


def test_camera_off_tiles_are_not_misses(tmp_path, hard_truth):
    times = [float(t) for t in range(6)]
    ev = evaluate_detection(_report(tmp_path, hard_truth, times, 6), hard_truth)
    assert ev["frames"] == 6 and ev["recall"] == 1.0 and ev["missed"] == []
    assert ev["false_positives"] == 0
    counts = [sum(t["video_rect"] is not None for t in tile_at(hard_truth, s)) for s in times]
    assert counts == [3, 3, 2, 3, 2, 4]  # off, off, off+absent, absent, 2-tile strip, all back


def test_face_in_camera_off_tile_is_a_false_positive(tmp_path, hard_truth):
    off = next(t for t in tile_at(hard_truth, 0.0) if t["camera"] == "off")
    x, y, w, h = off["rect"]
    extra = [{"t": 0.0, "frame": 0, "track_id": 5000, "x1": x + 10, "y1": y + 10,
              "x2": x + 30, "y2": y + 30}]
    ev = evaluate_detection(_report(tmp_path, hard_truth, [0.0, 1.0], 2, extra), hard_truth)
    assert ev["false_positives"] == 1 and ev["recall"] == 1.0


def test_empty_frames_count_their_own_segment_tiles(tmp_path, hard_truth):
    # nothing found at 2 s (2 camera-on tiles) and 4 s (2 strip tiles)
    ev = evaluate_detection(_report(tmp_path, hard_truth, [0.0, 1.0, 3.0, 5.0], 6),
                            hard_truth)
    assert ev["frames"] == 6
    assert sorted({t for t, _ in ev["missed"]}) == [2.0, 4.0] and len(ev["missed"]) == 4
    assert ev["recall"] == pytest.approx(13 / 17)
